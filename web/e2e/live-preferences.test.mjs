// Live preferences: quiet hours changed in one tab apply in another tab of the
// same person and in a running `solo notifications watch` at once, without a
// reload or a restart; a change made from the CLI reaches the tabs the same
// way; and someone who never set quiet hours starts from the browser's zone.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { browserFixture } from './fixture.mjs';
import { ensureScreenshotDir, navigate, signIn, startCli, waitForLive, waitUntil } from './harness.mjs';

const e2e = browserFixture();
const dir = ensureScreenshotDir();

/** `HH:MM` in UTC, `minutes` from now. */
function utcClock(minutes) {
  const at = new Date(Date.now() + minutes * 60_000);
  return `${String(at.getUTCHours()).padStart(2, '0')}:${String(at.getUTCMinutes()).padStart(2, '0')}`;
}

async function quietForm(page) {
  return {
    enabled: await page.getByLabel('Enable quiet hours').isChecked(),
    start: await page.getByLabel('From', { exact: true }).inputValue(),
    end: await page.getByLabel('To', { exact: true }).inputValue(),
    timezone: await page.getByLabel('Time zone').inputValue(),
  };
}

test('quiet hours changed in one tab apply in another tab and in a running CLI watch', { timeout: 180_000 }, async () => {
  const { solo } = e2e;
  const context = await e2e.newContext();
  const tabA = await e2e.newPage(context);
  await signIn(tabA, e2e.base, 'ada');
  const tabB = await e2e.newPage(context);
  await tabB.goto(`${e2e.base}/settings`);
  await navigate(tabA, 'Settings');
  for (const page of [tabA, tabB]) {
    await page.getByRole('heading', { name: 'Quiet hours' }).waitFor();
    await waitForLive(page);
  }
  assert.equal(await tabB.locator('.quiet-indicator').count(), 0, 'no quiet hours yet');

  // A running watch. It starts from the stream's beginning (`--since 0`), so
  // the notification below is printed whether it lands before or after the
  // watch subscribes; once it is, the watch is following the stream.
  const watch = startCli(e2e, 'ada', ['notifications', 'watch', '--json', '--since', '0']);
  await solo.api('ada', 'POST', '/api/notifications', { userId: solo.users.ada.id, category: 'system', title: 'Before the change' });
  await waitUntil('the watch to print the first notification', () => watch.out.some((l) => JSON.parse(l).title === 'Before the change'));

  // Tab A sets a two-hour window around now, in UTC.
  const start = utcClock(-60);
  const end = utcClock(60);
  await tabA.getByLabel('Enable quiet hours').check();
  await tabA.getByLabel('From', { exact: true }).fill(start);
  await tabA.getByLabel('To', { exact: true }).fill(end);
  await tabA.getByLabel('Time zone').fill('UTC');
  await tabA.getByRole('button', { name: 'Save quiet hours' }).click();
  await tabA.getByText('Saved.').waitFor();

  // Tab B shows the new window and says quiet hours are on, without a reload.
  const expected = { enabled: true, start, end, timezone: 'UTC' };
  let seen;
  await waitUntil('tab B to show the new quiet hours', async () => {
    seen = await quietForm(tabB);
    return JSON.stringify(seen) === JSON.stringify(expected);
  }).catch((error) => {
    throw new Error(`${error.message}; tab B shows ${JSON.stringify(seen)}`);
  });
  await tabB.locator('.quiet-indicator', { hasText: 'Quiet hours' }).waitFor();
  await tabB.screenshot({ path: join(dir, 'settings-live-quiet-hours.png'), fullPage: true, animations: 'disabled' });

  // The running watch took them too: it says so, and goes on printing.
  const change = `quiet hours changed: on, ${start}-${end} UTC, urgent notifications pass`;
  await waitUntil(`the watch to report "${change}"`, () => watch.err.includes(change)).catch((error) => {
    throw new Error(`${error.message}; stderr: ${JSON.stringify(watch.err)}`);
  });
  const during = await solo.api('ada', 'POST', '/api/notifications', { userId: solo.users.ada.id, category: 'system', title: 'During quiet hours' });
  assert.equal(during.quiet, true, 'the server holds the new window too');
  await waitUntil('the watch to print the quiet notification', () => watch.out.some((l) => JSON.parse(l).title === 'During quiet hours'));
  assert.equal(JSON.parse(watch.out.find((l) => JSON.parse(l).title === 'During quiet hours')).quiet, true);

  // Switched off from the CLI: both tabs and the watch follow.
  const off = startCli(e2e, 'ada', ['quiet-hours', 'off']);
  assert.equal(await off.exited, 0, `solo quiet-hours off: ${off.err.join('\n')}`);
  for (const page of [tabA, tabB]) {
    await waitUntil('the tab to show quiet hours off', async () => !(await page.getByLabel('Enable quiet hours').isChecked()));
    await waitUntil('the indicator to go', async () => (await page.locator('.quiet-indicator').count()) === 0);
  }
  await waitUntil('the watch to report quiet hours off', () => watch.err.includes('quiet hours changed: off'));
  assert.equal(watch.err.filter((l) => l.startsWith('quiet hours changed')).length, 2, 'each change reported once');
  // Nothing went wrong in the pages but the login page's check for a session before signing in.
  assert.deepEqual(e2e.errors.filter((e) => !/^401 GET .*\/api\/me$/.test(e)), []);
  await context.close();
});

test('someone who never set quiet hours starts from the browser’s time zone', { timeout: 120_000 }, async () => {
  const context = await e2e.newContext({ timezoneId: 'Pacific/Auckland' });
  const page = await e2e.newPage(context);
  await signIn(page, e2e.base, 'bo');
  await navigate(page, 'Settings');
  await page.getByRole('heading', { name: 'Quiet hours' }).waitFor();
  assert.equal(await page.getByLabel('Time zone').inputValue(), 'Pacific/Auckland');
  // Saved as shown.
  await page.getByLabel('Enable quiet hours').check();
  await page.getByRole('button', { name: 'Save quiet hours' }).click();
  await page.getByText('Saved.').waitFor();
  const saved = await e2e.solo.api('bo', 'GET', '/api/me/preferences');
  assert.equal(saved.quietHours.timezone, 'Pacific/Auckland');
  assert.equal(saved.version, 1);
  await context.close();
});
