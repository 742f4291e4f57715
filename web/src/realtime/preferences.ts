/**
 * The user's preferences as pushed by `preferences.updated` (on their
 * notification channel), and what quiet hours mean at a given instant. Pure
 * functions: the cache glue is in `cache.ts`.
 */
import type { Category, EventEnvelope, MissionRule, Preferences, QuietHours } from '../api/types';

const ON = { toast: true, inbox: true, cli: true };
const ALL_ON = { missions: ON, workstations: ON, community: ON, system: ON };

/** Whether the user lets a category's notifications pop up (toast, desktop notification). */
export function toastsAllowed(prefs: Preferences | undefined, category: Category): boolean {
  return prefs?.surfaces?.[category]?.toast ?? true;
}

/** The preferences a `preferences.updated` event brings, or `held` when the event is not newer. */
export function applyPreferencesEvent(held: Preferences | undefined, env: EventEnvelope): Preferences | undefined {
  if (env.type !== 'preferences.updated') return held;
  if (held && env.version <= held.version) return held;
  return {
    quietHours: env.data.quietHours,
    version: env.version,
    // Older events carried only quiet hours, and only the user's own.
    quietHoursSet: env.data.quietHoursSet ?? true,
    missionRules: env.data.missionRules ?? {},
    surfaces: env.data.surfaces ?? ALL_ON,
  };
}

/** Of the preferences held and an answer of the API, the newer (an event may have overtaken the answer). */
export function newerPreferences(held: Preferences | undefined, incoming: Preferences): Preferences {
  return held && held.version > incoming.version ? held : incoming;
}

function minutesOf(clock: string): number | null {
  const match = /^([01]\d|2[0-3]):([0-5]\d)$/.exec(clock);
  return match ? Number(match[1]) * 60 + Number(match[2]) : null;
}

/** Minutes since midnight at `at` in `timeZone`, or null when the zone is unknown. */
export function minuteOfDay(timeZone: string, at: number): number | null {
  try {
    const parts = new Intl.DateTimeFormat('en-GB', { timeZone, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).formatToParts(at);
    const hour = Number(parts.find((p) => p.type === 'hour')?.value);
    const minute = Number(parts.find((p) => p.type === 'minute')?.value);
    return Number.isFinite(hour) && Number.isFinite(minute) ? (hour % 24) * 60 + minute : null;
  } catch {
    return null;
  }
}

/**
 * Whether quiet hours are in force at `at`, by the server's rule: the start
 * minute is inside the window, the end minute is not, the window may cross
 * midnight, and invalid settings are never quiet.
 */
export function quietAt(quiet: QuietHours, at: number): boolean {
  if (!quiet.enabled) return false;
  const start = minutesOf(quiet.start);
  const end = minutesOf(quiet.end);
  const now = minuteOfDay(quiet.timezone, at);
  if (start === null || end === null || now === null || start === end) return false;
  return start < end ? now >= start && now < end : now >= start || now < end;
}

/** The browser's IANA time zone (e.g. `Europe/Paris`), or null when it does not say. */
export function browserTimeZone(): string | null {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || null;
  } catch {
    return null;
  }
}

/** The user's rule for a mission (`mute`, `urgent_only`), or null when the rules apply. */
export function missionRuleOf(prefs: Preferences | undefined, missionId: string | null): MissionRule | null {
  if (!prefs || !missionId) return null;
  return prefs.missionRules?.[missionId] ?? null;
}

/** The mission a notification's link names (`/missions/m_…`), if any. */
export function missionOfLink(link: string | null): string | null {
  const match = /^\/missions\/(m_[0-9a-f]+)/.exec(link ?? '');
  return match ? match[1] : null;
}
