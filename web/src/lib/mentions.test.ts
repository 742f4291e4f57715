import { describe, expect, it } from 'vitest';
import { mentionedNames, mentionSegments } from './mentions';

describe('mentions', () => {
  it('finds the names the server finds', () => {
    // The server's own example: e-mail addresses are not mentions, trailing dots go.
    expect(mentionedNames('hi @ada and @bo. (@cy) email@x')).toEqual(['ada', 'bo', 'cy']);
  });

  it('cuts a body into text and mentions that join back into it', () => {
    const body = 'Thanks @ada, and @bo... see you (@cy)!';
    const segments = mentionSegments(body);
    expect(segments.map((s) => s.text).join('')).toBe(body);
    expect(segments).toEqual([
      { kind: 'text', text: 'Thanks ' },
      { kind: 'mention', name: 'ada', text: '@ada' },
      { kind: 'text', text: ', and ' },
      { kind: 'mention', name: 'bo', text: '@bo' },
      { kind: 'text', text: '... see you (' },
      { kind: 'mention', name: 'cy', text: '@cy' },
      { kind: 'text', text: ')!' },
    ]);
  });

  it('leaves a lone @ and a body without mentions as text', () => {
    expect(mentionSegments('meet @ noon')).toEqual([{ kind: 'text', text: 'meet @ noon' }]);
    expect(mentionSegments('')).toEqual([]);
  });

  it('lists a name mentioned twice once', () => {
    expect(mentionedNames('@ada @ada. @bo')).toEqual(['ada', 'bo']);
  });
});
