#!/usr/bin/env python3
"""Time from sending a stage change (HTTP POST by one user) to the notification
line printed by `solo notifications watch --json` for the mission's owner.

Usage: bench/cli-latency.py [path/to/solo] [rounds]   (default target/release/solo, 50)
Starts its own server on a free port with a fresh data directory; loopback only.
"""
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

SOLO = sys.argv[1] if len(sys.argv) > 1 else "target/release/solo"
ROUNDS = int(sys.argv[2]) if len(sys.argv) > 2 else 50


def main():
    work = tempfile.mkdtemp(prefix="solo-bench-")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOLO_")}
    env["NO_COLOR"] = "1"
    solo = os.path.abspath(SOLO)

    def admin(*args):
        return subprocess.run([solo, "admin", *args], cwd=work, env=env, check=True, capture_output=True, text=True).stdout.strip()

    admin("user", "create", "ada", "--workspace", "acme")
    admin("user", "create", "bo", "--workspace", "acme")
    ada, bo = admin("token", "create", "--user", "ada", "--name", "bench"), admin("token", "create", "--user", "bo", "--name", "bench")
    server = subprocess.Popen([solo, "serve", "--addr", "127.0.0.1:0"], cwd=work, env={**env, "SOLO_LOG_FORMAT": "json", "SOLO_LOG": "warn,solo_server=info"}, stderr=subprocess.PIPE, text=True)
    addr = None
    for line in server.stderr:
        entry = json.loads(line) if line.startswith("{") else {}
        if entry.get("message") == "solo is serving":
            addr = entry["addr"]
            break
    base = f"http://{addr}"

    def call(token, path, body):
        request = urllib.request.Request(base + path, data=json.dumps(body).encode(), method="POST",
                                         headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
        with urllib.request.urlopen(request) as response:
            return json.loads(response.read())

    mission = call(ada, "/api/missions", {"title": "Latency"})
    watch = subprocess.Popen([solo, "notifications", "watch", "--json"], env={**env, "SOLO_SERVER": base, "SOLO_TOKEN": ada}, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    time.sleep(1.0)  # let the watcher subscribe
    samples = []
    for i in range(ROUNDS):
        stage = "spec" if i % 2 == 0 else "backlog"
        sent = time.perf_counter()
        call(bo, f"/api/missions/{mission['id']}/stage", {"stage": stage})
        line = watch.stdout.readline()
        samples.append((time.perf_counter() - sent) * 1000)
        assert stage in json.loads(line)["title"]
    watch.kill()
    server.terminate()
    server.wait()
    samples.sort()
    p95 = samples[int(len(samples) * 0.95) - 1]
    print(f"stage change → CLI line, {ROUNDS} rounds: median {statistics.median(samples):.2f} ms, p95 {p95:.2f} ms, max {samples[-1]:.2f} ms")


if __name__ == "__main__":
    main()
