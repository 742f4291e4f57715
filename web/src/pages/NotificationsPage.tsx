import { Link, useSearchParams } from 'react-router-dom';
import {
  useMoveNotification,
  useNotifications,
  usePreferences,
  useReadAll,
  useSetMissionRule,
  useSetRead,
  useUnreadCounts,
} from '../api/hooks';
import type { Category, Notification } from '../api/types';
import { QueryState } from '../components/QueryState';
import { NotificationHistory } from '../components/NotificationHistory';
import { RelativeTime } from '../components/RelativeTime';
import { WhyThis } from '../components/WhyThis';
import { shownIn, type InboxFilter, type InboxView } from '../realtime/applyEvent';
import { missionOfLink, missionRuleOf } from '../realtime/preferences';

const TABS: { id: Category | null; label: string }[] = [
  { id: null, label: 'All' },
  { id: 'missions', label: 'Missions' },
  { id: 'workstations', label: 'Workstations' },
  { id: 'community', label: 'Community' },
  { id: 'system', label: 'System' },
];

const VIEWS: { id: InboxView; label: string }[] = [
  { id: 'inbox', label: 'Inbox' },
  { id: 'snoozed', label: 'Snoozed' },
  { id: 'done', label: 'Done' },
];

/** When a snooze chosen now ends: in an hour, in four, or tomorrow at 9:00 local time. */
export function snoozeUntil(choice: string, now: Date = new Date()): string | null {
  if (choice === '1h' || choice === '4h') return new Date(now.getTime() + Number(choice[0]) * 3_600_000).toISOString();
  if (choice === 'tomorrow') {
    const at = new Date(now);
    at.setDate(at.getDate() + 1);
    at.setHours(9, 0, 0, 0);
    return at.toISOString();
  }
  return null;
}

const SEVERITY_LABEL = { info: null, warning: '▲ Warning', urgent: '‼ Urgent' } as const;

function NotificationItem({ n }: { n: Notification }) {
  const setRead = useSetRead();
  const move = useMoveNotification();
  const prefs = usePreferences();
  const setRule = useSetMissionRule();
  const missionId = missionOfLink(n.link);
  const muted = missionRuleOf(prefs.data, missionId) !== null;
  const unread = n.readAt === null;
  const severity = SEVERITY_LABEL[n.severity];
  const markRead = () => {
    if (unread) setRead.mutate({ id: n.id, read: true });
  };
  const title = !n.link ? (
    n.title
  ) : n.link.startsWith('/') ? (
    <Link to={n.link} onClick={markRead}>
      {n.title}
    </Link>
  ) : (
    <a href={n.link} onClick={markRead} rel="noreferrer noopener" target="_blank">
      {n.title}
    </a>
  );

  return (
    <li className={`card notification${unread ? ' unread' : ''} severity-${n.severity}`}>
      <div className="notification-head">
        {unread ? (
          <span className="unread-mark">
            <span aria-hidden="true">●</span> Unread
          </span>
        ) : (
          <span className="read-mark muted">Read</span>
        )}
        {severity && <span className={`badge sev-${n.severity}`}>{severity}</span>}
        <span className="muted small">{n.category}</span>
        <span className="muted small">
          <RelativeTime iso={n.createdAt} tick={15000} />
        </span>
      </div>
      <h2 className="notification-title">{title}</h2>
      {n.body && <p className="notification-body">{n.body}</p>}
      {n.updates > 0 && <NotificationHistory n={n} />}
      <WhyThis id={n.id} title={n.title} />
      <div className="card-actions">
        <button
          type="button"
          className="button"
          disabled={setRead.isPending}
          onClick={() => setRead.mutate({ id: n.id, read: unread })}
          aria-label={`${unread ? 'Mark read' : 'Mark unread'}: ${n.title}`}
        >
          {unread ? 'Mark read' : 'Mark unread'}
        </button>
        {missionId && (
          <button
            type="button"
            className="button"
            disabled={setRule.isPending}
            onClick={() => setRule.mutate({ missionId, rule: muted ? null : 'mute' })}
            aria-label={`${muted ? 'Unmute' : 'Mute'} mission: ${n.title}`}
          >
            {muted ? 'Unmute mission' : 'Mute mission'}
          </button>
        )}
        {n.snoozedUntil ? (
          <>
            <span className="muted small">
              Snoozed until {new Date(n.snoozedUntil).toLocaleString()}
            </span>
            <button
              type="button"
              className="button"
              disabled={move.isPending}
              onClick={() => move.mutate({ id: n.id, to: 'wake' })}
              aria-label={`Wake now: ${n.title}`}
            >
              Wake now
            </button>
          </>
        ) : n.doneAt ? (
          <button
            type="button"
            className="button"
            disabled={move.isPending}
            onClick={() => move.mutate({ id: n.id, to: 'undone' })}
            aria-label={`Move to inbox: ${n.title}`}
          >
            Move to inbox
          </button>
        ) : (
          <>
            <select
              className="button"
              value=""
              disabled={move.isPending}
              aria-label={`Snooze: ${n.title}`}
              onChange={(e) => {
                const until = snoozeUntil(e.target.value);
                if (until) move.mutate({ id: n.id, to: 'snooze', until });
              }}
            >
              <option value="">Snooze…</option>
              <option value="1h">for 1 hour</option>
              <option value="4h">for 4 hours</option>
              <option value="tomorrow">until tomorrow 9:00</option>
            </select>
            <button
              type="button"
              className="button"
              disabled={move.isPending}
              onClick={() => move.mutate({ id: n.id, to: 'done' })}
              aria-label={`Done: ${n.title}`}
            >
              Done
            </button>
          </>
        )}
      </div>
    </li>
  );
}

export function NotificationsPage() {
  const [params, setParams] = useSearchParams();
  const rawCategory = params.get('category');
  const category = (TABS.find((t) => t.id === rawCategory)?.id ?? null) as Category | null;
  const unreadOnly = params.get('unread') === '1';
  const view = VIEWS.find((v) => v.id === params.get('view'))?.id ?? 'inbox';
  const filter: InboxFilter = { category, unreadOnly, view };

  const notifications = useNotifications(filter);
  const counts = useUnreadCounts();
  const readAll = useReadAll();

  const items = shownIn(notifications.data, filter);
  // The newest notification shown: those that arrive later stay unread.
  const newest = items.reduce<Notification | null>(
    (best, n) => (!best || Date.parse(n.createdAt) > Date.parse(best.createdAt) ? n : best),
    null,
  );

  const update = (next: Partial<InboxFilter>) => {
    const merged = { ...filter, ...next };
    const search = new URLSearchParams();
    if (merged.category) search.set('category', merged.category);
    if (merged.unreadOnly) search.set('unread', '1');
    if (merged.view && merged.view !== 'inbox') search.set('view', merged.view);
    setParams(search, { replace: true });
  };

  const unreadIn = (id: Category | null) =>
    counts.data ? (id ? counts.data.byCategory[id] : counts.data.total) : undefined;

  return (
    <section className="page" aria-labelledby="inbox-title">
      <h1 id="inbox-title">Notifications</h1>
      <div className="toolbar">
        <div className="tabs" role="group" aria-label="View">
          {VIEWS.map((v) => (
            <button key={v.id} type="button" className="tab" aria-pressed={v.id === view} onClick={() => update({ view: v.id })}>
              {v.label}
            </button>
          ))}
        </div>
        <div className="tabs" role="group" aria-label="Category">
          {TABS.map((tab) => {
            const unread = unreadIn(tab.id);
            return (
              <button
                key={tab.label}
                type="button"
                className="tab"
                aria-pressed={tab.id === category}
                onClick={() => update({ category: tab.id })}
              >
                {tab.label}
                {unread ? (
                  <span className="count-badge">
                    {unread}
                    <span className="sr-only"> unread</span>
                  </span>
                ) : null}
              </button>
            );
          })}
        </div>
        <label className="check">
          <input type="checkbox" checked={unreadOnly} onChange={(e) => update({ unreadOnly: e.target.checked })} />
          Unread only
        </label>
        <button
          type="button"
          className="button"
          disabled={!newest || readAll.isPending}
          onClick={() =>
            newest && readAll.mutate({ watermark: newest.createdAt, ...(category ? { category } : {}) })
          }
        >
          Mark all read
        </button>
      </div>

      <QueryState query={notifications}>
        {() =>
          items.length === 0 ? (
            <p className="muted">
              {view === 'snoozed'
                ? 'Nothing snoozed.'
                : view === 'done'
                  ? 'Nothing done yet.'
                  : unreadOnly
                    ? 'No unread notifications.'
                    : 'No notifications.'}
            </p>
          ) : (
            <>
              <ul className="notification-list">
                {items.map((n) => (
                  <NotificationItem key={n.id} n={n} />
                ))}
              </ul>
              {notifications.hasNextPage && (
                <button
                  type="button"
                  className="button load-more"
                  onClick={() => void notifications.fetchNextPage()}
                  disabled={notifications.isFetchingNextPage}
                >
                  {notifications.isFetchingNextPage ? 'Loading…' : 'Load more'}
                </button>
              )}
              {notifications.isFetchNextPageError && (
                <p className="form-error" role="alert">
                  Could not load more notifications. Try again.
                </p>
              )}
            </>
          )
        }
      </QueryState>
    </section>
  );
}
