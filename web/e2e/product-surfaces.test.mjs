// The community feed, the mission page and where notifications lead: a post
// reaches another person's feed live and its mention links to it; a mission
// opened from the board takes reviews and fallbacks into its timeline and can
// be watched; and every link the inbox shows opens a real page.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { browserFixture } from './fixture.mjs';
import { ensureScreenshotDir, navigate, waitForBadge, waitForLive, waitUntil } from './harness.mjs';

// Fast heartbeats and sweeps, so a silent workstation goes offline (and notifies) within seconds.
const e2e = browserFixture({ env: { SOLO_HEARTBEAT_INTERVAL_SECS: '1', SOLO_SWEEP_INTERVAL_MS: '200' } });
const dir = ensureScreenshotDir();
const TIMEOUT_SHORT = 10_000;

async function shoot(page, name) {
  await page.evaluate(() => document.querySelectorAll('[data-sonner-toaster]').forEach((t) => t.remove()));
  await page.screenshot({ path: join(dir, `${name}.png`), fullPage: true, animations: 'disabled' });
}

/** The lines of the mission page's timeline, newest first. */
function timelineLines(page) {
  return page.getByRole('list', { name: 'Timeline, newest first' }).locator('li').allInnerTexts();
}

async function waitForTimeline(page, pattern) {
  let lines = [];
  await waitUntil(`the timeline to show ${pattern}`, async () => (lines = await timelineLines(page)).some((l) => pattern.test(l))).catch(
    (error) => {
      throw new Error(`${error.message}; timeline: ${JSON.stringify(lines)}`);
    },
  );
}

test('a post appears live in another person’s feed, its mention highlighted, and its link scrolls to it', { timeout: 120_000 }, async () => {
  const { solo } = e2e;
  const ada = await e2e.openAs('ada');
  const bo = await e2e.openAs('bo');
  for (const { page } of [ada, bo]) {
    await navigate(page, 'Community');
    await page.getByRole('heading', { name: 'Community', level: 1 }).waitFor();
    await waitForLive(page);
  }
  const navigations = [];
  ada.page.on('framenavigated', (frame) => frame === ada.page.mainFrame() && navigations.push(frame.url()));

  const body = 'Demo build is ready, @ada: please try it.';
  await bo.page.getByLabel('New post').fill(body);
  await bo.page.getByRole('button', { name: 'Post', exact: true }).click();

  // Bo sees it at once; Ada's feed gets it pushed, without a reload.
  const posts = (page) => page.getByRole('list', { name: 'Posts' }).locator('li.post');
  await posts(bo.page).filter({ hasText: 'Demo build is ready' }).waitFor();
  const adaPost = posts(ada.page).filter({ hasText: 'Demo build is ready' });
  await adaPost.waitFor();
  assert.deepEqual(navigations, [], 'Ada’s page was not reloaded');
  assert.equal(await adaPost.count(), 1, 'the post is shown once');
  assert.equal(await adaPost.locator('.post-body').innerText(), body);
  // The mention is highlighted, as Ada's own.
  assert.equal(await adaPost.locator('mark.mention.mention-me').innerText(), '@ada');
  assert.equal(await adaPost.locator('.mention-badge').innerText(), '@ Mentions you');
  assert.equal(await posts(bo.page).first().locator('mark.mention').innerText(), '@ada');
  assert.equal(await posts(bo.page).first().locator('mark.mention-me, .mention-badge').count(), 0);

  const [post] = (await solo.api('ada', 'GET', '/api/community/posts')).items;
  assert.equal(post.body, body);
  assert.deepEqual(post.mentions, [solo.users.ada.id]);

  // The mention notification links to the post, which the feed scrolls to and highlights.
  await waitForBadge(ada.page, 1, 'Ada’s badge');
  const inbox = await solo.api('ada', 'GET', '/api/notifications?category=community');
  assert.equal(inbox.items[0].link, `/community#${post.id}`);
  // Older posts first, so the linked one is further down than the first screen.
  for (let i = 0; i < 12; i++) await solo.api('bo', 'POST', '/api/community/posts', { body: `Status update number ${i + 1}` });
  await ada.page.goto(`${solo.base}/notifications?category=community`);
  await ada.page.getByRole('link', { name: 'bo mentioned you' }).click();
  await waitUntil('the community page to open at the post', () => new URL(ada.page.url()).hash === `#${post.id}`);
  const target = ada.page.locator(`li.post.highlighted[id="${post.id}"]`);
  await target.waitFor();
  await waitUntil('the linked post to have the focus', () => ada.page.evaluate(() => document.activeElement?.id), TIMEOUT_SHORT).then(
    (id) => assert.equal(id, post.id),
  );
  assert.ok(await target.isVisible());
  await shoot(ada.page, '20-community');

  await ada.context.close();
  await bo.context.close();
});

test('a mission opened from the board records a review and a fallback into its live timeline', { timeout: 120_000 }, async () => {
  const { solo } = e2e;
  const title = 'Harden the upload service';
  const mission = await solo.api('ada', 'POST', '/api/missions', { title });
  const forge = await solo.api('ada', 'POST', '/api/workstations', { name: 'forge-mission' });
  await solo.api('ada', 'POST', `/api/workstations/${forge.id}/heartbeat`, {
    agents: [{ id: 'builder', name: 'Builder Bot', status: 'working', missionId: mission.id }],
  });

  const { context, page } = await e2e.openAs('ada');
  await navigate(page, 'Board');
  await page.locator(`#card-${mission.id}`).getByRole('link', { name: title }).click();
  await page.getByRole('heading', { name: title, level: 1 }).waitFor();
  assert.equal(new URL(page.url()).pathname, `/missions/${mission.id}`);
  await waitForLive(page);
  await page.getByRole('region', { name: 'Agents on it' }).getByText('Builder Bot', { exact: true }).waitFor();
  await waitForTimeline(page, /created it in Backlog/);

  // The stage moves as on the board.
  await page.getByRole('button', { name: `Move “${title}” to Spec` }).click();
  await page.locator('.facts').getByText('Spec', { exact: true }).waitFor();
  await waitForTimeline(page, /moved it from Backlog to Spec/);

  // A review asking for changes, with a comment.
  await page.getByRole('form', { name: 'Review this mission' }).getByLabel('Comment').fill('Add retries on timeouts');
  await page.getByRole('button', { name: 'Request changes' }).click();
  const reviews = page.getByRole('list', { name: 'Reviews' });
  await reviews.locator('li').filter({ hasText: 'Changes requested' }).filter({ hasText: 'Add retries on timeouts' }).waitFor();
  await waitForTimeline(page, /asked for changes: “Add retries on timeouts”/);

  // A fallback.
  const fallbackForm = page.getByRole('form', { name: 'Record a fallback' });
  await fallbackForm.getByLabel('Reason').fill('agent crashed');
  await fallbackForm.getByLabel('Fallback plan').fill('Rerun the build on kiln');
  await fallbackForm.getByRole('button', { name: 'Record fallback' }).click();
  await page.getByRole('list', { name: 'Fallbacks' }).locator('li').filter({ hasText: 'Rerun the build on kiln' }).waitFor();
  await waitForTimeline(page, /recorded a fallback \(agent crashed\): Rerun the build on kiln/);

  // What someone else does is pushed in: Bo approves.
  await solo.api('bo', 'POST', `/api/missions/${mission.id}/reviews`, { decision: 'approved', comment: 'Ship it' });
  await reviews.locator('li').filter({ hasText: 'Approved' }).filter({ hasText: 'Ship it' }).waitFor();
  await waitForTimeline(page, /approved it: “Ship it”/);

  const detail = await solo.api('ada', 'GET', `/api/missions/${mission.id}`);
  assert.deepEqual(
    detail.reviews.map((r) => r.decision),
    ['changes_requested', 'approved'],
  );
  assert.equal(detail.stage, 'spec');
  assert.equal(await reviews.locator('li').count(), 2, 'each review is shown once');
  assert.equal(await page.getByRole('list', { name: 'Fallbacks' }).locator('li').count(), 1, 'the fallback is shown once');
  await shoot(page, '21-mission');

  // An unknown mission says so.
  await page.goto(`${solo.base}/missions/m_${'0'.repeat(32)}`);
  await page.getByRole('heading', { name: 'Mission not found', level: 1 }).waitFor();
  await shoot(page, '22-mission-not-found');
  await context.close();
});

test('Watch makes a person a watcher, notified of stage changes; Unwatch stops it', { timeout: 120_000 }, async () => {
  const { solo } = e2e;
  const title = 'Rotate the signing keys';
  const mission = await solo.api('ada', 'POST', '/api/missions', { title });
  const { context, page } = await e2e.openAs('bo');
  await page.goto(`${solo.base}/missions/${mission.id}`);
  await page.getByRole('heading', { name: title, level: 1 }).waitFor();
  await waitForLive(page);
  const watchers = page.getByRole('region', { name: 'Watchers' });
  const before = (await solo.api('bo', 'GET', '/api/notifications/unread-count')).total;

  await watchers.getByRole('button', { name: 'Watch', exact: true }).click();
  await watchers.getByRole('button', { name: 'Unwatch', exact: true, pressed: true }).waitFor();
  await watchers.getByText('bo (you)').waitFor();
  assert.ok((await solo.api('bo', 'GET', `/api/missions/${mission.id}`)).watcherIds.includes(solo.users.bo.id));

  // As a watcher, Bo hears of Ada's stage change.
  await solo.api('ada', 'POST', `/api/missions/${mission.id}/stage`, { stage: 'spec' });
  await waitForBadge(page, before + 1, 'Bo’s badge');
  await page.locator('.facts').getByText('Spec', { exact: true }).waitFor();

  await watchers.getByRole('button', { name: 'Unwatch', exact: true }).click();
  await watchers.getByRole('button', { name: 'Watch', exact: true, pressed: false }).waitFor();
  await waitUntil('Bo to be no longer a watcher', async () =>
    !(await solo.api('bo', 'GET', `/api/missions/${mission.id}`)).watcherIds.includes(solo.users.bo.id),
  );
  assert.equal(await watchers.getByText('bo (you)').count(), 0);
  await context.close();
});

test('every link the inbox shows opens a page of the app', { timeout: 180_000 }, async () => {
  const { solo } = e2e;
  const ada = solo.users.ada.id;
  const mission = await solo.api('ada', 'POST', '/api/missions', { title: 'Publish the changelog' });
  // Notifications the product makes: Bo's stage change, review and fallback on Ada's mission, a mention, a workstation gone silent.
  await solo.api('bo', 'POST', `/api/missions/${mission.id}/stage`, { stage: 'spec' });
  await solo.api('bo', 'POST', `/api/missions/${mission.id}/reviews`, { decision: 'rejected', comment: 'Not yet' });
  await solo.api('bo', 'POST', `/api/missions/${mission.id}/fallbacks`, { reason: 'no agent free', summary: 'Write it by hand' });
  const post = await solo.api('bo', 'POST', '/api/community/posts', { body: '@ada the changelog draft is up' });
  const kiln = await solo.api('ada', 'POST', '/api/workstations', { name: 'kiln-links' });
  await solo.api('ada', 'POST', `/api/workstations/${kiln.id}/heartbeat`, { agents: [] });
  await waitUntil('kiln to go offline', async () => (await solo.api('ada', 'GET', `/api/workstations/${kiln.id}`)).status === 'offline');
  // And one made through the API in every category, linking to the product's pages.
  const direct = [
    { category: 'missions', title: 'Direct: the changelog mission', link: `/missions/${mission.id}` },
    { category: 'workstations', title: 'Direct: kiln needs a look', link: `/workstations/${kiln.id}` },
    { category: 'community', title: 'Direct: a post for you', link: `/community#${post.id}` },
    { category: 'system', title: 'Direct: new quiet hours options', link: '/settings' },
  ];
  for (const n of direct) await solo.api('ada', 'POST', '/api/notifications', { userId: ada, ...n });

  const all = (await solo.api('ada', 'GET', '/api/notifications?limit=100')).items;
  const categories = new Set(all.filter((n) => n.link?.startsWith('/')).map((n) => n.category));
  assert.deepEqual([...categories].sort(), ['community', 'missions', 'system', 'workstations']);

  const { context, page } = await e2e.openAs('ada');
  await navigate(page, /^Notifications/);
  await page.getByRole('heading', { name: 'Notifications', level: 1 }).waitFor();
  const links = page.locator('li.notification .notification-title a');
  const linked = all.filter((n) => n.link).length;
  await waitUntil('the inbox to list every linked notification', async () => (await links.count()) >= linked);
  const targets = [];
  for (const link of await links.all()) targets.push({ title: await link.innerText(), href: await link.getAttribute('href') });
  assert.ok(targets.length >= 9, `links: ${JSON.stringify(targets)}`);

  // The System tab lists the system one.
  await page.getByRole('group', { name: 'Category' }).getByRole('button', { name: /^System/ }).click();
  const systemTitles = all.filter((n) => n.category === 'system').map((n) => n.title);
  let shown = [];
  await waitUntil('the System tab to list the system notifications only', async () => {
    shown = await page.locator('li.notification .notification-title').allInnerTexts();
    return new URL(page.url()).searchParams.get('category') === 'system' && JSON.stringify(shown) === JSON.stringify(systemTitles);
  }).catch((error) => {
    throw new Error(`${error.message}; shown: ${JSON.stringify(shown)}`);
  });
  assert.deepEqual(shown, ['Direct: new quiet hours options']);

  for (const [index, { title, href }] of targets.entries()) {
    await page.goto(`${solo.base}/notifications`);
    const link = links.nth(index);
    await link.waitFor();
    assert.equal(await link.getAttribute('href'), href, 'the inbox kept its order');
    await link.click();
    const wanted = new URL(href, solo.base);
    await waitUntil(`${href} to open`, () => {
      const url = new URL(page.url());
      return url.pathname === wanted.pathname && url.search === wanted.search && url.hash === wanted.hash;
    });
    const heading = page.locator('main h1').first();
    await heading.waitFor();
    const text = (await heading.innerText()).trim();
    assert.ok(!/not found/i.test(text), `“${title}” (${href}) landed on “${text}”`);
    if (wanted.pathname === '/community') {
      await page.locator(`li.post.highlighted[id="${decodeURIComponent(wanted.hash.slice(1))}"]`).waitFor();
    }
    if (wanted.pathname.startsWith('/missions/')) {
      // Earlier tests' missions notify Ada too: each link opens its own mission.
      const id = decodeURIComponent(wanted.pathname.slice('/missions/'.length));
      const { title: missionTitle } = await solo.api('ada', 'GET', `/api/missions/${id}`);
      await page.getByRole('heading', { name: missionTitle, level: 1, exact: true }).waitFor();
    }
  }
  await context.close();

  const unexpected = e2e.errors.filter((e) => !/^401 GET .*\/api\/me$/.test(e) && !/^404 GET .*\/api\/missions\/m_0+$/.test(e));
  assert.deepEqual(unexpected, [], 'no browser error');
});
