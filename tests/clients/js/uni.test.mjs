// A consumer with no SDK: `curl -N` on the unidirectional SSE endpoint gets
// the user's notifications with a token and nothing else, and resumes after a
// dropped stream from its Last-Event-ID, as EventSource does.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { startSolo, waitFor } from './solo.mjs';

/** Runs `curl -N` on `url`; collects the SSE events it prints. */
function curlEvents(url, headers = []) {
  const args = ['-N', '-s', ...headers.flatMap((h) => ['-H', h]), url];
  const child = spawn('curl', args, { stdio: ['ignore', 'pipe', 'ignore'] });
  const events = [];
  let id = null;
  let data = null;
  createInterface({ input: child.stdout }).on('line', (line) => {
    if (line.startsWith('id: ')) id = line.slice(4);
    else if (line.startsWith('data: ')) data = JSON.parse(line.slice(6));
    else if (line === '' && data !== null) {
      events.push({ id, data });
      id = null;
      data = null;
    }
  });
  return { events, stop: () => child.kill('SIGTERM') };
}

test('curl -N follows a user\'s notifications over SSE and resumes from Last-Event-ID', async () => {
  const solo = await startSolo();
  const curls = [];
  try {
    const me = await solo.get('/api/me');
    const notify = (title) => solo.post('/api/notifications', { userId: me.id, category: 'system', title });
    const { token } = await solo.post('/api/realtime/token');
    const url = `${solo.base}/connection/uni_sse?cf_connect=${encodeURIComponent(JSON.stringify({ token }))}`;
    const publications = (events) => events.filter((e) => e.data.pub);

    const first = curlEvents(url);
    curls.push(first);
    await waitFor('the connect event', () => first.events.length >= 1);
    assert.ok(first.events[0].data.connect.subs[`notifications:${me.id}`], 'following the inbox by default');

    await notify('build is green');
    await waitFor('a notification', () => publications(first.events).length === 1);
    const [seen] = publications(first.events);
    assert.equal(seen.data.channel, `notifications:${me.id}`);
    assert.equal(seen.data.pub.data.data.notification.title, 'build is green');
    first.stop();

    await notify('review requested');
    const again = curlEvents(url, [`Last-Event-ID: ${seen.id}`]);
    curls.push(again);
    await waitFor('the connect event', () => again.events.length >= 1);
    const sub = again.events[0].data.connect.subs[`notifications:${me.id}`];
    assert.equal(sub.recovered, true);
    assert.deepEqual(sub.publications.map((p) => p.data.data.notification.title), ['review requested']);
    assert.equal(sub.publications[0].offset, seen.data.pub.offset + 1);
  } finally {
    curls.forEach((c) => c.stop());
    await solo.stop();
  }
});
