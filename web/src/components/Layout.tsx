import { useEffect } from 'react';
import { NavLink, Outlet } from 'react-router-dom';
import { useLogout, usePreferences, useUnreadCounts } from '../api/hooks';
import type { Me } from '../api/types';
import { APP_TITLE, titleWithUnread } from '../lib/desktopNotifications';
import { useNow } from '../lib/useNow';
import { connectionView, type ConnectionView } from '../realtime/connection';
import { quietAt } from '../realtime/preferences';
import { useRealtime } from '../realtime/RealtimeProvider';

const CONNECTION: Record<ConnectionView, { label: string; glyph: string; hint?: string }> = {
  websocket: { label: 'Live', glyph: '●' },
  // As live as the socket; named apart so someone whose network blocks
  // WebSocket can see that it does, and that nothing is lost by it.
  streaming: {
    label: 'Live (streaming)',
    glyph: '●',
    hint: 'WebSocket is blocked on this network, so updates come over HTTP streaming',
  },
  reconnecting: { label: 'Reconnecting…', glyph: '◌' },
  offline: { label: 'Offline', glyph: '○' },
};

function ConnectionIndicator() {
  const { status, transport } = useRealtime();
  const view = connectionView(status, transport);
  const { label, glyph, hint } = CONNECTION[view];
  return (
    <span className={`connection connection-${view}`} role="status" title={hint}>
      <span aria-hidden="true">{glyph}</span> <span className="sr-only">Connection: </span>
      {label}
    </span>
  );
}

/** Says when quiet hours are in force; follows changes made in other tabs or the CLI at once. */
function QuietHoursIndicator() {
  const preferences = usePreferences();
  const now = useNow(30_000);
  const quiet = preferences.data?.quietHours;
  if (!quiet || !quietAt(quiet, now)) return null;
  return (
    <NavLink
      to="/settings"
      className="quiet-indicator"
      title={`Until ${quiet.end} (${quiet.timezone}), notifications are kept but do not pop up`}
    >
      Quiet hours
    </NavLink>
  );
}

function OfflineBanner() {
  const { status, pollSeconds } = useRealtime();
  // The connection indicator already announces the change; this says what it means.
  // Streaming is live, not polling: no banner then.
  if (status !== 'offline') return null;
  return <p className="offline-banner">Offline: updating every {pollSeconds} s</p>;
}

/** The tab's title counts what the badge counts, so a background tab shows it too. */
function useUnreadTitle(total: number): void {
  useEffect(() => {
    document.title = titleWithUnread(APP_TITLE, total);
    return () => {
      document.title = APP_TITLE;
    };
  }, [total]);
}

function UnreadBadge() {
  const counts = useUnreadCounts();
  const total = counts.data?.total ?? 0;
  useUnreadTitle(total);
  const label = counts.data ? `Notifications, ${total} unread` : 'Notifications';
  return (
    <NavLink to="/notifications" className="nav-link" aria-label={label}>
      <span aria-hidden="true">Notifications</span>
      {total > 0 && (
        <span className="count-badge" aria-hidden="true">
          {total > 99 ? '99+' : total}
        </span>
      )}
    </NavLink>
  );
}

export function Layout({ me }: { me: Me }) {
  const logout = useLogout();
  return (
    <>
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="site-header">
        <div className="header-top">
          <NavLink to="/" className="brand" end>
            Solo Realtime
          </NavLink>
          <ConnectionIndicator />
          <QuietHoursIndicator />
          <div className="user-box">
            <span className="user-name" title={me.name}>
              {me.displayName || me.name}
            </span>
            <button type="button" className="button button-quiet" onClick={() => logout.mutate()} disabled={logout.isPending}>
              Sign out
            </button>
          </div>
        </div>
        <nav aria-label="Main">
          <ul className="nav-list">
            <li>
              <NavLink to="/" end className="nav-link">
                Launchpad
              </NavLink>
            </li>
            <li>
              <NavLink to="/board" className="nav-link">
                Board
              </NavLink>
            </li>
            <li>
              <NavLink to="/workstations" className="nav-link">
                Workstations
              </NavLink>
            </li>
            <li>
              <NavLink to="/community" className="nav-link">
                Community
              </NavLink>
            </li>
            <li>
              <UnreadBadge />
            </li>
            <li>
              <NavLink to="/settings" className="nav-link">
                Settings
              </NavLink>
            </li>
          </ul>
        </nav>
      </header>
      <OfflineBanner />
      <main id="main" tabIndex={-1}>
        <Outlet />
      </main>
    </>
  );
}
