// Desktop notifications and the unread count in the tab title: once opted in
// from the settings page (the only place the browser is asked), a notification
// arriving while the tab is hidden also shows on the desktop, and its click
// opens its link; quiet ones and a switched-off toggle show none; the title
// counts unread notifications, live.
//
// Headless Chromium reports every page as visible, whatever is in front (a
// second page, a background target and a minimized window all leave
// `document.visibilityState` at `visible`), so each page gets a switch, set up
// before the app loads, that makes `document.visibilityState` read `hidden` and
// fires `visibilitychange` as a browser does. The Notification API is the real
// one (the context grants the permission), wrapped to record what the app shows
// and how often it asks for permission.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { browserFixture } from './fixture.mjs';
import { navigate, toasts, waitForBadge, waitForLive, waitUntil } from './harness.mjs';

const e2e = browserFixture();
const TITLE = 'Solo Realtime';
const OPT_IN_KEY = 'solo.desktopNotifications';

/** Runs in the page before the app: the visibility switch and the recording Notification. */
function recordDesktop() {
  let hidden = false;
  Object.defineProperty(Document.prototype, 'visibilityState', { configurable: true, get: () => (hidden ? 'hidden' : 'visible') });
  Object.defineProperty(Document.prototype, 'hidden', { configurable: true, get: () => hidden });
  window.__setHidden = (value) => {
    hidden = value;
    document.dispatchEvent(new Event('visibilitychange'));
  };
  const desktop = { shown: [], instances: [], asked: 0 };
  window.__desktop = desktop;
  const Real = window.Notification;
  if (!Real) return;
  class Recorded extends Real {
    constructor(title, options = {}) {
      super(title, options);
      desktop.shown.push({ title, body: options.body ?? null, tag: options.tag ?? null });
      desktop.instances.push(this);
    }
    static requestPermission(...args) {
      desktop.asked += 1;
      return Real.requestPermission(...args);
    }
  }
  window.Notification = Recorded;
}

/** A signed-in page of `user`, in a context of its own, with the browser's permission when `granted`. */
async function openAs(user, { granted }) {
  const { context, page } = await e2e.openAs(user, { permissions: granted ? ['notifications'] : [], init: recordDesktop });
  await waitForLive(page);
  return { context, page };
}

const shown = (page) => page.evaluate(() => window.__desktop.shown);
const asked = (page) => page.evaluate(() => window.__desktop.asked);
const setHidden = (page, hidden) => page.evaluate((h) => window.__setHidden(h), hidden);
const optIn = (page) => page.evaluate((key) => localStorage.getItem(key), OPT_IN_KEY);

async function waitForTitle(page, title) {
  let seen;
  await waitUntil(`the tab title to read ${title}`, async () => (seen = await page.title()) === title).catch((error) => {
    throw new Error(`${error.message}; it reads ${seen}`);
  });
}

async function waitForShown(page, count) {
  let seen = [];
  await waitUntil(`${count} desktop notification(s)`, async () => (seen = await shown(page)).length >= count).catch((error) => {
    throw new Error(`${error.message}; shown: ${JSON.stringify(seen)}`);
  });
  return seen;
}

/** Opens the settings page and flips the desktop toggle to `on`. */
async function setDesktopToggle(page, on) {
  await navigate(page, 'Settings');
  const toggle = page.getByLabel('Show desktop notifications');
  await toggle.waitFor();
  assert.equal(await toggle.isChecked(), !on, 'the toggle starts the other way');
  await toggle.setChecked(on);
  return toggle;
}

function notify(user, fields) {
  const { solo } = e2e;
  return solo.api(user, 'POST', '/api/notifications', { userId: solo.users[user].id, category: 'missions', ...fields });
}

/** `HH:MM` in UTC, `minutes` from now. */
function utcClock(minutes) {
  const at = new Date(Date.now() + minutes * 60_000);
  return `${String(at.getUTCHours()).padStart(2, '0')}:${String(at.getUTCMinutes()).padStart(2, '0')}`;
}

test('opted in, a hidden tab shows each new notification on the desktop; a click opens its link; the title counts unread', { timeout: 120_000 }, async () => {
  const { context, page } = await openAs('ada', { granted: true });
  await waitForBadge(page, 0);
  assert.equal(await page.title(), TITLE, 'nothing unread: the plain title');

  // Hidden but not opted in yet: nothing on the desktop, the toast only.
  await setHidden(page, true);
  const before = await notify('ada', { title: 'Backlog groomed' });
  await toasts(page, before.title).first().waitFor();
  await waitForBadge(page, 1);
  await waitForTitle(page, `(1) ${TITLE}`);
  assert.deepEqual(await shown(page), [], 'no desktop notification before opting in');
  await setHidden(page, false);

  // The browser already allows notifications: turning the toggle on asks nothing more.
  const toggle = await setDesktopToggle(page, true);
  await page.getByText('On: notifications that arrive while this tab is hidden').waitFor();
  assert.equal(await toggle.isChecked(), true);
  assert.equal(await optIn(page), 'on', 'the opt-in is kept by this browser');
  assert.equal(await asked(page), 0, 'never asked for permission');

  await setHidden(page, true);
  const created = await notify('ada', { title: 'Build 42 failed', body: '3 tests failed in web', severity: 'warning', link: '/board' });
  assert.equal(created.quiet, false);
  const [desktop] = await waitForShown(page, 1);
  assert.deepEqual(desktop, { title: created.title, body: created.body, tag: created.id });
  await waitForBadge(page, 2);
  await waitForTitle(page, `(2) ${TITLE}`);

  // A visible tab has its toast, and no desktop notification.
  await setHidden(page, false);
  const visible = await notify('ada', { title: 'Review requested' });
  await toasts(page, visible.title).first().waitFor();
  await waitForBadge(page, 3);
  await waitForTitle(page, `(3) ${TITLE}`);
  assert.equal((await shown(page)).length, 1, 'no desktop notification while the tab is visible');

  // Clicking the desktop notification opens its link in this tab.
  await page.evaluate(() => window.__desktop.instances[0].dispatchEvent(new Event('click')));
  await page.getByRole('heading', { name: 'Board', level: 1 }).waitFor();
  assert.equal(new URL(page.url()).pathname, '/board');

  // The title follows reads: one read elsewhere, then the rest from the inbox.
  await e2e.solo.api('ada', 'POST', `/api/notifications/${created.id}/read`);
  await waitForTitle(page, `(2) ${TITLE}`);
  await navigate(page, /^Notifications/);
  await page.getByRole('heading', { name: 'Notifications', level: 1 }).waitFor();
  await page.locator('li.notification').filter({ hasText: visible.title }).waitFor();
  await page.getByRole('button', { name: 'Mark all read' }).click();
  await waitForBadge(page, 0);
  await waitForTitle(page, TITLE);
  await context.close();
});

test('quiet notifications and a switched-off toggle show nothing on the desktop', { timeout: 120_000 }, async () => {
  const { solo } = e2e;
  const { context, page } = await openAs('ada', { granted: true });
  await waitForBadge(page, 0);
  await setDesktopToggle(page, true);
  await page.getByText('On: notifications that arrive while this tab is hidden').waitFor();

  // Quiet hours around now; urgent notifications still come through.
  const quietHours = { enabled: true, start: utcClock(-60), end: utcClock(60), timezone: 'UTC', allowUrgent: true };
  await solo.api('ada', 'PUT', '/api/me/preferences', { quietHours });
  try {
    await setHidden(page, true);
    const quiet = await notify('ada', { title: 'Nightly report is ready' });
    assert.equal(quiet.quiet, true, 'the server marks it quiet');
    // Published after the quiet one on the same channel: once it shows, the quiet one was handled.
    const urgent = await notify('ada', { title: 'Production is down', severity: 'urgent', category: 'workstations' });
    assert.equal(urgent.quiet, false, 'urgent notifications pass through');
    await waitForShown(page, 1);
    await waitForBadge(page, 2);
    await waitForTitle(page, `(2) ${TITLE}`);
    assert.deepEqual(
      (await shown(page)).map((n) => n.title),
      [urgent.title],
      'no desktop notification for the quiet one',
    );
  } finally {
    await solo.api('ada', 'PUT', '/api/me/preferences', { quietHours: { ...quietHours, enabled: false } });
  }

  // Switched off: the toast still comes, nothing on the desktop.
  await setHidden(page, false);
  const toggle = page.getByLabel('Show desktop notifications');
  await toggle.setChecked(false);
  assert.equal(await optIn(page), null, 'the opt-in is forgotten');
  await setHidden(page, true);
  const off = await notify('ada', { title: 'Deploy finished', severity: 'warning' });
  assert.equal(off.quiet, false);
  await toasts(page, off.title).first().waitFor();
  await waitForBadge(page, 3);
  await waitForTitle(page, `(3) ${TITLE}`);
  assert.equal((await shown(page)).length, 1, 'no desktop notification with the toggle off');
  assert.equal(await asked(page), 0, 'never asked for permission');

  await solo.api('ada', 'POST', '/api/notifications/read-all', {});
  await waitForTitle(page, TITLE);
  await context.close();
});

test('the browser is asked only from the toggle, and a refusal says how to allow notifications again', { timeout: 120_000 }, async () => {
  const { context, page } = await openAs('bo', { granted: false });
  await navigate(page, 'Settings');
  const toggle = page.getByLabel('Show desktop notifications');
  await toggle.waitFor();
  assert.equal(await page.evaluate(() => Notification.permission), 'default');
  assert.equal(await toggle.isChecked(), false);
  assert.equal(await asked(page), 0, 'loading the app and the settings page asks nothing');

  // Headless Chromium answers the prompt with a refusal.
  await toggle.click();
  await page.getByText('This browser blocks notifications from Solo').waitFor();
  assert.equal(await asked(page), 1, 'asked once, from the toggle');
  assert.equal(await toggle.isChecked(), false);
  assert.equal(await toggle.isDisabled(), true, 'nothing to switch while the browser refuses');
  assert.equal(await optIn(page), null);
  await context.close();
});
