// The official centrifuge JS SDK's protobuf build, unchanged, against Solo:
// over WebSocket (negotiated by the `centrifuge-protobuf` subprotocol) and over
// HTTP-streaming (protobuf bodies, emulation requests in protobuf): connect,
// subscribe, receive, publish (refused: every channel is server-owned),
// history, presence, and a reconnect that recovers what it missed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Centrifuge } from 'centrifuge/build/protobuf';
import WebSocket from 'ws';
import { startSolo, waitFor } from './solo.mjs';

const REFUSED_WEBSOCKET = 'ws://127.0.0.1:1/connection/websocket';

/** A publication's data: in protobuf, the event envelope's JSON as bytes. */
const envelopeOf = (publication) => JSON.parse(Buffer.from(publication.data).toString('utf8'));

async function speaksProtobuf(expected, transports) {
  const solo = await startSolo();
  let client;
  try {
    const mission = await solo.post('/api/missions', { title: `protobuf over ${expected}` });
    const stage = (to) => solo.post(`/api/missions/${mission.id}/stage`, { stage: to });

    client = new Centrifuge(transports(solo), {
      websocket: WebSocket,
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
    await waitFor('subscribed', () => subscribed.length === 1);
    assert.equal(subscribed[0].recoverable, true);

    await stage('spec');
    await waitFor('a live publication', () => publications.length === 1);
    const first = publications[0];
    assert.ok(first.data instanceof Uint8Array, 'protobuf data arrives as bytes');
    assert.equal(envelopeOf(first).type, 'mission.stage_changed');
    assert.equal(envelopeOf(first).data.to, 'spec');
    assert.equal(first.tags.type, 'mission.stage_changed');

    // Clients read; only the server API and the product publish.
    await assert.rejects(sub.publish(new TextEncoder().encode('{"x":1}')), (e) => e.code === 103);

    const presence = await sub.presence();
    const present = Object.values(presence.clients);
    assert.equal(present.length, 1);
    assert.equal(present[0].client, connected[0].client);
    const stats = await sub.presenceStats();
    assert.equal(stats.numClients, 1);

    client.disconnect();
    for (const to of ['build', 'review']) await stage(to);
    client.connect();
    await waitFor('reconnected', () => connected.length === 2);
    await waitFor('resubscribed', () => subscribed.length === 2);
    assert.equal(subscribed[1].recovered, true);
    await waitFor('recovered publications', () => publications.length === 3);
    assert.deepEqual(publications.map((p) => p.offset), [first.offset, first.offset + 1, first.offset + 2]);
    assert.deepEqual(publications.slice(1).map((p) => envelopeOf(p).data.to), ['build', 'review']);

    const history = await sub.history({ limit: 10 });
    // (It begins with the mission's creation.)
    const lastThree = history.publications.slice(-3);
    assert.deepEqual(lastThree.map((p) => p.offset), [first.offset, first.offset + 1, first.offset + 2]);
    assert.equal(envelopeOf(lastThree[2]).data.to, 'review');
  } finally {
    client?.disconnect();
    await solo.stop();
  }
}

test('centrifuge-js (protobuf build) over WebSocket', async () => {
  await speaksProtobuf('websocket', (solo) => solo.wsUrl);
});

test('centrifuge-js (protobuf build) over HTTP-streaming when WebSocket is refused', async () => {
  await speaksProtobuf('http_stream', (solo) => [
    { transport: 'websocket', endpoint: REFUSED_WEBSOCKET },
    { transport: 'http_stream', endpoint: `${solo.base}/connection/http_stream` },
  ]);
});
