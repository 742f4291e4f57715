// Starts a real `solo serve` on a free port with a fresh data directory, and
// bootstraps a user and a PAT with `solo admin`, as a newcomer would.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const bin = process.env.SOLO_BIN ?? join(repoRoot, 'target/debug/solo');

function cleanEnv(extra) {
  const env = { ...process.env, NO_COLOR: '1', ...extra };
  delete env.SOLO_DATABASE_URL;
  delete env.SOLO_ADDR;
  delete env.SOLO_DATA_DIR;
  return env;
}

export async function startSolo(extraEnv = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'solo-js-'));
  const env = cleanEnv(extraEnv);
  const admin = (...args) => execFileSync(bin, ['admin', ...args], { cwd: dir, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  admin('user', 'create', 'ada', '--workspace', 'acme', '--admin');
  const pat = admin('token', 'create', '--user', 'ada', '--name', 'js-tests').trim();

  const child = spawn(bin, ['serve', '--addr', '127.0.0.1:0'], { cwd: dir, env: { ...env, SOLO_LOG_FORMAT: 'json' }, stdio: ['ignore', 'ignore', 'pipe'] });
  const lines = createInterface({ input: child.stderr });
  const addr = await new Promise((resolveAddr, reject) => {
    child.once('exit', (code) => reject(new Error(`solo exited early with ${code}`)));
    lines.on('line', (line) => {
      try {
        const entry = JSON.parse(line);
        if (entry.message === 'solo is serving') resolveAddr(entry.addr);
      } catch { /* not a log line we need */ }
    });
  });
  const base = `http://${addr}`;

  async function call(method, path, body) {
    const response = await fetch(base + path, {
      method,
      headers: { authorization: `Bearer ${pat}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text}`);
    return text ? JSON.parse(text) : null;
  }

  return {
    base,
    wsUrl: `ws://${addr}/connection/websocket`,
    pat,
    /** `solo admin ARGS…` on the server's database; its standard output. */
    admin: (...args) => admin(...args).trim(),
    get: (path) => call('GET', path),
    post: (path, body) => call('POST', path, body ?? {}),
    async stop() {
      child.kill('SIGTERM');
      await new Promise((r) => (child.exitCode !== null ? r() : child.once('exit', r)));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export async function waitFor(what, check, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
