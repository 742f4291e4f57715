// "Why am I seeing this?": an inbox item says which event caused it, which
// rule chose the person, and what their quiet hours decided.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { browserFixture } from './fixture.mjs';
import { navigate, waitUntil } from './harness.mjs';

const e2e = browserFixture({
  async seed(solo) {
    const mission = await solo.api('ada', 'POST', '/api/missions', { title: 'Lumen' });
    await solo.api('bo', 'POST', `/api/missions/${mission.id}/stage`, { stage: 'spec' });
  },
  signedIn: 'ada',
});

test('an inbox item explains itself', { timeout: 120_000 }, async () => {
  const { page } = e2e;
  await navigate(page, /^Notifications/);
  const title = '“Lumen” moved to spec';
  await page.getByRole('button', { name: `Why am I seeing this? ${title}` }).click();
  const reasons = page.getByRole('list', { name: `Why: ${title}` }).locator('li');
  await waitUntil('the explanation', async () => (await reasons.count()) >= 3);
  const text = await reasons.allInnerTexts();
  assert.match(text[0], /^Caused by mission\.stage_changed \(event [0-9a-f-]{36}, trace [0-9a-f]{32}\)\.$/);
  assert.equal(text[1], 'You own the mission.');
  assert.equal(text[2], 'You had no quiet hours: pushed with a toast.');
});
