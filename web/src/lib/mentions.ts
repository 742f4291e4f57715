/**
 * `@name` mentions in a community post, found the way the server finds them:
 * a word (split at whitespace and `,;:!?()`) that starts with `@`, without the
 * dots that end it.
 */

export type PostSegment = { kind: 'text'; text: string } | { kind: 'mention'; name: string; text: string };

const SEPARATOR = /[\s,;:!?()]/;

/** The body cut into plain text and mentions, in order; joined back, the texts give the body. */
export function mentionSegments(body: string): PostSegment[] {
  const segments: PostSegment[] = [];
  let text = '';
  let i = 0;
  while (i < body.length) {
    const atWordStart = i === 0 || SEPARATOR.test(body[i - 1]);
    if (body[i] === '@' && atWordStart) {
      let end = i + 1;
      while (end < body.length && !SEPARATOR.test(body[end])) end += 1;
      let nameEnd = end;
      while (nameEnd > i + 1 && body[nameEnd - 1] === '.') nameEnd -= 1;
      if (nameEnd > i + 1) {
        if (text) segments.push({ kind: 'text', text });
        segments.push({ kind: 'mention', name: body.slice(i + 1, nameEnd), text: body.slice(i, nameEnd) });
        text = body.slice(nameEnd, end);
        i = end;
        continue;
      }
    }
    text += body[i];
    i += 1;
  }
  if (text) segments.push({ kind: 'text', text });
  return segments;
}

/** The names a body mentions, each once. */
export function mentionedNames(body: string): string[] {
  const names: string[] = [];
  for (const s of mentionSegments(body)) if (s.kind === 'mention' && !names.includes(s.name)) names.push(s.name);
  return names;
}
