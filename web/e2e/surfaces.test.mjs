// Surfaces per category: switching Missions toasts off in Settings stops
// their pop-ups in every tab at once, while they still reach the inbox; the
// other categories still pop up.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { browserFixture } from './fixture.mjs';
import { navigate, toasts, waitForBadge, waitForLive, waitUntil } from './harness.mjs';

let missionId;

const e2e = browserFixture({
  async seed(solo) {
    missionId = (await solo.api('ada', 'POST', '/api/missions', { title: 'Orbit' })).id;
  },
  signedIn: 'ada',
});

test('missions toasts off: no pop-up, still in the inbox', { timeout: 120_000 }, async () => {
  const { page, solo } = e2e;
  const other = await e2e.newPage(e2e.context);
  await other.goto(`${e2e.base}/notifications`);
  await navigate(page, 'Settings');
  await page.getByRole('heading', { name: 'Where notifications show' }).waitFor();
  for (const p of [page, other]) await waitForLive(p);

  // Saved at once; the box shows what the server holds once it answers.
  await page.getByLabel('Missions: Toast').click();
  await waitUntil('the box unchecked', async () => !(await page.getByLabel('Missions: Toast').isChecked()));
  await waitUntil('the change saved', async () =>
    (await solo.api('ada', 'GET', '/api/me/preferences')).surfaces.missions.toast === false);

  await solo.api('bo', 'POST', `/api/missions/${missionId}/stage`, { stage: 'spec' });
  await solo.api('ada', 'POST', '/api/notifications', { userId: solo.users.ada.id, category: 'system', title: 'System still pops up' });
  // The system one pops up in the other tab; by then the mission one (earlier on the channel) was handled too.
  await toasts(other, 'System still pops up').first().waitFor();
  await waitForBadge(other, 2);
  assert.equal(await toasts(other, '“Orbit” moved to spec').count(), 0, 'no pop-up for missions');
  assert.equal(await toasts(page, '“Orbit” moved to spec').count(), 0);
  await other.locator('li.notification .notification-title', { hasText: '“Orbit” moved to spec' }).waitFor();
  assert.equal(await page.getByLabel('Missions: Toast').isChecked(), false);
});
