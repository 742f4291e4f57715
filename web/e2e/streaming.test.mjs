// Where WebSocket is refused, the UI connects over HTTP-streaming, or over SSE
// when that is refused too: the header says "Live (streaming)", there is no
// offline banner, and a new notification pops up as it is created.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { browserFixture } from './fixture.mjs';
import { connectionStatus, toasts, waitForBadge, waitForStreaming } from './harness.mjs';

// Polling every ten minutes: whatever shows within seconds came by push.
const e2e = browserFixture({ env: { SOLO_POLL_INTERVAL_SECS: '600' }, proxy: true });

/** Signs `user` in with the transports named refused, and checks the page settles on `expected`. */
async function openStreaming(user, refused, expected) {
  const { proxy } = e2e;
  proxy.unblock();
  proxy.block(refused);
  const { context, page } = await e2e.openAs(user);
  await waitForStreaming(page);
  assert.equal(proxy.websocketCount, 0, 'no socket got through');
  assert.equal(proxy.count(expected), 1, `one ${expected} stream for the tab`);
  const indicator = page.locator('.site-header [role="status"].connection');
  assert.match(await indicator.getAttribute('title'), /WebSocket is blocked.*HTTP streaming/);
  assert.equal(await page.locator('.offline-banner').count(), 0, 'streaming is live: no offline banner');
  return { context, page };
}

/** Creates a notification for `user` over the API; resolves once its toast shows, with how long that took. */
async function notifyAndWaitForToast(page, user, title) {
  const { solo } = e2e;
  const created = Date.now();
  await solo.api(user, 'POST', '/api/notifications', { userId: solo.users[user].id, category: 'workstations', title });
  await toasts(page, title).first().waitFor({ timeout: 10_000 });
  return Date.now() - created;
}

test('WebSocket refused: live over HTTP-streaming, a notification pops up at once', { timeout: 120_000 }, async () => {
  const { context, page } = await openStreaming('ada', ['websocket'], 'http_stream');
  await waitForBadge(page, 0);

  const title = 'Build green over the stream';
  const took = await notifyAndWaitForToast(page, 'ada', title);
  assert.ok(took < 10_000, `toast after ${took} ms`);
  await waitForBadge(page, 1);
  assert.equal(await toasts(page, title).count(), 1, 'one toast');

  // Still streaming, still no banner: nothing fell back to polling meanwhile.
  assert.match(await connectionStatus(page), /Live \(streaming\)$/);
  assert.equal(await page.locator('.offline-banner').count(), 0);
  assert.equal(e2e.proxy.count('http_stream'), 1);
  await context.close();
});

test('WebSocket and HTTP-streaming refused: live over SSE, a notification pops up at once', { timeout: 120_000 }, async () => {
  const { context, page } = await openStreaming('bo', ['websocket', 'http_stream'], 'sse');
  await waitForBadge(page, 0);

  const title = 'Review requested over SSE';
  const took = await notifyAndWaitForToast(page, 'bo', title);
  assert.ok(took < 10_000, `toast after ${took} ms`);
  await waitForBadge(page, 1);
  assert.equal(await toasts(page, title).count(), 1, 'one toast');

  assert.match(await connectionStatus(page), /Live \(streaming\)$/);
  assert.equal(await page.locator('.offline-banner').count(), 0);
  assert.equal(e2e.proxy.count('sse'), 1);
  await context.close();
});
