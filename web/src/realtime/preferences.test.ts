import { describe, expect, it } from 'vitest';
import type { EventEnvelope, Preferences, QuietHours } from '../api/types';

const ON = { toast: true, inbox: true, cli: true };
const ALL_ON = { missions: ON, workstations: ON, community: ON, system: ON };
import { applyPreferencesEvent, newerPreferences, quietAt } from './preferences';

const window = (patch: Partial<QuietHours> = {}): QuietHours => ({
  enabled: true,
  start: '22:00',
  end: '07:00',
  timezone: 'UTC',
  allowUrgent: true,
  ...patch,
});

function updated(version: number, quietHours: QuietHours): EventEnvelope {
  return {
    id: `01939a7e-0000-7000-8000-${String(version).padStart(12, '0')}`,
    type: 'preferences.updated',
    data: { userId: 'u_1', quietHours, quietHoursSet: true, missionRules: {}, surfaces: ALL_ON },
    version,
    ts: '2026-12-05T05:00:00.000Z',
    traceId: '0'.repeat(32),
    actor: { kind: 'user', id: 'u_1' },
    subject: { kind: 'preferences', id: 'u_1' },
  };
}

describe('preferences.updated', () => {
  const held: Preferences = { quietHours: window({ enabled: false }), version: 2, quietHoursSet: true, missionRules: {}, surfaces: ALL_ON };

  it('takes a newer version and ignores an older or equal one', () => {
    expect(applyPreferencesEvent(held, updated(3, window()))).toEqual({ quietHours: window(), version: 3, quietHoursSet: true, missionRules: {}, surfaces: ALL_ON });
    expect(applyPreferencesEvent(held, updated(2, window()))).toBe(held);
    expect(applyPreferencesEvent(held, updated(1, window()))).toBe(held);
  });

  it('fills a cache that held nothing yet', () => {
    expect(applyPreferencesEvent(undefined, updated(1, window()))).toEqual({ quietHours: window(), version: 1, quietHoursSet: true, missionRules: {}, surfaces: ALL_ON });
  });

  it('keeps pushed preferences newer than an API answer that arrives after them', () => {
    const pushed: Preferences = { quietHours: window(), version: 5, quietHoursSet: true, missionRules: {}, surfaces: ALL_ON };
    expect(newerPreferences(pushed, { quietHours: window({ enabled: false }), version: 4, quietHoursSet: true, missionRules: {}, surfaces: ALL_ON })).toBe(pushed);
    const answer: Preferences = { quietHours: window({ start: '21:00' }), version: 6, quietHoursSet: true, missionRules: {}, surfaces: ALL_ON };
    expect(newerPreferences(pushed, answer)).toBe(answer);
  });
});

describe('quietAt', () => {
  const at = (iso: string) => Date.parse(iso);

  it('follows a window across midnight in its zone, start inside and end outside', () => {
    expect(quietAt(window(), at('2026-12-05T22:00:00Z'))).toBe(true);
    expect(quietAt(window(), at('2026-12-05T06:59:00Z'))).toBe(true);
    expect(quietAt(window(), at('2026-12-05T07:00:00Z'))).toBe(false);
    expect(quietAt(window(), at('2026-12-05T12:00:00Z'))).toBe(false);
    // 22:00 in Paris is 21:00 UTC in winter.
    expect(quietAt(window({ timezone: 'Europe/Paris' }), at('2026-12-05T21:30:00Z'))).toBe(true);
    expect(quietAt(window({ start: '09:00', end: '17:00' }), at('2026-12-05T12:00:00Z'))).toBe(true);
  });

  it('is never quiet when off or invalid', () => {
    expect(quietAt(window({ enabled: false }), at('2026-12-05T23:00:00Z'))).toBe(false);
    expect(quietAt(window({ timezone: 'Nowhere/Land' }), at('2026-12-05T23:00:00Z'))).toBe(false);
    expect(quietAt(window({ start: '25:00' }), at('2026-12-05T23:00:00Z'))).toBe(false);
    expect(quietAt(window({ end: '22:00' }), at('2026-12-05T23:00:00Z'))).toBe(false);
  });
});
