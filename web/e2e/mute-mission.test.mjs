// Muting a mission from a toast: one click, and nothing more of that mission
// reaches ada, in this tab or any other; the inbox item of another tab offers
// "Unmute mission" at once (through `preferences.updated`); unmuting from it
// brings the mission's notifications back.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { browserFixture } from './fixture.mjs';
import { navigate, signIn, toasts, waitForBadge, waitForLive, waitUntil } from './harness.mjs';

let missionId;

const e2e = browserFixture({
  async seed(solo) {
    missionId = (await solo.api('ada', 'POST', '/api/missions', { title: 'Noisy' })).id;
  },
});

test('mute a mission from a toast; another tab follows; unmute from the inbox', { timeout: 150_000 }, async () => {
  const { solo } = e2e;
  const context = await e2e.newContext();
  const tabA = await e2e.newPage(context);
  await signIn(tabA, e2e.base, 'ada');
  const tabB = await e2e.newPage(context);
  await tabB.goto(`${e2e.base}/notifications`);
  for (const page of [tabA, tabB]) await waitForLive(page);

  await solo.api('bo', 'POST', `/api/missions/${missionId}/stage`, { stage: 'spec' });
  const toast = toasts(tabA, '“Noisy” moved to spec');
  await toast.first().waitFor();
  await toast.first().getByRole('button', { name: 'Mute mission' }).click();
  await toasts(tabA, 'Mission muted').first().waitFor();

  // Tab B's inbox item now offers to unmute, without a reload.
  await tabB.getByRole('button', { name: 'Unmute mission: “Noisy” moved to spec' }).waitFor();
  await waitForBadge(tabB, 1);

  // Muted: a change of the mission notifies ada no more (the server drops it).
  await solo.api('bo', 'POST', `/api/missions/${missionId}/stage`, { stage: 'build' });
  await solo.api('ada', 'POST', '/api/notifications', { userId: solo.users.ada.id, category: 'system', title: 'A later one' });
  await waitForBadge(tabB, 2, 'the badge to count the later one');
  const titles = (await solo.api('ada', 'GET', '/api/notifications')).items.map((n) => n.title);
  assert.ok(!titles.includes('“Noisy” moved to build'), `muted: ${JSON.stringify(titles)}`);

  // Unmute from tab B's inbox: the next change notifies ada again.
  await tabB.getByRole('button', { name: 'Unmute mission: “Noisy” moved to spec' }).click();
  await waitUntil('the rule gone on the server', async () =>
    Object.keys((await solo.api('ada', 'GET', '/api/me/preferences')).missionRules).length === 0);
  await solo.api('bo', 'POST', `/api/missions/${missionId}/stage`, { stage: 'review' });
  await toasts(tabA, '“Noisy” moved to review').first().waitFor();
  await navigate(tabA, /^Notifications/);
  await tabA.getByRole('button', { name: 'Mute mission: “Noisy” moved to review' }).waitFor();
  await context.close();
});
