// Quiet hours: a notification arriving inside the window is counted (badge)
// but does not pop up; an urgent one still does when allowed.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { browserFixture } from './fixture.mjs';
import { toasts, waitForBadge, waitForLive } from './harness.mjs';

const e2e = browserFixture();

/** `HH:MM` in UTC, `minutes` from now. */
function utcClock(minutes) {
  const at = new Date(Date.now() + minutes * 60_000);
  return `${String(at.getUTCHours()).padStart(2, '0')}:${String(at.getUTCMinutes()).padStart(2, '0')}`;
}

test('during quiet hours a new notification raises the badge without a toast', { timeout: 120_000 }, async () => {
  const { solo } = e2e;
  // A two-hour window around now (it may span midnight).
  const quietHours = { enabled: true, start: utcClock(-60), end: utcClock(60), timezone: 'UTC', allowUrgent: true };
  const saved = await solo.api('ada', 'PUT', '/api/me/preferences', { quietHours });
  assert.deepEqual(saved.quietHours, quietHours);

  const { context, page } = await e2e.openAs('ada');
  await waitForLive(page);
  await waitForBadge(page, 0);

  // The settings page shows the window as saved.
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Settings' }).click();
  await page.getByRole('heading', { name: 'Quiet hours' }).waitFor();
  assert.equal(await page.getByLabel('Enable quiet hours').isChecked(), true);
  assert.equal(await page.getByLabel('From', { exact: true }).inputValue(), quietHours.start);
  assert.equal(await page.getByLabel('To', { exact: true }).inputValue(), quietHours.end);

  const quietTitle = 'Nightly report is ready';
  const quiet = await solo.api('ada', 'POST', '/api/notifications', {
    userId: solo.users.ada.id,
    category: 'missions',
    title: quietTitle,
    severity: 'info',
  });
  assert.equal(quiet.quiet, true, 'the server marks it quiet');
  await waitForBadge(page, 1);

  // An urgent one, allowed through, comes after it on the same channel: once
  // its toast shows, the quiet one has been handled, and it made no toast.
  const urgentTitle = 'Production is down';
  const urgent = await solo.api('ada', 'POST', '/api/notifications', {
    userId: solo.users.ada.id,
    category: 'workstations',
    title: urgentTitle,
    severity: 'urgent',
  });
  assert.equal(urgent.quiet, false, 'urgent notifications pass through');
  await toasts(page, urgentTitle).first().waitFor();
  await waitForBadge(page, 2);
  assert.equal(await toasts(page, quietTitle).count(), 0, 'no toast for the quiet notification');
  assert.equal(await page.locator('[data-sonner-toast]').count(), 1, 'only the urgent toast');

  // It is in the inbox all the same.
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: /^Notifications/ }).click();
  await page.locator('li.notification.unread').filter({ hasText: quietTitle }).waitFor();
  await context.close();
});
