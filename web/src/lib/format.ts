import type { AgentStatus, Stage, WorkstationStatus } from '../api/types';

export const STAGE_LABELS: Record<Stage, string> = {
  backlog: 'Backlog',
  spec: 'Spec',
  build: 'Build',
  review: 'Review',
  done: 'Done',
};

/** Each status has a word and a shape, so it never rests on colour alone. */
export const AGENT_STATUS: Record<AgentStatus, { label: string; glyph: string }> = {
  idle: { label: 'Idle', glyph: '○' },
  working: { label: 'Working', glyph: '▶' },
  waiting_review: { label: 'Waiting for review', glyph: '◆' },
  error: { label: 'Error', glyph: '✕' },
};

export const WORKSTATION_STATUS: Record<WorkstationStatus, { label: string; glyph: string }> = {
  online: { label: 'Online', glyph: '●' },
  degraded: { label: 'Degraded', glyph: '▲' },
  offline: { label: 'Offline', glyph: '○' },
};

/**
 * How an agent's avatar shows that its workstation stopped reporting: its
 * last status may no longer hold. Shapes differ from the agent statuses'.
 */
export const AGENT_AWAY: Record<Exclude<WorkstationStatus, 'online'>, { label: string; glyph: string }> = {
  degraded: { label: 'Workstation degraded', glyph: '▲' },
  offline: { label: 'Workstation offline', glyph: '⊘' },
};

export function initials(name: string): string {
  const parts = name.trim().split(/[\s._-]+/).filter(Boolean);
  if (parts.length === 0) return '?';
  if (parts.length === 1) return parts[0].slice(0, 2).toUpperCase();
  return (parts[0][0] + parts[parts.length - 1][0]).toUpperCase();
}

/** "just now", "12 s ago", "5 min ago", "3 h ago", or a date. */
export function relativeTime(iso: string | null | undefined, now: number): string {
  if (!iso) return 'never';
  const then = Date.parse(iso);
  if (Number.isNaN(then)) return iso;
  const seconds = Math.round((now - then) / 1000);
  if (seconds < 5) return 'just now';
  if (seconds < 60) return `${seconds} s ago`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min ago`;
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return `${hours} h ago`;
  return new Date(then).toLocaleDateString(undefined, { year: 'numeric', month: 'short', day: 'numeric' });
}

export function dateTime(iso: string | null | undefined): string {
  if (!iso) return '—';
  const value = Date.parse(iso);
  return Number.isNaN(value) ? iso : new Date(value).toLocaleString();
}

export function plural(count: number, one: string, many = `${one}s`): string {
  return `${count} ${count === 1 ? one : many}`;
}
