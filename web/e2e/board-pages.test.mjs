// A board of 1,000 missions: the first page (the 100 newest) is on screen and
// usable at once, older ones load a page at a time until every mission is
// there, once; a mission created meanwhile shows live. The time from opening
// the board to the first click it answers is measured and written to
// `board-timing.json` beside the screenshots (not asserted: machines differ).
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { browserFixture } from './fixture.mjs';
import { ensureScreenshotDir, waitForLive, waitUntil } from './harness.mjs';

const MISSIONS = 1000;
const PAGE = 100;
const dir = ensureScreenshotDir();

const e2e = browserFixture({
  // Seeding makes a thousand API calls at once; the rate limit is tested elsewhere.
  env: { SOLO_API_REQUESTS_PER_SEC: '1000000' },
  async seed(solo) {
    for (let start = 0; start < MISSIONS; start += 50) {
      const batch = [];
      for (let n = start; n < Math.min(start + 50, MISSIONS); n += 1) {
        batch.push(solo.api('ada', 'POST', '/api/missions', { title: `Seeded mission ${String(n).padStart(4, '0')}` }));
      }
      await Promise.all(batch);
    }
  },
});

const cards = (page) => page.locator('li.mission-card');

test('a board of 1,000 missions opens on its newest page and loads the rest a page at a time', { timeout: 240_000 }, async () => {
  const { context, page } = await e2e.openAs('ada');
  await waitForLive(page);

  // Opened, then used at once: the first click on a card's link is answered.
  const opened = Date.now();
  await page.goto(`${e2e.base}/board`);
  await cards(page).first().waitFor();
  const firstCard = Date.now();
  const link = cards(page).first().locator('.mission-title a');
  const title = await link.innerText();
  await link.click();
  await page.getByRole('heading', { name: title, level: 1 }).waitFor();
  const answered = Date.now();
  const timing = { missions: MISSIONS, pageSize: PAGE, firstCardMs: firstCard - opened, firstClickAnsweredMs: answered - opened };
  writeFileSync(join(dir, 'board-timing.json'), `${JSON.stringify(timing, null, 2)}\n`);
  console.log(`board of ${MISSIONS} missions: ${JSON.stringify(timing)}`);

  await page.goBack();
  await waitUntil(`the first ${PAGE} missions`, async () => (await cards(page).count()) === PAGE);
  const status = page.locator('.load-more [role="status"]');
  assert.equal(await status.innerText(), `The ${PAGE} newest missions are shown.`);
  assert.ok(await page.getByText('Seeded mission 0999').isVisible(), 'the newest mission is on the first page');
  assert.equal(await page.getByText('Seeded mission 0000').count(), 0, 'the oldest is not loaded yet');
  await page.screenshot({ path: join(dir, 'board-first-page.png'), animations: 'disabled' });

  // A mission created now shows live, loaded pages or not.
  await e2e.solo.api('ada', 'POST', '/api/missions', { title: 'Created while paging' });
  await page.getByText('Created while paging').waitFor();

  for (let loaded = PAGE; loaded < MISSIONS; loaded += PAGE) {
    await page.getByRole('button', { name: 'Load more missions' }).click();
    await waitUntil(`${loaded + PAGE} seeded missions`, async () => (await cards(page).count()) === loaded + PAGE + 1);
  }
  assert.equal(await page.getByRole('button', { name: 'Load more missions' }).count(), 0, 'nothing left to load');
  const titles = await page.locator('li.mission-card .mission-title').allInnerTexts();
  assert.equal(new Set(titles).size, MISSIONS + 1, 'every mission once');
  assert.ok(titles.includes('Seeded mission 0000'));
  await context.close();
});
