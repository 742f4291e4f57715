// Supersede: three stage changes of ada's mission by bo make one unread
// notification in ada's inbox (the badge counts one), shown "updated ×2"; it
// opens its history, oldest first. A later change arriving while the inbox is
// open replaces the item in place, live.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { browserFixture } from './fixture.mjs';
import { navigate, waitForBadge, waitForLive, waitUntil } from './harness.mjs';

let missionId;

const e2e = browserFixture({
  async seed(solo) {
    missionId = (await solo.api('ada', 'POST', '/api/missions', { title: 'Atlas' })).id;
    for (const stage of ['spec', 'build']) await solo.api('bo', 'POST', `/api/missions/${missionId}/stage`, { stage });
  },
  signedIn: 'ada',
});

test('later changes of a mission replace its unread notification, with a history', { timeout: 120_000 }, async () => {
  const { page, solo } = e2e;
  await navigate(page, /^Notifications/);
  await waitForLive(page);
  await waitForBadge(page, 1);
  const items = page.locator('li.notification');
  await waitUntil('one item, updated once', async () => (await items.count()) === 1 && (await items.first().innerText()).includes('updated ×1'));
  assert.equal(await page.locator('li.notification .notification-title').first().innerText(), '“Atlas” moved to build');

  // Live: the next change replaces the item in place, and the badge stays at one.
  await solo.api('bo', 'POST', `/api/missions/${missionId}/stage`, { stage: 'review' });
  await waitUntil('the item to show the review', async () =>
    (await page.locator('li.notification .notification-title').first().innerText()) === '“Atlas” moved to review');
  assert.equal(await items.count(), 1);
  await waitForBadge(page, 1);

  await page.getByRole('button', { name: /^History: “Atlas” moved to review, updated 2 times/ }).click();
  const lines = page.locator('.notification-history li');
  await waitUntil('the history', async () => (await lines.count()) === 3);
  const text = await lines.allInnerTexts();
  assert.deepEqual(
    text.map((t) => t.replace(/^.*?moved/, 'moved')),
    ['moved from backlog to spec', 'moved from spec to build', 'moved from build to review'],
  );
});
