// The set-up every browser test file shares: one `solo serve` and one Chromium
// for the whole file, started in a `before` hook and ended in an `after` hook.
//
// A new test file is:
//
//   import { test } from 'node:test';
//   import { browserFixture } from './fixture.mjs';
//   import { waitForLive } from './harness.mjs';
//
//   const e2e = browserFixture();
//
//   test('…', { timeout: 120_000 }, async () => {
//     const { context, page } = await e2e.openAs('ada');
//     await waitForLive(page);
//     // … drive `page`, set data up with e2e.solo.api('ada', 'POST', …) …
//     await context.close();
//   });
//
// The fields are filled once `before` has run, so read them inside tests and
// hooks (`e2e.solo`), not at the top of the file. Every page opened through
// the fixture reports its console errors, uncaught exceptions and failed
// responses into `e2e.errors`, which `after` prints; a test may assert on them.
// What differs between files is an option (server environment, data seeded
// before the browser starts, a proxy to cut the realtime transports, a page
// signed in for the whole file) or a method (more people, more tabs, a browser
// permission).
import { after, before } from 'node:test';
import { closeBrowser, launchBrowser, newContext, signIn, startProxy, startSolo, watchErrors } from './harness.mjs';

/**
 * Registers the file's `before` and `after` hooks and returns the object they fill.
 *
 * @param {object} [options]
 * @param {Record<string, string>} [options.env] extra environment of `solo serve` (faster heartbeats, polling…)
 * @param {boolean} [options.proxy] pages reach the server through {@link startProxy}, which can refuse the realtime transports
 * @param {(solo: any) => Promise<void>} [options.seed] runs once the server is up, before Chromium starts
 * @param {string} [options.signedIn] a user whose page `before` opens and signs in, as `e2e.context` and `e2e.page`
 */
export function browserFixture({ env = {}, proxy = false, seed, signedIn } = {}) {
  const cleanups = [];
  const e2e = {
    /** The server ({@link startSolo}): `base`, `users`, `api(user, method, path, body)`. */
    solo: null,
    /** The proxy in front of the server, with the `proxy` option. */
    proxy: null,
    /** Where pages load the app: the proxy when there is one, else the server. */
    base: null,
    browser: null,
    /** The `signedIn` user's context and page. */
    context: null,
    page: null,
    /** What went wrong in the pages, one line each. */
    errors: [],

    /** A fresh browser context: its own cookies, one signed-in person. */
    newContext(options) {
      return newContext(e2e.browser, options);
    },

    /** A new page (a tab) of `context`, its errors collected. */
    async newPage(context) {
      const page = await context.newPage();
      watchErrors(page, e2e.errors);
      return page;
    },

    /**
     * A page of `user`, signed in through the login page, in a context of its own.
     *
     * @param {string} user
     * @param {object} [options]
     * @param {string[]} [options.permissions] granted to the app's origin before the page opens
     * @param {() => void} [options.init] runs in every page before the app does (`context.addInitScript`)
     */
    async openAs(user, { permissions = [], init } = {}) {
      const context = await e2e.newContext();
      if (permissions.length) await context.grantPermissions(permissions, { origin: e2e.base });
      if (init) await context.addInitScript(init);
      const page = await e2e.newPage(context);
      await signIn(page, e2e.base, user);
      return { context, page };
    },

    /** Runs `fn` when the file's tests are over, before the browser and the server stop (latest first). */
    cleanup(fn) {
      cleanups.unshift(fn);
    },
  };

  before(async () => {
    e2e.solo = await startSolo(env);
    if (proxy) e2e.proxy = await startProxy(e2e.solo.port);
    e2e.base = e2e.proxy?.url ?? e2e.solo.base;
    if (seed) await seed(e2e.solo);
    e2e.browser = await launchBrowser();
    if (signedIn) ({ context: e2e.context, page: e2e.page } = await e2e.openAs(signedIn));
  }, { timeout: 90_000 });

  after(async () => {
    try {
      for (const fn of cleanups) await fn();
    } finally {
      await closeBrowser(e2e.browser);
      await e2e.proxy?.close();
      await e2e.solo?.stop();
      if (e2e.errors.length) console.log(`browser errors seen:\n${e2e.errors.join('\n')}`);
    }
  }, { timeout: 90_000 });

  return e2e;
}
