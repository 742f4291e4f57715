// Snooze and done: an item snoozed or marked done in one tab leaves the inbox
// of another tab at once (and its badge), the Snoozed and Done views list
// them, and a snooze that ends brings the item back unread with a fresh toast.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { browserFixture } from './fixture.mjs';
import { navigate, signIn, toasts, waitForBadge, waitForLive, waitUntil } from './harness.mjs';

const e2e = browserFixture({
  async seed(solo) {
    for (const title of ['Deploy finished', 'Review requested', 'Weekly digest']) {
      await solo.api('ada', 'POST', '/api/notifications', { userId: solo.users.ada.id, category: 'system', title });
    }
  },
});

async function titles(page) {
  await page.locator('.notification-list, p.muted:text-matches("^(No|Nothing)")').first().waitFor();
  return page.locator('li.notification .notification-title').allInnerTexts();
}

async function openView(page, label) {
  await page.getByRole('group', { name: 'View' }).getByRole('button', { name: label, exact: true }).click();
  await waitUntil(`the ${label} view`, async () =>
    (await page.getByRole('group', { name: 'View' }).getByRole('button', { name: label, exact: true }).getAttribute('aria-pressed')) === 'true');
}

async function waitForTitles(page, expected, what) {
  let seen;
  await waitUntil(what, async () => {
    seen = await titles(page);
    return JSON.stringify([...seen].sort()) === JSON.stringify([...expected].sort());
  }).catch((error) => {
    throw new Error(`${error.message}; shown: ${JSON.stringify(seen)}`);
  });
}

test('snooze and done move items out of the inbox in every tab; a woken snooze comes back with a toast', { timeout: 180_000 }, async () => {
  const { solo } = e2e;
  const context = await e2e.newContext();
  const tabA = await e2e.newPage(context);
  await signIn(tabA, e2e.base, 'ada');
  const tabB = await e2e.newPage(context);
  await tabB.goto(`${e2e.base}/notifications`);
  await navigate(tabA, /^Notifications/);
  for (const page of [tabA, tabB]) {
    await waitForLive(page);
    await waitForBadge(page, 3);
  }
  await waitForTitles(tabB, ['Deploy finished', 'Review requested', 'Weekly digest'], 'tab B to list all three');

  // Tab A snoozes one for an hour and marks another done.
  await tabA.getByLabel('Snooze: Weekly digest').selectOption('1h');
  await tabA.getByRole('button', { name: 'Done: Deploy finished' }).click();
  await waitForTitles(tabB, ['Review requested'], 'tab B to drop both at once');
  await waitForBadge(tabB, 1);

  await openView(tabB, 'Snoozed');
  await waitForTitles(tabB, ['Weekly digest'], 'the Snoozed view');
  assert.match(await tabB.locator('li.notification').first().innerText(), /Snoozed until/);
  await openView(tabB, 'Done');
  await waitForTitles(tabB, ['Deploy finished'], 'the Done view');

  // Back from Done, from tab B: tab A lists it again, read.
  await tabB.getByRole('button', { name: 'Move to inbox: Deploy finished' }).click();
  await waitForTitles(tabA, ['Deploy finished', 'Review requested'], 'tab A to list it again');
  await waitForBadge(tabA, 1);

  // A snooze that ends while the tabs are open: back unread, with a fresh toast.
  const [review] = (await solo.api('ada', 'GET', '/api/notifications')).items.filter((n) => n.title === 'Review requested');
  const until = new Date(Date.now() + 2_000).toISOString();
  await solo.api('ada', 'POST', `/api/notifications/${review.id}/snooze`, { until });
  await waitForTitles(tabA, ['Deploy finished'], 'tab A to drop the snoozed one');
  await waitForBadge(tabA, 0);
  await toasts(tabA, 'Review requested').first().waitFor({ timeout: 20_000 });
  await waitForTitles(tabA, ['Deploy finished', 'Review requested'], 'the woken one back in tab A');
  await waitForBadge(tabA, 1);
  await context.close();
});
