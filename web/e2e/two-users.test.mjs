// Two people at once: what one does reaches the other's board, toasts and
// badge without a reload, and reading it in one tab clears the badge in another.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { browserFixture } from './fixture.mjs';
import { navigate, toasts, unreadBadge, waitForBadge, waitForLive } from './harness.mjs';

const e2e = browserFixture();

test('a stage change by B reaches A live: board, toast, badge; reading it clears the badge in A’s other tab', { timeout: 120_000 }, async () => {
  const { solo } = e2e;
  const title = 'Wire the launch checklist';
  const mission = await solo.api('ada', 'POST', '/api/missions', { title });
  assert.equal(mission.stage, 'backlog');

  const { context: adaContext, page: adaBoard } = await e2e.openAs('ada');
  const { context: boContext, page: boBoard } = await e2e.openAs('bo');
  // A's second tab shares the session (same context).
  const adaOther = await e2e.newPage(adaContext);
  await adaOther.goto(`${solo.base}/workstations`);
  await adaOther.getByRole('heading', { name: 'Workstations', level: 1 }).waitFor();

  await navigate(adaBoard, 'Board');
  await navigate(boBoard, 'Board');
  const adaCard = adaBoard.locator(`#card-${mission.id}`);
  await adaBoard.locator(`section[aria-labelledby="col-backlog"] #card-${mission.id}`).waitFor();
  for (const page of [adaBoard, boBoard, adaOther]) await waitForLive(page);

  const before = await waitForBadge(adaBoard, 0, 'A’s badge');
  assert.equal(await waitForBadge(adaOther, 0, 'the badge in A’s second tab'), before);

  // B moves A's mission to Spec from B's board.
  await boBoard.getByRole('button', { name: `Move “${title}” to Spec` }).click();
  await boBoard.locator(`section[aria-labelledby="col-spec"] #card-${mission.id}`).waitFor();

  // A's board follows without a reload.
  await adaBoard.locator(`section[aria-labelledby="col-spec"] #card-${mission.id}`).waitFor();
  assert.equal(await adaBoard.locator(`section[aria-labelledby="col-backlog"] #card-${mission.id}`).count(), 0);
  assert.equal(await adaCard.count(), 1, 'the card is shown once');

  // A toast, and the badge up by one, in both of A's tabs.
  const toastText = `“${title}” moved to spec`;
  await toasts(adaBoard, toastText).first().waitFor();
  assert.match(await toasts(adaBoard, toastText).first().innerText(), /bo moved it from backlog to spec/);
  await waitForBadge(adaBoard, before + 1, 'A’s badge');
  await waitForBadge(adaOther, before + 1, 'the badge in A’s second tab');
  // B acted: B is not notified.
  assert.equal(await unreadBadge(boBoard), 0);
  assert.equal(await toasts(boBoard, toastText).count(), 0);

  // A reads it in the inbox.
  await navigate(adaBoard, /^Notifications/);
  await adaBoard.getByRole('heading', { name: 'Notifications', level: 1 }).waitFor();
  const item = adaBoard.locator('li.notification').filter({ hasText: toastText });
  await item.waitFor();
  assert.equal(await item.count(), 1);
  await item.getByRole('button', { name: `Mark read: ${toastText}` }).click();
  await item.getByRole('button', { name: `Mark unread: ${toastText}` }).waitFor();

  // The second tab hears it and goes down, without a reload.
  const navigations = [];
  adaOther.on('framenavigated', (frame) => frame === adaOther.mainFrame() && navigations.push(frame.url()));
  await waitForBadge(adaOther, before, 'the badge in A’s second tab');
  await waitForBadge(adaBoard, before, 'A’s badge');
  assert.deepEqual(navigations, [], 'the second tab was not reloaded');

  const counts = await solo.api('ada', 'GET', '/api/notifications/unread-count');
  assert.equal(counts.total, before);

  await adaContext.close();
  await boContext.close();
});
