"""The official centrifuge-python client, unchanged, against a real Solo server:
token from a PAT, live publications, recovery across a disconnect, and refusal
of another user's channel."""

import asyncio
import json
import os
import shutil
import subprocess
import tempfile
import unittest
import urllib.request
from pathlib import Path

from centrifuge import Client, SubscriptionErrorContext, SubscriptionEventHandler

REPO = Path(__file__).resolve().parents[3]
SOLO = os.environ.get("SOLO_BIN", str(REPO / "target" / "debug" / "solo"))


class Solo:
    """A `solo serve` on a free port with a fresh data directory and a PAT."""

    def __init__(self, extra_env=None):
        self.dir = tempfile.mkdtemp(prefix="solo-py-")
        env = {k: v for k, v in os.environ.items() if k not in ("SOLO_DATABASE_URL", "SOLO_ADDR", "SOLO_DATA_DIR")}
        env.update({"NO_COLOR": "1", **(extra_env or {})})
        self.env = env
        admin = lambda *args: subprocess.run(  # noqa: E731
            [SOLO, "admin", *args], cwd=self.dir, env=env, check=True, capture_output=True, text=True
        ).stdout
        admin("user", "create", "ada", "--workspace", "acme", "--admin")
        self.pat = admin("token", "create", "--user", "ada", "--name", "py-tests").strip()
        self.proc = subprocess.Popen(
            [SOLO, "serve", "--addr", "127.0.0.1:0"],
            cwd=self.dir,
            env={**env, "SOLO_LOG_FORMAT": "json"},
            stderr=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            text=True,
        )
        for line in self.proc.stderr:
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if entry.get("message") == "solo is serving":
                self.addr = entry["addr"]
                break
        else:
            raise RuntimeError("solo exited before serving")
        # Keep draining the log so the server never blocks on a full pipe.
        self._drain = asyncio.get_event_loop().run_in_executor(None, lambda: [None for _ in self.proc.stderr])
        self.ws_url = f"ws://{self.addr}/connection/websocket"

    def call(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"http://{self.addr}{path}",
            data=data if method == "POST" else None,
            method=method,
            headers={"Authorization": f"Bearer {self.pat}", "Content-Type": "application/json"},
        )
        if method == "POST" and data is None:
            request.data = b"{}"
        with urllib.request.urlopen(request, timeout=10) as response:
            raw = response.read()
            return json.loads(raw) if raw else None

    async def post(self, path, body=None):
        return await asyncio.get_event_loop().run_in_executor(None, self.call, "POST", path, body)

    async def token(self):
        return (await self.post("/api/realtime/token"))["token"]

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=15)
        shutil.rmtree(self.dir, ignore_errors=True)


class Recorder(SubscriptionEventHandler):
    def __init__(self):
        self.publications = []
        self.subscribed = []
        self.errors = []
        self.unsubscribed = []

    async def on_publication(self, ctx):
        self.publications.append(ctx.pub)

    async def on_subscribed(self, ctx):
        self.subscribed.append(ctx)

    async def on_error(self, ctx: SubscriptionErrorContext):
        self.errors.append(ctx)

    async def on_unsubscribed(self, ctx):
        self.unsubscribed.append(ctx)


async def wait_for(what, check, timeout=10.0):
    deadline = asyncio.get_event_loop().time() + timeout
    while not check():
        if asyncio.get_event_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


class CentrifugePythonTest(unittest.IsolatedAsyncioTestCase):
    async def test_live_publications_and_recovery(self):
        solo = Solo({"SOLO_RECOVERY_MAX_PUBLICATIONS": "10"})
        client = None
        try:
            mission = await solo.post("/api/missions", {"title": "Python SDK"})

            async def stage(to):
                await solo.post(f"/api/missions/{mission['id']}/stage", {"stage": to})

            client = Client(solo.ws_url, get_token=solo.token, min_reconnect_delay=0.05)
            recorder = Recorder()
            sub = client.new_subscription(f"mission:{mission['id']}", events=recorder)
            await client.connect()
            await sub.subscribe()
            await wait_for("subscribed", lambda: len(recorder.subscribed) == 1)
            self.assertTrue(recorder.subscribed[0].recoverable)

            await stage("spec")
            await wait_for("live publication", lambda: len(recorder.publications) == 1)
            first = recorder.publications[0]
            self.assertEqual(first.offset, 2)
            self.assertEqual(first.data["type"], "mission.stage_changed")
            self.assertEqual(first.data["data"]["to"], "spec")

            await client.disconnect()
            for to in ["build", "review", "done", "review", "build"]:
                await stage(to)
            await client.connect()
            await wait_for("resubscribed", lambda: len(recorder.subscribed) == 2)
            self.assertTrue(recorder.subscribed[1].was_recovering)
            self.assertTrue(recorder.subscribed[1].recovered)
            await wait_for("recovered publications", lambda: len(recorder.publications) == 6)
            self.assertEqual([p.offset for p in recorder.publications[1:]], [3, 4, 5, 6, 7])
            self.assertEqual(
                [p.data["data"]["to"] for p in recorder.publications[1:]], ["build", "review", "done", "review", "build"]
            )
            self.assertEqual(len({p.data["id"] for p in recorder.publications}), 6)

            # Away past the recovery limit: told to reload, given nothing partial.
            await client.disconnect()
            for i in range(12):
                await stage("review" if i % 2 == 0 else "build")
            await client.connect()
            await wait_for("third subscribe", lambda: len(recorder.subscribed) == 3)
            self.assertTrue(recorder.subscribed[2].was_recovering)
            self.assertFalse(recorder.subscribed[2].recovered)
            await asyncio.sleep(0.2)
            self.assertEqual(len(recorder.publications), 6)

            await stage("review")
            await wait_for("live after reload", lambda: len(recorder.publications) == 7)
            self.assertEqual(recorder.publications[6].offset, 20)
        finally:
            if client is not None:
                await client.disconnect()
            solo.stop()

    async def test_another_users_notifications_are_refused(self):
        solo = Solo()
        client = None
        try:
            client = Client(solo.ws_url, get_token=solo.token)
            recorder = Recorder()
            sub = client.new_subscription("notifications:u_0193f0c2a1b27c3d8e9f0a1b2c3d4e5f", events=recorder)
            await client.connect()
            await sub.subscribe()
            await wait_for("refusal", lambda: recorder.unsubscribed, timeout=5)
            self.assertEqual(recorder.unsubscribed[0].code, 103)
            self.assertEqual(recorder.subscribed, [])
        finally:
            if client is not None:
                await client.disconnect()
            solo.stop()


if __name__ == "__main__":
    unittest.main()
