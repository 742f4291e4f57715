// One mission followed three ways at once: a review and a fallback recorded in
// Ada's tab appear live in Bo's tab of the same mission and in a running
// `solo missions watch --json`, each once and in order.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { browserFixture } from './fixture.mjs';
import { ensureScreenshotDir, startCli, waitForLive, waitUntil } from './harness.mjs';

const e2e = browserFixture();
const dir = ensureScreenshotDir();

test('a review and a fallback recorded in one tab reach another tab and a running CLI watch', { timeout: 120_000 }, async () => {
  const { solo } = e2e;
  const title = 'Migrate the billing jobs';
  const mission = await solo.api('ada', 'POST', '/api/missions', { title });

  // `--since 0`: what the channel holds, then live, so nothing depends on when the watch subscribes.
  const watch = startCli(e2e, 'bo', ['missions', 'watch', mission.id, '--json', '--since', '0']);
  const printed = () => watch.out.map((line) => JSON.parse(line));
  await waitUntil('the watch to print the mission’s creation', () => printed().some((e) => e.type === 'mission.created'));

  const ada = await e2e.openAs('ada');
  const bo = await e2e.openAs('bo');
  for (const { page } of [ada, bo]) {
    await page.goto(`${e2e.base}/missions/${mission.id}`);
    await page.getByRole('heading', { name: title, level: 1 }).waitFor();
    await waitForLive(page);
  }

  await ada.page.getByRole('form', { name: 'Review this mission' }).getByLabel('Comment').fill('Keep the old queue one more week');
  await ada.page.getByRole('button', { name: 'Request changes' }).click();
  const fallbackForm = ada.page.getByRole('form', { name: 'Record a fallback' });
  await fallbackForm.getByLabel('Reason').fill('agent stalled');
  await fallbackForm.getByLabel('Fallback plan').fill('Run the jobs by hand tonight');
  await fallbackForm.getByRole('button', { name: 'Record fallback' }).click();

  // Bo's tab, without a reload.
  const reviews = bo.page.getByRole('list', { name: 'Reviews' });
  await reviews.locator('li').filter({ hasText: 'Keep the old queue one more week' }).waitFor();
  const fallbacks = bo.page.getByRole('list', { name: 'Fallbacks' });
  await fallbacks.locator('li').filter({ hasText: 'Run the jobs by hand tonight' }).waitFor();
  assert.equal(await reviews.locator('li').count(), 1, 'the review is shown once');
  assert.equal(await fallbacks.locator('li').count(), 1, 'the fallback is shown once');
  await bo.page.screenshot({ path: join(dir, 'mission-live-other-tab.png'), fullPage: true, animations: 'disabled' });

  // The CLI watch, each event once, in order.
  await waitUntil('the watch to print the fallback', () => printed().some((e) => e.type === 'fallback.generated'));
  const events = printed();
  assert.deepEqual(
    events.map((e) => e.type),
    ['mission.created', 'review.decided', 'fallback.generated'],
  );
  assert.equal(events[1].data.comment, 'Keep the old queue one more week');
  assert.equal(events[2].data.summary, 'Run the jobs by hand tonight');
  assert.deepEqual(
    events.map((e) => e.version),
    [1, 2, 3],
  );
  await ada.context.close();
  await bo.context.close();
});
