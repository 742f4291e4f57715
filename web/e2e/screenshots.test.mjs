// A screenshot of every page, with some data in it, written as PNG to
// target/e2e-screenshots/ for people to look at; each page must render its
// heading and raise no error.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { browserFixture } from './fixture.mjs';
import { ensureScreenshotDir, navigate, signIn, waitForBadge, waitForLive, waitUntil } from './harness.mjs';

const e2e = browserFixture({ env: { SOLO_HEARTBEAT_INTERVAL_SECS: '1', SOLO_SWEEP_INTERVAL_MS: '200' } });
const dir = ensureScreenshotDir();

async function seed() {
  const { solo } = e2e;
  const missions = {};
  const plan = [
    ['Draft the onboarding guide', 'backlog'],
    ['Migrate billing to the new API', 'spec'],
    ['Rate-limit the public endpoints', 'build'],
    ['Refresh the landing page copy', 'build'],
    ['Audit access tokens', 'review'],
    ['Ship the realtime inbox', 'done'],
  ];
  const order = ['backlog', 'spec', 'build', 'review', 'done'];
  for (const [title, stage] of plan) {
    const m = await solo.api('ada', 'POST', '/api/missions', { title });
    for (const next of order.slice(1, order.indexOf(stage) + 1)) {
      // bo moves them along, so ada is notified.
      await solo.api('bo', 'POST', `/api/missions/${m.id}/stage`, { stage: next });
    }
    missions[stage] ??= [];
    missions[stage].push(m);
  }
  const forge = await solo.api('ada', 'POST', '/api/workstations', { name: 'forge' });
  const kiln = await solo.api('ada', 'POST', '/api/workstations', { name: 'kiln' });
  await solo.api('ada', 'POST', '/api/workstations', { name: 'spare-laptop' });
  const forgeAgents = [
    { id: 'builder', name: 'Builder Bot', status: 'working', missionId: missions.build[0].id },
    { id: 'critic', name: 'Code Critic', status: 'waiting_review', missionId: missions.review[0].id },
    { id: 'scout', name: 'Scout', status: 'idle' },
  ];
  const beat = () => solo.api('ada', 'POST', `/api/workstations/${forge.id}/heartbeat`, { agents: forgeAgents });
  await beat();
  const beating = setInterval(() => beat().catch(() => undefined), 400);
  e2e.cleanup(() => clearInterval(beating));
  // kiln reports once, then falls silent: offline within seconds.
  await solo.api('ada', 'POST', `/api/workstations/${kiln.id}/heartbeat`, {
    agents: [
      { id: 'writer', name: 'Copy Writer', status: 'working', missionId: missions.build[1].id },
      { id: 'fixer', name: 'Fixer', status: 'error', missionId: missions.spec[0].id },
    ],
  });
  await solo.api('ada', 'POST', '/api/notifications', {
    userId: solo.users.ada.id,
    category: 'community',
    title: 'bo mentioned you in #launch',
  });
  await solo.api('ada', 'POST', '/api/notifications', {
    userId: solo.users.ada.id,
    category: 'system',
    title: 'Scheduled maintenance on Sunday',
    severity: 'warning',
  });
  await waitUntil('kiln to go offline', async () => (await solo.api('ada', 'GET', `/api/workstations/${kiln.id}`)).status === 'offline');
  return { missions, forge, kiln };
}

test('every page renders; screenshots are saved', { timeout: 120_000 }, async () => {
  const { solo, errors } = e2e;
  const { forge } = await seed();
  const context = await e2e.newContext();
  const page = await e2e.newPage(context);
  const shots = [];
  const shoot = async (name) => {
    // Toasts come and go: keep them out of the pictures.
    await page.evaluate(() => document.querySelectorAll('[data-sonner-toaster]').forEach((t) => t.remove()));
    const path = join(dir, `${name}.png`);
    await page.screenshot({ path, fullPage: true, animations: 'disabled' });
    shots.push(path);
  };

  await page.goto(`${solo.base}/`);
  await page.getByRole('heading', { name: 'Sign in to Solo Realtime' }).waitFor();
  await shoot('01-login');

  await signIn(page, solo.base, 'ada');
  await waitForLive(page);
  await page.locator('.workspace-card .stat-value').first().filter({ hasText: '1 / 3' }).waitFor();
  await page.locator('.people').filter({ hasText: 'ada' }).waitFor();
  await shoot('02-launchpad');

  await navigate(page, 'Board');
  await page.getByRole('heading', { name: 'Mission board' }).waitFor();
  await page.locator('.mission-card .avatar').first().waitFor();
  await page.locator('.avatar-offline').first().waitFor();
  await shoot('03-board');

  await navigate(page, 'Workstations');
  await page.getByRole('heading', { name: 'Workstations', level: 1 }).waitFor();
  await page.locator('li.ws-row').nth(2).waitFor();
  await shoot('04-workstations');

  await page.getByRole('link', { name: 'forge' }).click();
  await page.getByRole('heading', { name: 'forge', level: 1 }).waitFor();
  await page.getByText('Builder Bot', { exact: true }).waitFor();
  assert.equal(new URL(page.url()).pathname, `/workstations/${forge.id}`);
  await shoot('05-workstation-console');

  await navigate(page, /^Notifications/);
  await page.getByRole('heading', { name: 'Notifications', level: 1 }).waitFor();
  await page.locator('li.notification').nth(3).waitFor();
  await shoot('06-notifications');

  await navigate(page, 'Settings');
  await page.getByRole('heading', { name: 'Quiet hours' }).waitFor();
  await page.getByRole('heading', { name: 'Personal access tokens' }).waitFor();
  await page.locator('li.token-row').first().waitFor();
  await shoot('07-settings');

  // A phone-sized board, to see the layout wrap.
  await page.setViewportSize({ width: 390, height: 844 });
  await navigate(page, 'Board');
  await page.locator('.mission-card').first().waitFor();
  await shoot('08-board-narrow');

  assert.ok(await waitForBadge(page, await solo.api('ada', 'GET', '/api/notifications/unread-count').then((c) => c.total)));
  const unexpected = errors.filter((e) => !/^401 GET .*\/api\/me$/.test(e));
  assert.deepEqual(unexpected, [], 'no browser error');
  assert.equal(shots.length, 8);
  console.log(`screenshots in ${dir}`);
  await context.close();
});
