// cent.js, a Centrifugo server API client from the npm registry, unchanged,
// against Solo: every method it has, with a centrifuge-js subscriber that
// receives what it publishes and is subscribed, unsubscribed and disconnected
// by it; its pipeline (Centrifugo's command-line format); errors and a wrong key.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CentClient, CentException } from 'cent.js';
import { Centrifuge } from 'centrifuge';
import WebSocket from 'ws';
import { startSolo, waitFor } from './solo.mjs';

const KEY = 'js-server-api-key-0123456789';

test('cent.js calls every server API method against a live subscriber', async () => {
  const solo = await startSolo({ SOLO_SERVER_API_KEY: KEY });
  let client;
  try {
    const api = new CentClient({ url: `${solo.base}/centrifugo/api`, apiKey: KEY });
    const me = await solo.get('/api/me');
    const [user, workspace] = [me.id, me.workspaces[0].id];
    const [mine, board] = [`notifications:${user}`, `workspace:${workspace}`];

    client = new Centrifuge(solo.wsUrl, {
      websocket: WebSocket,
      getToken: async () => (await solo.post('/api/realtime/token')).token,
    });
    const server = { subscribed: [], publications: [], disconnected: [] };
    client.on('subscribed', (ctx) => server.subscribed.push(ctx));
    client.on('publication', (ctx) => server.publications.push(ctx));
    client.on('disconnected', (ctx) => server.disconnected.push(ctx));
    const sub = client.newSubscription(mine);
    const publications = [];
    const unsubscribed = [];
    sub.on('publication', (ctx) => publications.push(ctx));
    sub.on('unsubscribed', (ctx) => unsubscribed.push(ctx));
    sub.subscribe();
    client.connect();
    await sub.ready();

    // publish: committed with an offset, fanned out to the subscriber.
    const published = await api.publish({ channel: mine, data: { text: 'hello' } });
    assert.equal(published.offset, 1);
    assert.ok(published.epoch);
    await waitFor('the publication', () => publications.length === 1);
    assert.equal(publications[0].data.type, 'server.published');
    assert.deepEqual(publications[0].data.data.data, { text: 'hello' });

    // broadcast: each channel in its place, an unknown one refused alone.
    const broadcast = await api.broadcast({ channels: [mine, 'chat:lobby'], data: [1, 2] });
    assert.equal(broadcast.responses[0].result.offset, 2);
    assert.equal(broadcast.responses[1].error.code, 102);
    await waitFor('the broadcast', () => publications.length === 2);

    // presence, presence_stats, channels, info: the subscriber is seen.
    const presence = await api.getPresence({ channel: mine });
    assert.deepEqual(Object.values(presence.presence).map((c) => c.user), [user]);
    const stats = await api.getPresenceStats({ channel: mine });
    assert.deepEqual([stats.num_clients, stats.num_users], [1, 1]);
    const channels = await api.getChannels({ pattern: 'notifications:*' });
    assert.equal(channels.channels[mine].num_clients, 1);
    const info = await api.getInfo();
    assert.equal(info.nodes[0].num_clients, 1);

    // history, newest first too.
    const history = await api.getHistory({ channel: mine, limit: 10 });
    assert.deepEqual(history.publications.map((p) => p.offset), [1, 2]);
    const newest = await api.getHistory({ channel: mine, limit: 1, reverse: true });
    assert.deepEqual(newest.publications[0].data.data.data, [1, 2]);

    // subscribe: a server-side subscription the client announces, with its publications.
    await api.subscribe({ user, channel: board });
    await waitFor('the server-side subscription', () => server.subscribed.length === 1);
    assert.equal(server.subscribed[0].channel, board);
    await api.publish({ channel: board, data: { to: 'board' } });
    await waitFor('its publication', () => server.publications.length === 1);
    assert.deepEqual(server.publications[0].data.data.data, { to: 'board' });

    // unsubscribe: the client's own subscription ends.
    await api.unsubscribe({ user, channel: mine });
    await waitFor('unsubscribed', () => unsubscribed.length === 1);

    // refresh, history_remove.
    await api.refresh({ user, expire_at: Math.floor(Date.now() / 1000) + 3600 });
    await api.removeHistory({ channel: mine });
    const emptied = await api.getHistory({ channel: mine, limit: 10 });
    assert.deepEqual([emptied.publications ?? [], emptied.offset], [[], 2]);

    // pipeline: Centrifugo's command lines, answered line for line.
    const results = await api.pipeline([
      { method: 'publish', params: { channel: board, data: 'piped' } },
      { method: 'presence_stats', params: { channel: board } },
    ]);
    assert.ok(results[0].offset > 0, JSON.stringify(results));
    assert.equal(results[1].num_clients, 1);

    // Errors are thrown (cent.js keeps no code; the Python test checks the
    // numbers); a wrong key is refused.
    await assert.rejects(api.publish({ channel: 'chat:lobby', data: {} }), CentException);
    const intruder = new CentClient({ url: `${solo.base}/centrifugo/api`, apiKey: `${KEY}x` });
    await assert.rejects(intruder.getInfo(), CentException);

    // disconnect: the subscriber is gone, and told why.
    await api.disconnect({ user, disconnect: { code: 4500, reason: 'bye' } });
    await waitFor('disconnected', () => server.disconnected.length === 1);
    assert.equal(server.disconnected[0].code, 4500);
  } finally {
    client?.disconnect();
    await solo.stop();
  }
});
