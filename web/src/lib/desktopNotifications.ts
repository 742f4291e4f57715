/**
 * Desktop notifications and the unread count in the tab title. The decisions
 * are pure functions; the few calls into the browser (the Notification API,
 * localStorage) are kept apart below them and never throw.
 */

/** The tab's title with nothing unread (as in `index.html`). */
export const APP_TITLE = 'Solo Realtime';
/** Where this browser remembers that its person opted in (per browser, not per account). */
export const DESKTOP_OPT_IN_KEY = 'solo.desktopNotifications';
/** Where a desktop notification without a link leads. */
export const INBOX_PATH = '/notifications';

/** What the browser allows, or `unsupported` when it has no Notification API. */
export type DesktopPermission = NotificationPermission | 'unsupported';

/** What the settings card shows. */
export type DesktopSetting = 'unsupported' | 'denied' | 'on' | 'off';

/** `(3) Solo Realtime` while something is unread, like the badge (`99+` above 99); the plain title otherwise. */
export function titleWithUnread(base: string, count: number): string {
  if (!(count > 0)) return base;
  return `(${count > 99 ? '99+' : Math.floor(count)}) ${base}`;
}

/**
 * A pushed notification also goes to the desktop only while the tab is hidden
 * (a visible tab has its toast), the person opted in on this browser, the
 * browser allows it, and it did not arrive during their quiet hours.
 */
export function shouldShowDesktopNotification({
  hidden,
  optedIn,
  permission,
  quiet,
}: {
  hidden: boolean;
  optedIn: boolean;
  permission: DesktopPermission;
  quiet: boolean;
}): boolean {
  return hidden && optedIn && permission === 'granted' && !quiet;
}

/** The settings card's state: the opt-in counts only once the browser allows notifications. */
export function desktopSetting(permission: DesktopPermission, optedIn: boolean): DesktopSetting {
  if (permission === 'unsupported' || permission === 'denied') return permission;
  return optedIn && permission === 'granted' ? 'on' : 'off';
}

/** Where clicking a desktop notification leads: a page of the app, or an address of another site. */
export type DesktopTarget = { kind: 'route'; path: string } | { kind: 'external'; url: string };

/** A notification's link as a target; no link, or one that is neither a path nor http(s), leads to the inbox. */
export function desktopTarget(link: string | null | undefined): DesktopTarget {
  if (link?.startsWith('/') && !link.startsWith('//')) return { kind: 'route', path: link };
  if (link && /^https?:\/\//i.test(link)) {
    try {
      return { kind: 'external', url: new URL(link).href };
    } catch {
      // not a URL after all: the inbox
    }
  }
  return { kind: 'route', path: INBOX_PATH };
}

// ---------------------------------------------------------------- the browser

/** What this browser allows now. */
export function desktopPermission(): DesktopPermission {
  return typeof Notification === 'undefined' ? 'unsupported' : Notification.permission;
}

/** Asks the browser for permission (it shows its prompt); only ever called from the settings toggle. */
export async function requestDesktopPermission(): Promise<DesktopPermission> {
  if (typeof Notification === 'undefined') return 'unsupported';
  try {
    return await Notification.requestPermission();
  } catch {
    return desktopPermission();
  }
}

export function readDesktopOptIn(): boolean {
  try {
    return localStorage.getItem(DESKTOP_OPT_IN_KEY) === 'on';
  } catch {
    return false;
  }
}

export function writeDesktopOptIn(optedIn: boolean): void {
  try {
    if (optedIn) localStorage.setItem(DESKTOP_OPT_IN_KEY, 'on');
    else localStorage.removeItem(DESKTOP_OPT_IN_KEY);
  } catch {
    // storage refused (private mode, quota): the setting lasts as long as the page
  }
}

/** True when the tab is in the background (another tab, minimized window, locked screen). */
export function tabHidden(): boolean {
  return typeof document !== 'undefined' && document.visibilityState === 'hidden';
}

/**
 * Shows a desktop notification; its tag is the notification's id, so a repeat
 * replaces it instead of stacking. A click brings the tab forward and opens
 * `target`. Some browsers (Chrome on Android) only show them from a service
 * worker and throw here: then there is none.
 */
export function showDesktopNotification(
  { id, title, body }: { id: string; title: string; body: string | null },
  onClick: () => void,
): void {
  try {
    const shown = new Notification(title, { body: body ?? undefined, tag: id });
    shown.onclick = (event) => {
      event.preventDefault();
      window.focus();
      shown.close();
      onClick();
    };
  } catch (error) {
    console.warn('could not show a desktop notification', error);
  }
}
