// Workspace settings: an admin changes the workspace's default quiet hours in
// one tab; their other tab shows the new default and a member who set none of
// their own is in quiet hours at once, without a reload; a change from the CLI
// reaches the tabs the same way; a member has no such section.
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

async function defaultForm(page) {
  return {
    set: await page.getByLabel('Set a workspace default').isChecked(),
    start: await page.getByLabel('Default from', { exact: true }).inputValue(),
    end: await page.getByLabel('Default to', { exact: true }).inputValue(),
    timezone: await page.getByLabel('Default zone').inputValue(),
  };
}

test('an admin’s workspace default applies in other tabs and to members without their own, live', { timeout: 180_000 }, async () => {
  const admin = await e2e.newContext();
  const tabA = await e2e.newPage(admin);
  await signIn(tabA, e2e.base, 'ada');
  const tabB = await e2e.newPage(admin);
  await tabB.goto(`${e2e.base}/settings`);
  await navigate(tabA, 'Settings');
  const member = await e2e.newContext();
  const bo = await e2e.newPage(member);
  await signIn(bo, e2e.base, 'bo');
  await navigate(bo, 'Settings');
  for (const page of [tabA, tabB]) {
    await page.getByRole('heading', { name: 'Workspace settings: acme' }).waitFor();
    await waitForLive(page);
  }
  await bo.getByRole('heading', { name: 'Quiet hours' }).waitFor();
  await waitForLive(bo);
  assert.equal(await bo.getByRole('heading', { name: /Workspace settings/ }).count(), 0, 'not for a member');
  assert.equal(await bo.locator('.quiet-indicator').count(), 0, 'no quiet hours yet');

  // Tab A sets a two-hour default around now, in UTC.
  const start = utcClock(-60);
  const end = utcClock(60);
  await tabA.getByLabel('Set a workspace default').check();
  await tabA.getByLabel('Quiet hours on by default').check();
  await tabA.getByLabel('Default from', { exact: true }).fill(start);
  await tabA.getByLabel('Default to', { exact: true }).fill(end);
  await tabA.getByLabel('Default zone').fill('UTC');
  await tabA.getByRole('button', { name: 'Save workspace default' }).click();
  await tabA.getByText('Workspace default updated.').waitFor();

  // Tab B shows it without a reload.
  const expected = { set: true, start, end, timezone: 'UTC' };
  let seen;
  await waitUntil('tab B to show the new default', async () => {
    seen = await defaultForm(tabB);
    return JSON.stringify(seen) === JSON.stringify(expected);
  }).catch((error) => {
    throw new Error(`${error.message}; tab B shows ${JSON.stringify(seen)}`);
  });
  await tabB.screenshot({ path: join(dir, 'settings-workspace-default.png'), fullPage: true, animations: 'disabled' });

  // Bo set none of his own: he is in the workspace's quiet hours now, and so is the server.
  await bo.locator('.quiet-indicator', { hasText: 'Quiet hours' }).waitFor();
  assert.equal(await bo.getByLabel('From', { exact: true }).inputValue(), start);
  const note = await e2e.solo.api('ada', 'POST', '/api/notifications', { userId: e2e.solo.users.ada.id, category: 'system', title: 'Self' });
  assert.equal(note.quiet, true, 'ada set none of her own either');

  // Unset from the CLI: both of ada's tabs and bo's follow.
  const unset = startCli(e2e, 'ada', ['workspace', 'config', 'set', 'default-quiet-hours', 'none']);
  assert.equal(await unset.exited, 0, `solo workspace config set: ${unset.err.join('\n')}`);
  for (const page of [tabA, tabB]) {
    await waitUntil('the tab to show no default', async () => !(await page.getByLabel('Set a workspace default').isChecked()));
  }
  await waitUntil('bo’s indicator to go', async () => (await bo.locator('.quiet-indicator').count()) === 0);

  // A member cannot change it through the API either.
  const workspaceId = (await e2e.solo.api('bo', 'GET', '/api/me')).workspaces[0].id;
  await assert.rejects(e2e.solo.api('bo', 'PUT', `/api/workspaces/${workspaceId}/config`, {}), /answered 403/);
  // Nothing went wrong in the pages but the login page's check for a session before signing in.
  assert.deepEqual(e2e.errors.filter((e) => !/^401 GET .*\/api\/me$/.test(e)), []);
  await admin.close();
  await member.close();
});
