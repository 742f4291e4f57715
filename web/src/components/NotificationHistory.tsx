import { useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { api } from '../api/client';
import { keys } from '../api/keys';
import type { EventEnvelope, Notification } from '../api/types';
import { RelativeTime } from './RelativeTime';

interface History {
  notificationId: string;
  items: EventEnvelope[];
}

/** One source event of a notification in a few words. */
export function describeSource(env: EventEnvelope): string {
  switch (env.type) {
    case 'mission.stage_changed':
      return `moved from ${env.data.from} to ${env.data.to}`;
    case 'review.decided':
      return `review: ${env.data.decision.replace('_', ' ')}${env.data.comment ? ` — ${env.data.comment}` : ''}`;
    case 'fallback.generated':
      return `fallback: ${env.data.reason}`;
    case 'workstation.status_changed':
      return `${env.data.from} → ${env.data.to}`;
    default:
      return env.type;
  }
}

/** "updated ×N" on a superseded notification, opening what it replaced, oldest first. */
export function NotificationHistory({ n }: { n: Notification }) {
  const [open, setOpen] = useState(false);
  // Keyed by version: a later update is a new history.
  const history = useQuery({
    queryKey: keys.notificationHistory(n.id, n.version),
    queryFn: ({ signal }) => api.get<History>(`/api/notifications/${encodeURIComponent(n.id)}/history`, signal),
    enabled: open,
  });
  return (
    <div className="notification-history">
      <button
        type="button"
        className="link-button small"
        aria-expanded={open}
        onClick={() => setOpen(!open)}
        aria-label={`History: ${n.title}, updated ${n.updates} times`}
      >
        updated ×{n.updates}
      </button>
      {open && (
        <ol className="muted small">
          {history.isPending && <li>Loading…</li>}
          {history.isError && <li role="alert">Could not load the history.</li>}
          {history.data?.items.map((env) => (
            <li key={env.id}>
              <RelativeTime iso={env.ts} tick={15000} /> {describeSource(env)}
            </li>
          ))}
        </ol>
      )}
    </div>
  );
}
