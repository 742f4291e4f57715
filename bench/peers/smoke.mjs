// Smoke test of the bench pub/sub peers: node bench/peers/smoke.mjs
// For each peer: start it on a free port, subscribe 3 WebSocket clients to
// channel "bench", publish 5 messages over HTTP, check every client got all 5
// in order, check /stats, stop it with SIGTERM. One line per peer; exit code 1
// if any peer failed.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import net from "node:net";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import WebSocket from "ws";

const here = dirname(fileURLToPath(import.meta.url));
const bun = join(here, "node_modules/bun/bin/bun.exe");
const peers = [
  { name: "bun-pubsub", command: bun, args: [join(here, "bun-pubsub.js")] },
  { name: "node-ws-pubsub", command: process.execPath, args: [join(here, "node-ws-pubsub.mjs")] },
];
const SUBSCRIBERS = 3;
const MESSAGES = Array.from({ length: 5 }, (_, i) => `message ${i + 1} of 5: «bench» ✓`);

function freePort() {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function start(peer, port) {
  const child = spawn(peer.command, peer.args, {
    cwd: here,
    env: { ...process.env, PORT: String(port) },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (chunk) => (stderr += chunk));
  const exited = new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
  const listening = new Promise((resolve, reject) => {
    let stdout = "";
    child.stdout.on("data", (chunk) => {
      stdout += chunk;
      const match = /^listening (\d+)$/m.exec(stdout);
      if (match) resolve(Number(match[1]));
    });
    child.once("error", reject);
    exited.then(({ code, signal }) =>
      reject(new Error(`exited before listening (code ${code}, signal ${signal}): ${stderr.trim()}`)),
    );
  });
  return { child, exited, listening };
}

function subscribe(port) {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/ws?channel=bench`, { perMessageDeflate: false });
  const received = [];
  ws.on("message", (data, isBinary) => received.push(isBinary ? "<binary frame>" : data.toString("utf8")));
  const opened = new Promise((resolve, reject) => {
    ws.once("open", () => {
      ws.send("clients may talk; the server ignores it");
      resolve();
    });
    ws.once("error", reject);
  });
  return { ws, received, opened };
}

async function until(check, ms, what) {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

async function smoke(peer) {
  const port = await freePort();
  const server = start(peer, port);
  const clients = [];
  try {
    const reported = await withTimeout(server.listening, 10_000, "waiting for 'listening'");
    if (reported !== port) throw new Error(`asked for port ${port}, it reported ${reported}`);

    for (let i = 0; i < SUBSCRIBERS; i++) clients.push(subscribe(port));
    await withTimeout(Promise.all(clients.map((c) => c.opened)), 5_000, "opening subscribers");

    for (const message of MESSAGES) {
      const res = await fetch(`http://127.0.0.1:${port}/publish?channel=bench`, {
        method: "POST",
        headers: { "content-type": "text/plain; charset=utf-8" },
        body: message,
      });
      if (res.status !== 204) throw new Error(`publish answered ${res.status}, expected 204`);
    }
    await until(
      () => clients.every((c) => c.received.length >= MESSAGES.length),
      5_000,
      "waiting for every subscriber to receive 5 messages",
    );
    clients.forEach((c, i) => {
      const got = JSON.stringify(c.received);
      if (got !== JSON.stringify(MESSAGES)) throw new Error(`subscriber ${i + 1} received ${got}`);
    });

    const stats = await (await fetch(`http://127.0.0.1:${port}/stats`)).json();
    if (stats.connections !== SUBSCRIBERS) {
      throw new Error(`/stats said ${JSON.stringify(stats)}, expected {"connections":${SUBSCRIBERS}}`);
    }

    server.child.kill("SIGTERM");
    const { code, signal } = await withTimeout(server.exited, 5_000, "waiting for exit after SIGTERM");
    if (code !== 0) throw new Error(`exit after SIGTERM: code ${code}, signal ${signal}`);
    return `ok   ${peer.name}: port ${port}, ${SUBSCRIBERS} subscribers x ${MESSAGES.length} messages in order, /stats ${JSON.stringify(stats)}, clean exit on SIGTERM`;
  } finally {
    for (const c of clients) c.ws.terminate();
    if (server.child.exitCode === null && server.child.signalCode === null) server.child.kill("SIGKILL");
  }
}

let failed = 0;
for (const peer of peers) {
  if (!existsSync(peer.command)) {
    console.log(`FAIL ${peer.name}: ${peer.command} is missing (run bench/peers/install)`);
    failed++;
    continue;
  }
  try {
    console.log(await smoke(peer));
  } catch (error) {
    console.log(`FAIL ${peer.name}: ${error.message}`);
    failed++;
  }
}
process.exit(failed ? 1 : 0);
