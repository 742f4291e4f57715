// The official centrifuge JS SDK, unchanged, on a network that refuses
// WebSocket: it falls back to HTTP-streaming, or to SSE when that fails too,
// and on each it subscribes, receives, reconnects and recovers with no gap.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Centrifuge } from 'centrifuge';
import { EventSource } from 'eventsource';
import WebSocket from 'ws';
import { startSolo, waitFor } from './solo.mjs';

// Port 1 refuses connections: the WebSocket attempt fails as a blocking proxy would make it.
const REFUSED_WEBSOCKET = 'ws://127.0.0.1:1/connection/websocket';

async function fallsBackAndRecovers(expected, transports) {
  const solo = await startSolo();
  let client;
  try {
    const mission = await solo.post('/api/missions', { title: `over ${expected}` });
    const stage = (to) => solo.post(`/api/missions/${mission.id}/stage`, { stage: to });

    client = new Centrifuge(transports(solo.base), {
      websocket: WebSocket,
      eventsource: EventSource,
      emulationEndpoint: `${solo.base}/emulation`,
      getToken: async () => (await solo.post('/api/realtime/token')).token,
      minReconnectDelay: 50,
    });
    const connected = [];
    client.on('connected', (ctx) => connected.push(ctx));
    const sub = client.newSubscription(`mission:${mission.id}`);
    const publications = [];
    const subscribed = [];
    sub.on('publication', (ctx) => publications.push(ctx));
    sub.on('subscribed', (ctx) => subscribed.push(ctx));
    sub.subscribe();
    client.connect();
    await waitFor(`connected over ${expected}`, () => connected.length === 1);
    assert.equal(connected[0].transport, expected);
    await waitFor('first subscribe', () => subscribed.length === 1);
    assert.equal(subscribed[0].recoverable, true);

    // Presence and history are commands too: they go through the emulation endpoint.
    const presence = await sub.presence();
    assert.equal(Object.keys(presence.clients).length, 1);

    await stage('spec');
    await waitFor('live publication', () => publications.length === 1);
    assert.equal(publications[0].data.data.to, 'spec');
    const first = publications[0].offset;

    client.disconnect();
    for (const to of ['build', 'review', 'done']) await stage(to);
    client.connect();
    await waitFor('reconnected', () => connected.length === 2);
    assert.equal(connected[1].transport, expected, 'the transport that worked is kept');
    await waitFor('resubscribe', () => subscribed.length === 2);
    assert.equal(subscribed[1].recovered, true);
    await waitFor('recovered publications', () => publications.length === 4);
    assert.deepEqual(publications.map((p) => p.offset), [first, first + 1, first + 2, first + 3]);
    assert.deepEqual(publications.slice(1).map((p) => p.data.data.to), ['build', 'review', 'done']);

    await stage('review');
    await waitFor('live again', () => publications.length === 5);
    assert.equal(publications[4].offset, first + 4);
    const history = await sub.history({ limit: 10 });
    assert.equal(history.publications.at(-1).offset, first + 4);
  } finally {
    client?.disconnect();
    await solo.stop();
  }
}

test('centrifuge-js falls back to HTTP-streaming when WebSocket is refused', async () => {
  await fallsBackAndRecovers('http_stream', (base) => [
    { transport: 'websocket', endpoint: REFUSED_WEBSOCKET },
    { transport: 'http_stream', endpoint: `${base}/connection/http_stream` },
    { transport: 'sse', endpoint: `${base}/connection/sse` },
  ]);
});

test('centrifuge-js falls back to SSE when WebSocket and HTTP-streaming both fail', async () => {
  await fallsBackAndRecovers('sse', (base) => [
    { transport: 'websocket', endpoint: REFUSED_WEBSOCKET },
    // A proxy that answers streaming requests with 404.
    { transport: 'http_stream', endpoint: `${base}/connection/blocked` },
    { transport: 'sse', endpoint: `${base}/connection/sse` },
  ]);
});
