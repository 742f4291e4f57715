// The official centrifuge JS SDK, unchanged, against a real Solo server:
// token from a PAT, live publications, and recovery across a disconnect.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Centrifuge } from 'centrifuge';
import WebSocket from 'ws';
import { startSolo, waitFor } from './solo.mjs';

test('centrifuge-js receives stage changes and recovers exactly what it missed', async () => {
  const solo = await startSolo({ SOLO_RECOVERY_MAX_PUBLICATIONS: '10' });
  let client;
  try {
    const mission = await solo.post('/api/missions', { title: 'JS SDK' });
    const stage = (to) => solo.post(`/api/missions/${mission.id}/stage`, { stage: to });

    client = new Centrifuge(solo.wsUrl, {
      websocket: WebSocket,
      getToken: async () => (await solo.post('/api/realtime/token')).token,
      minReconnectDelay: 50,
    });
    const sub = client.newSubscription(`mission:${mission.id}`);
    const publications = [];
    const subscribed = [];
    sub.on('publication', (ctx) => publications.push(ctx));
    sub.on('subscribed', (ctx) => subscribed.push(ctx));
    sub.subscribe();
    client.connect();
    await waitFor('first subscribe', () => subscribed.length === 1);
    assert.equal(subscribed[0].recoverable, true);
    assert.equal(subscribed[0].streamPosition.offset, 1);

    await stage('spec');
    await waitFor('live publication', () => publications.length === 1);
    assert.equal(publications[0].data.type, 'mission.stage_changed');
    assert.equal(publications[0].data.data.to, 'spec');
    assert.equal(publications[0].offset, 2);
    assert.equal(publications[0].tags.type, 'mission.stage_changed');

    client.disconnect();
    for (const to of ['build', 'review', 'done', 'review', 'build']) await stage(to);
    client.connect();
    await waitFor('resubscribe', () => subscribed.length === 2);
    assert.equal(subscribed[1].wasRecovering, true);
    assert.equal(subscribed[1].recovered, true);
    await waitFor('recovered publications', () => publications.length === 6);
    assert.deepEqual(publications.slice(1).map((p) => p.offset), [3, 4, 5, 6, 7]);
    assert.deepEqual(publications.slice(1).map((p) => p.data.data.to), ['build', 'review', 'done', 'review', 'build']);
    assert.equal(new Set(publications.map((p) => p.data.id)).size, 6, 'no duplicates');

    // Away past the recovery limit (10 here): told to reload, given nothing partial.
    client.disconnect();
    for (let i = 0; i < 12; i++) await stage(i % 2 === 0 ? 'review' : 'build');
    client.connect();
    await waitFor('third subscribe', () => subscribed.length === 3);
    assert.equal(subscribed[2].wasRecovering, true);
    assert.equal(subscribed[2].recovered, false);
    assert.equal(subscribed[2].streamPosition.offset, 19);
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(publications.length, 6, 'no partial recovery');

    // And live again from the new position.
    await stage('review');
    await waitFor('live after reload', () => publications.length === 7);
    assert.equal(publications[6].offset, 20);
  } finally {
    client?.disconnect();
    await solo.stop();
  }
});

test('centrifuge-js is refused another user\'s notifications with 103', async () => {
  const solo = await startSolo();
  let client;
  try {
    client = new Centrifuge(solo.wsUrl, {
      websocket: WebSocket,
      getToken: async () => (await solo.post('/api/realtime/token')).token,
    });
    const errors = [];
    const sub = client.newSubscription('notifications:u_0193f0c2a1b27c3d8e9f0a1b2c3d4e5f');
    sub.on('error', (ctx) => errors.push(ctx));
    const unsubscribed = [];
    sub.on('unsubscribed', (ctx) => unsubscribed.push(ctx));
    sub.subscribe();
    client.connect();
    await waitFor('subscribe refused', () => unsubscribed.length === 1 || errors.length === 1);
    const code = unsubscribed[0]?.code ?? errors[0]?.error?.code;
    assert.equal(code, 103);
  } finally {
    client?.disconnect();
    await solo.stop();
  }
});
