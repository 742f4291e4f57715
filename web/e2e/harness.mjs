// Shared helpers of the end-to-end tests: a real `solo serve` with a fresh data
// directory, a TCP proxy that can make the realtime transports unreachable,
// Debian's Chromium driven by playwright-core, and waits bounded in time.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, normalize, resolve, sep } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
export const WEB_ROOT = resolve(here, '..');
export const REPO_ROOT = resolve(WEB_ROOT, '..');
export const SOLO_BIN = process.env.SOLO_BIN ?? join(REPO_ROOT, 'target/debug/solo');
export const CHROMIUM = process.env.E2E_CHROMIUM ?? '/usr/bin/chromium';
export const SCREENSHOT_DIR = process.env.E2E_SCREENSHOT_DIR ?? join(REPO_ROOT, 'target/e2e-screenshots');
/** When set, pages load the UI from this built directory (e.g. web/dist) instead of the one embedded in the binary. */
export const WEB_DIST = process.env.E2E_WEB_DIST ? resolve(WEB_ROOT, process.env.E2E_WEB_DIST) : null;

/** How long one awaited condition may take. */
export const TIMEOUT = 20_000;
/** Every user's web password. */
export const PASSWORD = 'e2e-password-1';

// ---------------------------------------------------------------- waiting

export const delay = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Polls `check` (sync or async) until it returns a truthy value, which is
 * returned; throws after `timeoutMs`, with the last value or error seen.
 */
export async function waitUntil(what, check, timeoutMs = TIMEOUT, everyMs = 100) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      const value = await check();
      if (value) return value;
      last = value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) {
      const detail = last instanceof Error ? last.message : JSON.stringify(last);
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${detail})`);
    }
    await delay(everyMs);
  }
}

/** Resolves with `promise`, or rejects once `ms` have passed. */
export function within(ms, promise, what = 'an operation') {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took more than ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

// ---------------------------------------------------------------- server

function cleanEnv(extra) {
  const env = { ...process.env, NO_COLOR: '1', ...extra };
  for (const name of ['SOLO_DATABASE_URL', 'SOLO_ADDR', 'SOLO_DATA_DIR', 'SOLO_CONFIG']) delete env[name];
  return env;
}

const running = new Set();
// A test process that dies anyway takes its servers with it.
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/**
 * Starts `solo serve` on a free loopback port in a fresh directory, with the
 * users `ada` (admin) and `bo` (member) of workspace `acme`, each with a web
 * password and a personal access token for API set-up calls.
 */
export async function startSolo(extraEnv = {}) {
  if (!existsSync(SOLO_BIN)) throw new Error(`no server binary at ${SOLO_BIN} (build it, or set SOLO_BIN)`);
  const dir = mkdtempSync(join(tmpdir(), 'solo-e2e-'));
  const env = cleanEnv(extraEnv);
  const admin = (args, input) =>
    execFileSync(SOLO_BIN, ['admin', ...args], {
      cwd: dir,
      env,
      input,
      encoding: 'utf8',
      timeout: 30_000,
      stdio: ['pipe', 'pipe', 'pipe'],
    }).trim();

  const users = {};
  for (const [name, role] of [
    ['ada', ['--admin']],
    ['bo', []],
  ]) {
    admin(['user', 'create', name, '--workspace', 'acme', ...role, '--password-stdin'], `${PASSWORD}\n`);
    const pat = admin(['token', 'create', '--user', name, '--name', 'e2e']);
    users[name] = { name, pat, id: null };
  }

  const child = spawn(SOLO_BIN, ['serve', '--addr', '127.0.0.1:0'], {
    cwd: dir,
    env: { ...env, SOLO_LOG_FORMAT: 'json' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  running.add(child);
  const exited = new Promise((r) => child.once('exit', (code, signal) => r({ code, signal })));
  exited.then(() => running.delete(child));

  // Every stderr line is read for as long as the server runs (a full pipe would stall it).
  const logs = [];
  const lines = createInterface({ input: child.stderr });
  let onLine = () => undefined;
  lines.on('line', (line) => {
    logs.push(line);
    if (logs.length > 500) logs.shift();
    onLine(line);
  });

  let addr;
  try {
    addr = await within(
      30_000,
      new Promise((resolveAddr, reject) => {
        exited.then(({ code, signal }) => reject(new Error(`solo exited early (${code ?? signal}):\n${logs.join('\n')}`)));
        onLine = (line) => {
          try {
            const entry = JSON.parse(line);
            if (entry.message === 'solo is serving' && typeof entry.addr === 'string') resolveAddr(entry.addr);
          } catch {
            // not JSON: ignore
          }
        };
      }),
      'solo serve start-up',
    );
  } catch (error) {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  onLine = () => undefined;
  if (!/^127\.0\.0\.1:\d+$/.test(addr)) throw new Error(`unexpected address ${addr}`);
  const base = `http://${addr}`;

  /** Calls the API as `user` with their token; resolves to the JSON body. */
  async function api(user, method, path, body) {
    const response = await fetch(base + path, {
      method,
      headers: {
        authorization: `Bearer ${users[user].pat}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(15_000),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`${user}: ${method} ${path} answered ${response.status} ${text}`);
    return text ? JSON.parse(text) : null;
  }

  for (const name of Object.keys(users)) users[name].id = (await api(name, 'GET', '/api/me')).id;

  let stopped = null;
  return {
    base,
    addr,
    port: Number(addr.split(':')[1]),
    dir,
    users,
    logs,
    api,
    /** Ends the server with SIGTERM (SIGKILL after 10 s) and removes its directory. */
    stop() {
      stopped ??= (async () => {
        if (child.exitCode === null && child.signalCode === null) {
          child.kill('SIGTERM');
          try {
            await within(10_000, exited, 'solo shutdown');
          } catch {
            child.kill('SIGKILL');
            await within(5_000, exited, 'solo kill').catch(() => undefined);
          }
        }
        lines.close();
        rmSync(dir, { recursive: true, force: true });
      })();
      return stopped;
    },
  };
}

// ---------------------------------------------------------------- CLI

/**
 * Runs the `solo` CLI as `user` of the fixture's server (SOLO_SERVER and
 * SOLO_TOKEN, a config home of its own), collecting its output lines; it is
 * stopped, if still running, when the file's tests end.
 *
 * @returns {{ child: import('node:child_process').ChildProcess, out: string[], err: string[], exited: Promise<number | null> }}
 */
export function startCli(e2e, user, args) {
  const home = mkdtempSync(join(tmpdir(), 'solo-e2e-cli-'));
  const env = cleanEnv({ XDG_CONFIG_HOME: home, SOLO_SERVER: e2e.solo.base, SOLO_TOKEN: e2e.solo.users[user].pat });
  const child = spawn(SOLO_BIN, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const out = [];
  const err = [];
  createInterface({ input: child.stdout }).on('line', (l) => out.push(l));
  createInterface({ input: child.stderr }).on('line', (l) => err.push(l));
  const exited = new Promise((r) => child.once('exit', (code) => r(code)));
  e2e.cleanup(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
    rmSync(home, { recursive: true, force: true });
  });
  return { child, out, err, exited };
}

// ---------------------------------------------------------------- proxy

/** The realtime transports the web UI tries, in its order; the proxy can refuse any of them. */
export const REALTIME_TRANSPORTS = ['websocket', 'http_stream', 'sse'];

const REQUEST_LINE = /^[A-Z]+ (\S+) HTTP\/1\.[01]\r\n/;
const WEBSOCKET_UPGRADE = /\r\nupgrade:[ \t]*websocket[ \t]*\r\n/i;

/**
 * What a request carries, read from the chunk that starts it: a realtime
 * transport, `emulation` (the HTTP transports' later commands) or null
 * (anything else); undefined when the chunk starts no request (a body, frames).
 */
function requestKind(chunk) {
  const head = chunk.toString('latin1');
  const line = REQUEST_LINE.exec(head);
  if (!line) return undefined;
  if (WEBSOCKET_UPGRADE.test(head)) return 'websocket';
  const path = line[1].split('?')[0];
  if (path === '/connection/http_stream') return 'http_stream';
  if (path === '/connection/sse') return 'sse';
  if (path === '/emulation') return 'emulation';
  return null;
}

/**
 * A TCP proxy on a free loopback port, forwarding to `targetPort`. While
 * blocked, it refuses the realtime transports named (closes the connection on
 * their request, as a proxy that does not allow them would) and cuts the
 * connections carrying them; everything else keeps working.
 */
export async function startProxy(targetPort) {
  const blocked = new Set();
  const sockets = new Set();
  /** Every client connection with its upstream, and what its latest request carries. */
  const pairs = new Set();

  // The HTTP transports' commands go to /emulation: refused once no stream could be open.
  const refuses = (kind) =>
    kind === 'emulation' ? blocked.has('http_stream') && blocked.has('sse') : kind !== null && blocked.has(kind);

  const server = net.createServer((client) => {
    sockets.add(client);
    const upstream = net.connect({ host: '127.0.0.1', port: targetPort });
    sockets.add(upstream);
    const pair = { client, upstream, kind: null };
    pairs.add(pair);
    const end = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
      pairs.delete(pair);
    };
    client.on('error', end);
    upstream.on('error', end);
    client.on('close', end);
    upstream.on('close', end);

    client.on('data', (chunk) => {
      // Once upgraded, only WebSocket frames flow: no need to look any more.
      // Otherwise a kept-alive connection may carry a different request next.
      if (pair.kind !== 'websocket') {
        const kind = requestKind(chunk);
        if (kind !== undefined) pair.kind = kind;
      }
      if (refuses(pair.kind)) {
        end();
        return;
      }
      if (!upstream.write(chunk)) client.pause();
    });
    upstream.on('drain', () => client.resume());
    upstream.on('data', (chunk) => {
      if (!client.write(chunk)) upstream.pause();
    });
    client.on('drain', () => upstream.resume());
  });

  await new Promise((r, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', r);
  });
  const { port } = server.address();

  const count = (kind) => [...pairs].filter((pair) => pair.kind === kind).length;

  return {
    port,
    url: `http://127.0.0.1:${port}`,
    /** True while it refuses any transport. */
    get blocked() {
      return blocked.size > 0;
    },
    /**
     * Refuses the transports named (all of them by default: the UI can only
     * poll), and cuts the connections carrying them, until `unblock`.
     *
     * @param {string[]} [transports] some of {@link REALTIME_TRANSPORTS}
     */
    block(transports = REALTIME_TRANSPORTS) {
      for (const transport of transports) {
        if (!REALTIME_TRANSPORTS.includes(transport)) throw new Error(`no realtime transport ${transport}`);
        blocked.add(transport);
      }
      for (const pair of [...pairs]) {
        if (!refuses(pair.kind)) continue;
        pair.client.destroy();
        pair.upstream.destroy();
        pairs.delete(pair);
      }
    },
    unblock() {
      blocked.clear();
    },
    /** How many WebSocket connections it carries now. */
    get websocketCount() {
      return count('websocket');
    },
    /** How many open connections carry `kind` now (a transport, or `emulation`). */
    count,
    async close() {
      for (const socket of sockets) socket.destroy();
      await within(5_000, new Promise((r) => server.close(() => r())), 'proxy close').catch(() => undefined);
    },
  };
}

// ---------------------------------------------------------------- browser

export async function launchBrowser() {
  if (!existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM} (apt-get install -y chromium)`);
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    timeout: 60_000,
    args: [
      '--headless=new',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      // A page served by the test (E2E_WEB_DIST) has no address of its own, so
      // Chromium would take its socket to the loopback server for a local-network request.
      ...(WEB_DIST ? ['--disable-features=LocalNetworkAccessChecks,LocalNetworkAccessChecksWebSockets'] : []),
    ],
  });
}

/** Closes the browser, giving up (and killing it) after 15 s. */
export async function closeBrowser(browser) {
  if (!browser) return;
  try {
    await within(15_000, browser.close(), 'browser close');
  } catch {
    // Playwright's launch owns the process; a hung close leaves only this.
    browser.process?.()?.kill('SIGKILL');
  }
}

const CONTENT_TYPES = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.css': 'text/css', '.svg': 'image/svg+xml' };

/** Serves the UI from {@link WEB_DIST} (index.html for client-side routes); the API and the realtime transports go to the server. */
async function serveWebDist(context) {
  await context.route(
    (url) =>
      url.hostname === '127.0.0.1' &&
      !url.pathname.startsWith('/api/') &&
      !url.pathname.startsWith('/connection/') &&
      url.pathname !== '/emulation',
    async (route) => {
      const { pathname } = new URL(route.request().url());
      const candidate = normalize(join(WEB_DIST, decodeURIComponent(pathname)));
      const inside = candidate.startsWith(WEB_DIST + sep);
      const file = inside && existsSync(candidate) && statSync(candidate).isFile() ? candidate : join(WEB_DIST, 'index.html');
      const ext = file.slice(file.lastIndexOf('.'));
      await route.fulfill({ path: file, headers: { 'content-type': CONTENT_TYPES[ext] ?? 'application/octet-stream' } });
    },
  );
}

/** A fresh browser context (its own cookies: one signed-in person). */
export async function newContext(browser, options = {}) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 }, reducedMotion: 'reduce', ...options });
  context.setDefaultTimeout(TIMEOUT);
  if (WEB_DIST) await serveWebDist(context);
  return context;
}

/** Collects a page's console errors and uncaught exceptions, for failure messages. */
export function watchErrors(page, into = []) {
  page.on('pageerror', (error) => into.push(`pageerror: ${error.message}`));
  page.on('console', (message) => {
    // Failed responses are reported below, with their address.
    if (message.type() === 'error' && !message.text().startsWith('Failed to load resource')) {
      into.push(`console: ${message.text()}`);
    }
  });
  page.on('response', (response) => {
    if (response.status() >= 400) into.push(`${response.status()} ${response.request().method()} ${response.url()}`);
  });
  return into;
}

/** Opens `baseUrl` and signs in through the login page. */
export async function signIn(page, baseUrl, username, password = PASSWORD) {
  await page.goto(`${baseUrl}/`);
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Launchpad', level: 1 }).waitFor();
}

/** Goes to a page through the main navigation, as a person would (no reload). */
export async function navigate(page, linkName) {
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: linkName }).click();
}

/** The unread count the header badge announces, or null while it is not loaded. */
export async function unreadBadge(page) {
  const label = await page.locator('nav[aria-label="Main"] a[href="/notifications"]').getAttribute('aria-label');
  const match = /, (\d+) unread$/.exec(label ?? '');
  return match ? Number(match[1]) : null;
}

export async function waitForBadge(page, count, what = 'the unread badge') {
  let seen;
  try {
    await waitUntil(`${what} to read ${count}`, async () => (seen = await unreadBadge(page)) === count);
  } catch (error) {
    throw new Error(`${error.message}; it reads ${seen}`);
  }
  return seen;
}

/** The connection indicator's words: Live, Live (streaming), Reconnecting… or Offline. */
export async function connectionStatus(page) {
  return (await page.locator('.site-header [role="status"].connection').innerText()).replace(/^\W+/, '').trim();
}

/** Waits for the connection to be live over WebSocket. */
export async function waitForLive(page, timeoutMs = TIMEOUT) {
  await waitUntil('the realtime connection to be live', async () => (await connectionStatus(page)).endsWith('Live'), timeoutMs);
}

/** Waits for the connection to be live over HTTP-streaming or SSE (WebSocket refused). */
export async function waitForStreaming(page, timeoutMs = TIMEOUT) {
  await waitUntil(
    'the realtime connection to be live over a stream',
    async () => (await connectionStatus(page)).endsWith('Live (streaming)'),
    timeoutMs,
  );
}

/** Toasts whose text contains `text`. */
export function toasts(page, text) {
  return page.locator('[data-sonner-toast]').filter({ hasText: text });
}

export function ensureScreenshotDir() {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  return SCREENSHOT_DIR;
}
