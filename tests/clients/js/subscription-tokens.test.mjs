// centrifuge-js reads an integrator's channel with a subscription token from
// its `getToken`, and refreshes it before it runs out, as with Centrifugo.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Centrifuge } from 'centrifuge';
import WebSocket from 'ws';
import { startSolo, waitFor } from './solo.mjs';

const API_KEY = 'js-tests-server-api-key-0123';

test('centrifuge-js subscribes with a subscription token and refreshes it', async () => {
  const solo = await startSolo({ SOLO_INTEGRATION_NAMESPACES: 'chat', SOLO_SERVER_API_KEY: API_KEY });
  let client;
  try {
    const publish = async (data) => {
      const response = await fetch(`${solo.base}/centrifugo/api/publish`, {
        method: 'POST',
        headers: { 'x-api-key': API_KEY, 'content-type': 'application/json' },
        body: JSON.stringify({ channel: 'chat:lobby', data }),
      });
      assert.equal(response.status, 200);
      const reply = await response.json();
      assert.equal(reply.error, undefined, JSON.stringify(reply));
    };
    client = new Centrifuge(solo.wsUrl, {
      websocket: WebSocket,
      getToken: async () => (await solo.post('/api/realtime/token')).token,
    });
    // As an integrator's backend would: a short-lived token, signed on demand.
    const tokens = [];
    const sub = client.newSubscription('chat:lobby', {
      getToken: async (ctx) => {
        assert.equal(ctx.channel, 'chat:lobby');
        const token = solo.admin('subscription-token', '--user', 'ada', '--channel', 'chat:lobby', '--ttl-secs', '3');
        tokens.push(token);
        return token;
      },
    });
    const publications = [];
    const subscribed = [];
    const unsubscribed = [];
    sub.on('publication', (ctx) => publications.push(ctx));
    sub.on('subscribed', (ctx) => subscribed.push(ctx));
    sub.on('unsubscribed', (ctx) => unsubscribed.push(ctx));
    sub.subscribe();
    client.connect();
    await waitFor('subscribed', () => subscribed.length === 1);

    await publish({ text: 'hello' });
    await waitFor('a publication', () => publications.length === 1);
    // Every publication is an event envelope; the backend's data is inside it.
    assert.equal(publications[0].data.type, 'server.published');
    assert.deepEqual(publications[0].data.data.data, { text: 'hello' });

    // Past the first token's life the SDK has fetched a new one and sent it
    // (sub_refresh); the subscription is still the same one, and live.
    await waitFor('a refreshed token', () => tokens.length >= 2, 10_000);
    await new Promise((r) => setTimeout(r, 1500));
    await publish({ text: 'still here' });
    await waitFor('a publication after the refresh', () => publications.length === 2);
    assert.equal(publications[1].data.data.data.text, 'still here');
    assert.equal(subscribed.length, 1, 'refreshed, not resubscribed');
    assert.equal(unsubscribed.length, 0);
  } finally {
    client?.disconnect();
    await solo.stop();
  }
});
