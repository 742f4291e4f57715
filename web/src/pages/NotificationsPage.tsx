import { Link, useSearchParams } from 'react-router-dom';
import { useNotifications, useReadAll, useSetRead, useUnreadCounts } from '../api/hooks';
import type { Category, Notification } from '../api/types';
import { QueryState } from '../components/QueryState';
import { RelativeTime } from '../components/RelativeTime';
import type { InboxFilter } from '../realtime/applyEvent';

const TABS: { id: Category | null; label: string }[] = [
  { id: null, label: 'All' },
  { id: 'missions', label: 'Missions' },
  { id: 'workstations', label: 'Workstations' },
  { id: 'community', label: 'Community' },
  { id: 'system', label: 'System' },
];

const SEVERITY_LABEL = { info: null, warning: '▲ Warning', urgent: '‼ Urgent' } as const;

function NotificationItem({ n }: { n: Notification }) {
  const setRead = useSetRead();
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
      </div>
    </li>
  );
}

export function NotificationsPage() {
  const [params, setParams] = useSearchParams();
  const rawCategory = params.get('category');
  const category = (TABS.find((t) => t.id === rawCategory)?.id ?? null) as Category | null;
  const unreadOnly = params.get('unread') === '1';
  const filter: InboxFilter = { category, unreadOnly };

  const notifications = useNotifications(filter);
  const counts = useUnreadCounts();
  const readAll = useReadAll();

  const all = notifications.data?.pages.flatMap((p) => p.items) ?? [];
  const items = all.filter((n, i) => all.findIndex((m) => m.id === n.id) === i);
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
    setParams(search, { replace: true });
  };

  const unreadIn = (id: Category | null) =>
    counts.data ? (id ? counts.data.byCategory[id] : counts.data.total) : undefined;

  return (
    <section className="page" aria-labelledby="inbox-title">
      <h1 id="inbox-title">Notifications</h1>
      <div className="toolbar">
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
            <p className="muted">{unreadOnly ? 'No unread notifications.' : 'No notifications.'}</p>
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
