// Without the realtime endpoints (WebSocket and the HTTP streams it falls back
// to) the UI says it is offline and polls; when the socket comes back the
// banner goes and nothing shows twice.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { browserFixture } from './fixture.mjs';
import { connectionStatus, navigate, toasts, waitForBadge, waitForLive } from './harness.mjs';

// The browser talks to the server only through the proxy.
const e2e = browserFixture({ env: { SOLO_POLL_INTERVAL_SECS: '2' }, proxy: true });

test('realtime endpoint down: offline banner, notification by polling; back: banner gone, no duplicate', { timeout: 120_000 }, async () => {
  const { solo, proxy } = e2e;
  const { context, page } = await e2e.openAs('ada');
  await navigate(page, /^Notifications/);
  await page.getByRole('heading', { name: 'Notifications', level: 1 }).waitFor();
  await page.getByText('No notifications.').waitFor();
  await waitForLive(page);
  await waitForBadge(page, 0);
  assert.equal(proxy.websocketCount, 1, 'one socket for the tab');
  const banner = page.locator('.offline-banner');
  assert.equal(await banner.count(), 0);

  // The socket is cut and cannot come back, nor can a stream take its place.
  proxy.block();
  await banner.waitFor();
  assert.equal(await banner.innerText(), 'Offline: updating every 2 s');
  assert.match(await connectionStatus(page), /Offline$/);

  // A notification created meanwhile shows up by polling, within 20 s.
  const title = 'Deploy finished while you were away';
  const created = Date.now();
  const notification = await solo.api('ada', 'POST', '/api/notifications', {
    userId: solo.users.ada.id,
    category: 'workstations',
    title,
  });
  const item = page.locator('li.notification').filter({ hasText: title });
  await item.waitFor({ timeout: 20_000 });
  await waitForBadge(page, 1);
  const took = Date.now() - created;
  assert.ok(took < 20_000, `shown after ${took} ms`);
  assert.ok(proxy.blocked && proxy.websocketCount === 0, 'it came without a socket');
  assert.equal(proxy.count('http_stream') + proxy.count('sse'), 0, 'and without a stream');
  assert.equal(await banner.count(), 1, 'still offline');

  // The socket is allowed back: live again, the banner goes.
  proxy.unblock();
  await waitForLive(page, 40_000);
  await banner.waitFor({ state: 'detached' });
  assert.equal(proxy.websocketCount, 1);

  // A push after the reconnection proves the socket works again...
  const backTitle = 'Back online check';
  await solo.api('ada', 'POST', '/api/notifications', { userId: solo.users.ada.id, category: 'community', title: backTitle });
  await toasts(page, backTitle).first().waitFor();
  assert.equal(await toasts(page, backTitle).count(), 1, 'one toast');
  await page.locator('li.notification').filter({ hasText: backTitle }).waitFor();
  await waitForBadge(page, 2);

  // ...and the notification that came by polling is listed once.
  assert.equal(await item.count(), 1, 'listed once');
  assert.equal(await page.locator('li.notification').count(), 2);
  const ids = await page.locator('li.notification .notification-title').allInnerTexts();
  assert.deepEqual(ids.sort(), [backTitle, title].sort());
  const fromServer = await solo.api('ada', 'GET', '/api/notifications/unread-count');
  assert.equal(fromServer.total, 2);
  assert.ok(notification.id);
  // A toast, if any, is shown once per notification.
  assert.ok((await toasts(page, title).count()) <= 1);

  // Every tab came to the same view: a reload shows the same list.
  await page.reload();
  await page.locator('li.notification').filter({ hasText: backTitle }).waitFor();
  assert.equal(await page.locator('li.notification').count(), 2);
  await waitForBadge(page, 2);
  await context.close();
});
