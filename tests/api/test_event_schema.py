"""packages/domain-schema/events.schema.json against real events: a real
`solo serve` makes one change of every kind, and every envelope its channels
kept validates against the schema's envelope and against the definition of
its own type, and not against another type's."""

import json
import os
import subprocess
import tempfile
import threading
import unittest
import urllib.request
from datetime import datetime, timedelta, timezone
from pathlib import Path

import jsonschema_rs

REPO = Path(__file__).resolve().parents[2]
SOLO = os.environ.get("SOLO_BIN", str(REPO / "target" / "debug" / "solo"))
SERVER_API_KEY = "schema-server-api-key-0123456789"
SCHEMA = json.loads((REPO / "packages" / "domain-schema" / "events.schema.json").read_text())


class Solo:
    """A `solo serve` on a free port, a fresh data directory and ada's PAT."""

    def __init__(self):
        self.dir = tempfile.TemporaryDirectory(prefix="solo-schema-")
        env = {k: v for k, v in os.environ.items() if k not in ("SOLO_DATABASE_URL", "SOLO_ADDR", "SOLO_DATA_DIR")}
        env["NO_COLOR"] = "1"
        env["SOLO_SERVER_API_KEY"] = SERVER_API_KEY
        admin = lambda *args: subprocess.run(  # noqa: E731
            [SOLO, "admin", *args], cwd=self.dir.name, env=env, check=True, capture_output=True, text=True
        ).stdout
        admin("user", "create", "ada", "--workspace", "acme", "--admin")
        self.pat = admin("token", "create", "--user", "ada", "--name", "schema").strip()
        # A second member, whose changes to Ada's mission notify her.
        admin("user", "create", "bo", "--workspace", "acme")
        self.bo_pat = admin("token", "create", "--user", "bo", "--name", "schema").strip()
        self.proc = subprocess.Popen(
            [SOLO, "serve", "--addr", "127.0.0.1:0"],
            cwd=self.dir.name,
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
        threading.Thread(target=lambda: [None for _ in self.proc.stderr], daemon=True).start()

    def call(self, method, path, body=None, pat=None):
        data = json.dumps(body if body is not None else {}).encode() if method != "GET" else None
        request = urllib.request.Request(
            f"http://{self.addr}{path}",
            data=data,
            method=method,
            headers={"Authorization": f"Bearer {pat or self.pat}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            raw = response.read()
            return json.loads(raw) if raw else None

    def server_api(self, method, params):
        request = urllib.request.Request(
            f"http://{self.addr}/centrifugo/api/{method}",
            data=json.dumps(params).encode(),
            method="POST",
            headers={"X-API-Key": SERVER_API_KEY, "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=15)
        self.proc.stderr.close()
        self.dir.cleanup()


class EventSchemaTest(unittest.TestCase):
    def test_every_kept_event_matches_the_schema_of_its_type(self):
        solo = Solo()
        try:
            me = solo.call("GET", "/api/me")
            mission = solo.call("POST", "/api/missions", {"title": "Schema"})
            solo.call("POST", f"/api/missions/{mission['id']}/stage", {"stage": "spec"})
            solo.call("POST", f"/api/missions/{mission['id']}/reviews", {"decision": "approved", "comment": "ok"})
            solo.call("POST", f"/api/missions/{mission['id']}/fallbacks", {"reason": "crash", "summary": "rerun"})
            station = solo.call("POST", "/api/workstations", {"name": "rig"})
            solo.call(
                "POST",
                f"/api/workstations/{station['id']}/heartbeat",
                {"agents": [{"id": "a1", "name": "Agent 1", "status": "working", "missionId": mission["id"]}]},
            )
            solo.call("POST", "/api/community/posts", {"body": "Hello @ada"})
            note = solo.call("POST", "/api/notifications", {"userId": me["id"], "category": "system", "title": "Hi"})
            solo.call("POST", f"/api/notifications/{note['id']}/read")
            solo.call("POST", f"/api/notifications/{note['id']}/unread")
            solo.call("POST", "/api/notifications/read-all")
            # Bo moves Ada's mission twice: the second notification replaces the first (updated).
            solo.call("POST", f"/api/missions/{mission['id']}/stage", {"stage": "backlog"}, pat=solo.bo_pat)
            solo.call("POST", f"/api/missions/{mission['id']}/stage", {"stage": "spec"}, pat=solo.bo_pat)
            until = (datetime.now(timezone.utc) + timedelta(days=1)).isoformat().replace("+00:00", "Z")
            solo.call("POST", f"/api/notifications/{note['id']}/snooze", {"until": until})
            solo.call("POST", f"/api/notifications/{note['id']}/wake")
            solo.call("POST", f"/api/notifications/{note['id']}/done")
            solo.call("POST", f"/api/notifications/{note['id']}/undone")
            quiet = {"enabled": True, "start": "22:00", "end": "07:00", "timezone": "UTC", "allowUrgent": True}
            solo.call("PUT", "/api/me/preferences", {"quietHours": quiet})
            solo.call("PUT", f"/api/workspaces/{me['workspaces'][0]['id']}/config", {"defaultQuietHours": quiet})
            # A backend's publication through the server API.
            published = solo.server_api("publish", {"channel": f"notifications:{me['id']}", "data": {"text": "hi"}})
            self.assertIn("result", published)

            channels = [
                f"workspace:{me['workspaces'][0]['id']}",
                f"mission:{mission['id']}",
                f"workstation:{station['id']}",
                f"notifications:{me['id']}",
            ]
            events = [
                item["event"]
                for channel in channels
                for item in solo.call("GET", f"/api/events?channel={channel}&limit=1000")["items"]
            ]
        finally:
            solo.stop()

        envelope = jsonschema_rs.validator_for(SCHEMA)
        types = [v["properties"]["type"]["enum"][0] for v in SCHEMA["$defs"]["EventPayload"]["oneOf"]]
        of_type = {t: jsonschema_rs.validator_for({**SCHEMA, "$ref": f"#/$defs/{t}"}) for t in types}
        for event in events:
            envelope.validate(event)
            of_type[event["type"]].validate(event)
            other = next(t for t in types if t != event["type"])
            self.assertFalse(of_type[other].is_valid(event), f"{event['type']} passes as {other}")
        self.assertEqual(sorted({e["type"] for e in events}), sorted(types), "one event of every type was checked")


if __name__ == "__main__":
    unittest.main()
