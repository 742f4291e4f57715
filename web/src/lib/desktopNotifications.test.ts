import { describe, expect, it } from 'vitest';
import {
  desktopSetting,
  desktopTarget,
  shouldShowDesktopNotification,
  titleWithUnread,
  type DesktopPermission,
} from './desktopNotifications';

describe('titleWithUnread', () => {
  it('puts the unread count in front of the title, as the badge shows it', () => {
    expect(titleWithUnread('Solo Realtime', 3)).toBe('(3) Solo Realtime');
    expect(titleWithUnread('Solo Realtime', 99)).toBe('(99) Solo Realtime');
    expect(titleWithUnread('Solo Realtime', 100)).toBe('(99+) Solo Realtime');
  });

  it('leaves the title plain with nothing unread', () => {
    expect(titleWithUnread('Solo Realtime', 0)).toBe('Solo Realtime');
    expect(titleWithUnread('Solo Realtime', -1)).toBe('Solo Realtime');
    expect(titleWithUnread('Solo Realtime', Number.NaN)).toBe('Solo Realtime');
  });
});

describe('shouldShowDesktopNotification', () => {
  const shown = { hidden: true, optedIn: true, permission: 'granted' as DesktopPermission, quiet: false };

  it('shows one for a hidden tab, opted in, with permission, outside quiet hours', () => {
    expect(shouldShowDesktopNotification(shown)).toBe(true);
  });

  it('shows none while the tab is visible: it has its toast', () => {
    expect(shouldShowDesktopNotification({ ...shown, hidden: false })).toBe(false);
  });

  it('shows none for a quiet notification', () => {
    expect(shouldShowDesktopNotification({ ...shown, quiet: true })).toBe(false);
  });

  it('shows none without the opt-in, even when the browser allows it', () => {
    expect(shouldShowDesktopNotification({ ...shown, optedIn: false })).toBe(false);
  });

  it('shows none unless the browser granted permission', () => {
    for (const permission of ['default', 'denied', 'unsupported'] as const) {
      expect(shouldShowDesktopNotification({ ...shown, permission })).toBe(false);
    }
  });
});

describe('desktopSetting', () => {
  it('is on only when opted in and granted', () => {
    expect(desktopSetting('granted', true)).toBe('on');
    expect(desktopSetting('granted', false)).toBe('off');
    // Opted in before, but the browser forgot its answer: asking again turns it on.
    expect(desktopSetting('default', true)).toBe('off');
    expect(desktopSetting('default', false)).toBe('off');
  });

  it('says when the browser cannot or will not show them, whatever the opt-in', () => {
    expect(desktopSetting('denied', true)).toBe('denied');
    expect(desktopSetting('denied', false)).toBe('denied');
    expect(desktopSetting('unsupported', true)).toBe('unsupported');
  });
});

describe('desktopTarget', () => {
  it('opens a path of the app in the app', () => {
    expect(desktopTarget('/missions/m_1')).toEqual({ kind: 'route', path: '/missions/m_1' });
    expect(desktopTarget('/community#p_2')).toEqual({ kind: 'route', path: '/community#p_2' });
  });

  it('opens an http(s) address as it is', () => {
    expect(desktopTarget('https://ci.example.com/runs/7')).toEqual({ kind: 'external', url: 'https://ci.example.com/runs/7' });
  });

  it('opens the inbox without a link, or with one that is neither', () => {
    expect(desktopTarget(null)).toEqual({ kind: 'route', path: '/notifications' });
    expect(desktopTarget('')).toEqual({ kind: 'route', path: '/notifications' });
    expect(desktopTarget('//elsewhere.example/x')).toEqual({ kind: 'route', path: '/notifications' });
    expect(desktopTarget('javascript:alert(1)')).toEqual({ kind: 'route', path: '/notifications' });
    expect(desktopTarget('https://')).toEqual({ kind: 'route', path: '/notifications' });
  });
});
