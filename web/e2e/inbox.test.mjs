// The inbox: category tabs show only their own notifications, and "Mark all
// read" leaves unread what arrived after the page loaded its list.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { browserFixture } from './fixture.mjs';
import { navigate, waitForBadge, waitForLive, waitUntil } from './harness.mjs';

const SEEDED = [
  { category: 'missions', title: 'Mission “Atlas” moved to review' },
  { category: 'missions', title: 'Mission “Boreas” moved to done' },
  { category: 'workstations', title: 'Workstation “forge” is degraded', severity: 'warning' },
  { category: 'community', title: 'bo mentioned you' },
  { category: 'system', title: 'Maintenance window tonight' },
];

const e2e = browserFixture({
  async seed(solo) {
    for (const n of SEEDED) await solo.api('ada', 'POST', '/api/notifications', { userId: solo.users.ada.id, ...n });
  },
  signedIn: 'ada',
});

/** The titles the inbox list shows, once it stops loading. */
async function shownTitles() {
  const { page } = e2e;
  await page.locator('.notification-list, p.muted:text-matches("^No (unread )?notifications")').first().waitFor();
  return page.locator('li.notification .notification-title').allInnerTexts();
}

async function openTab(label, category) {
  const { page } = e2e;
  await page.getByRole('group', { name: 'Category' }).getByRole('button', { name: new RegExp(`^${label}`) }).click();
  await waitUntil(`the ${label} tab to be selected`, async () => {
    const pressed = await page
      .getByRole('group', { name: 'Category' })
      .getByRole('button', { name: new RegExp(`^${label}`) })
      .getAttribute('aria-pressed');
    const url = new URL(page.url());
    return pressed === 'true' && url.searchParams.get('category') === category;
  });
}

function sorted(list) {
  return [...list].sort();
}

test('the category tabs filter the inbox', { timeout: 120_000 }, async () => {
  const { page } = e2e;
  await navigate(page, /^Notifications/);
  await page.getByRole('heading', { name: 'Notifications', level: 1 }).waitFor();
  await waitForBadge(page, SEEDED.length);

  const expectations = [
    ['All', null, SEEDED],
    ['Missions', 'missions', SEEDED.filter((n) => n.category === 'missions')],
    ['Workstations', 'workstations', SEEDED.filter((n) => n.category === 'workstations')],
    ['Community', 'community', SEEDED.filter((n) => n.category === 'community')],
    ['All', null, SEEDED],
  ];
  for (const [label, category, wanted] of expectations) {
    await openTab(label, category);
    const titles = sorted(wanted.map((n) => n.title));
    let shown;
    await waitUntil(`the ${label} tab to list ${titles.length} notifications`, async () => {
      shown = sorted(await shownTitles());
      return JSON.stringify(shown) === JSON.stringify(titles);
    }).catch((error) => {
      throw new Error(`${error.message}; shown: ${JSON.stringify(shown)}`);
    });
    // Every item shown is of the tab's category.
    if (category) {
      const categories = await page.locator('li.notification .notification-head').allInnerTexts();
      for (const text of categories) assert.match(text, new RegExp(`\\b${category}\\b`));
    }
    // The tab's unread count matches what it lists.
    const tab = await page.getByRole('group', { name: 'Category' }).getByRole('button', { name: new RegExp(`^${label}`) }).innerText();
    assert.match(tab, new RegExp(`${wanted.length}\\s*unread`), `the ${label} tab counts ${wanted.length} unread`);
  }
});

test('“Mark all read” leaves unread a notification that arrived after the list was loaded', { timeout: 120_000 }, async () => {
  const { solo, page } = e2e;
  await openTab('All', null);
  await waitForLive(page);
  await waitUntil('the seeded notifications to be listed', async () => (await shownTitles()).length === SEEDED.length);
  assert.equal(await page.locator('li.notification.unread').count(), SEEDED.length);

  // A notification reaches the server after the page loaded its list but
  // before the read-all does: created right as the request leaves the page.
  const lateTitle = 'Late arrival: review requested';
  let late = null;
  await page.route('**/api/notifications/read-all', async (route) => {
    late ??= await solo.api('ada', 'POST', '/api/notifications', { userId: solo.users.ada.id, category: 'missions', title: lateTitle });
    await route.continue();
  });
  const readAll = page.waitForResponse((r) => r.url().endsWith('/api/notifications/read-all') && r.request().method() === 'POST');
  await page.getByRole('button', { name: 'Mark all read' }).click();
  const result = await (await readAll).json();
  await page.unroute('**/api/notifications/read-all');

  assert.ok(late, 'the late notification was created');
  assert.equal(result.marked, SEEDED.length, 'only the notifications shown were marked');
  assert.equal(result.unread.total, 1);

  // The late one is pushed into the list, unread; all the others are read.
  const lateItem = page.locator('li.notification').filter({ hasText: lateTitle });
  await lateItem.waitFor();
  await waitUntil('only the late notification to stay unread', async () => {
    const unread = await page.locator('li.notification.unread .notification-title').allInnerTexts();
    return unread.length === 1 && unread[0] === lateTitle;
  });
  assert.equal(await page.locator('li.notification').count(), SEEDED.length + 1);
  await waitForBadge(page, 1);

  const fromServer = await solo.api('ada', 'GET', '/api/notifications');
  const unread = fromServer.items.filter((n) => n.readAt === null);
  assert.deepEqual(
    unread.map((n) => n.id),
    [late.id],
  );
});
