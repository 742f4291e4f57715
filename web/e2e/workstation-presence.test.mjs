// A workstation that stops sending heartbeats turns degraded, then offline,
// live on the workstations page and on the board's agent avatars.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { browserFixture } from './fixture.mjs';
import { navigate, toasts, waitForLive, waitUntil } from './harness.mjs';

const e2e = browserFixture({ env: { SOLO_HEARTBEAT_INTERVAL_SECS: '1', SOLO_SWEEP_INTERVAL_MS: '200' } });

/**
 * Records, in the page, every distinct value `read` returns as the DOM changes
 * (a MutationObserver: no state is missed between two polls).
 */
async function recordChanges(page, read, arg) {
  await page.evaluate(
    ({ source, arg }) => {
      const read = new Function('arg', `return (${source})(arg);`);
      const seen = [];
      const note = () => {
        const value = read(arg);
        if (value !== seen[seen.length - 1]) seen.push(value);
      };
      note();
      new MutationObserver(note).observe(document.body, { subtree: true, childList: true, characterData: true, attributes: true });
      window.__seen = seen;
    },
    { source: read.toString(), arg },
  );
}

const recorded = (page) => page.evaluate(() => window.__seen.slice());

function inOrder(values, wanted) {
  let at = 0;
  for (const value of values) if (value === wanted[at]) at += 1;
  return at === wanted.length;
}

test('silent workstation: online → degraded → offline on /workstations and on the board avatars', { timeout: 120_000 }, async () => {
  const { solo } = e2e;
  const mission = await solo.api('ada', 'POST', '/api/missions', { title: 'Calibrate the sensors' });
  const ws = await solo.api('ada', 'POST', '/api/workstations', { name: 'forge' });
  const heartbeat = () =>
    solo.api('ada', 'POST', `/api/workstations/${ws.id}/heartbeat`, {
      agents: [{ id: 'agent-1', name: 'Builder Bot', status: 'working', missionId: mission.id }],
    });
  await heartbeat();
  // Keep it alive while the pages load.
  const beating = setInterval(() => heartbeat().catch(() => undefined), 300);
  e2e.cleanup(() => clearInterval(beating));

  const { context, page: list } = await e2e.openAs('ada');
  await navigate(list, 'Workstations');
  const board = await e2e.newPage(context);
  await board.goto(`${solo.base}/board`);

  const row = list.locator('li.ws-row').filter({ has: list.getByRole('heading', { name: 'forge' }) });
  const avatar = board.locator(`#card-${mission.id} .avatar`);
  await row.locator('.badge').filter({ hasText: 'Online' }).waitFor();
  await avatar.waitFor();
  assert.match(await avatar.innerText(), /Builder Bot on forge: Working/);
  await waitForLive(list);
  await waitForLive(board);

  await recordChanges(list, (name) => {
    for (const li of document.querySelectorAll('li.ws-row')) {
      if (li.querySelector('h2')?.textContent?.trim() === name) return li.querySelector('.badge')?.textContent?.trim() ?? 'none';
    }
    return 'missing';
  }, 'forge');
  await recordChanges(board, (id) => {
    const el = document.querySelector(`#card-${id} .avatar`);
    if (!el) return 'missing';
    if (el.classList.contains('avatar-offline')) return 'offline';
    if (el.classList.contains('avatar-degraded')) return 'degraded';
    return 'online';
  }, mission.id);

  // The heartbeats stop.
  clearInterval(beating);

  await row.locator('.badge').filter({ hasText: 'Offline' }).waitFor();
  await waitUntil('the board avatar to show the workstation offline', async () =>
    /workstation offline, last reported working/.test(await avatar.innerText()),
  );

  const listSeen = await recorded(list);
  assert.ok(inOrder(listSeen, ['▲ Degraded', '○ Offline']), `the list went degraded then offline: ${JSON.stringify(listSeen)}`);
  assert.equal(listSeen[0], '● Online');
  const boardSeen = await recorded(board);
  assert.deepEqual(boardSeen, ['online', 'degraded', 'offline'], 'the board avatar went degraded then offline');
  assert.equal(await avatar.getAttribute('title'), 'Builder Bot on forge: workstation offline, last reported working');

  // The owner is told, urgently, that it went offline.
  await toasts(list, 'Workstation “forge” is offline').first().waitFor();

  const fromServer = await solo.api('ada', 'GET', `/api/workstations/${ws.id}`);
  assert.equal(fromServer.status, 'offline');
  await context.close();
});
