#!/usr/bin/env python3
"""Time from sending a stage change (HTTP POST by one user) to the notification
line printed by `solo notifications watch --json` for the mission's owner, in
three set-ups measured in the same run:

  single      one node on embedded SQLite (the laptop mode)
  same-node   a two-node cluster on PostgreSQL + Redis; write and watch on node A
  cross-node  the same cluster; write through node B, watch on node A

Usage: bench/cli-latency.py [path/to/solo] [rounds]   (default target/release/solo, 200)
Environment: SOLO_BENCH_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/test)
and SOLO_BENCH_REDIS_URL (default redis://127.0.0.1:6379) for the cluster set-ups;
each run uses a fresh PostgreSQL schema and cluster name. Loopback only.
"""
import json
import os
import select
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid

SOLO = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "target/release/solo")
ROUNDS = int(sys.argv[2]) if len(sys.argv) > 2 else 200
POSTGRES = os.environ.get("SOLO_BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/test")
REDIS = os.environ.get("SOLO_BENCH_REDIS_URL", "redis://127.0.0.1:6379")


class Setup:
    """Users, tokens and running nodes sharing one database."""

    def __init__(self, env):
        self.work = tempfile.mkdtemp(prefix="solo-bench-")
        # One writer sends as fast as it can: the API rate limit is not what is measured.
        self.env = {**{k: v for k, v in os.environ.items() if not k.startswith("SOLO_")}, "NO_COLOR": "1", **env,
                    "SOLO_API_REQUESTS_PER_SEC": "100000",
                    "SOLO_DATA_DIR": os.path.join(self.work, "data")}
        self.nodes = []
        self.admin("user", "create", "ada", "--workspace", "acme")
        self.admin("user", "create", "bo", "--workspace", "acme")
        self.ada = self.admin("token", "create", "--user", "ada", "--name", "bench")
        self.bo = self.admin("token", "create", "--user", "bo", "--name", "bench")

    def admin(self, *args):
        done = subprocess.run([SOLO, "admin", *args], cwd=self.work, env=self.env, check=True, capture_output=True, text=True)
        return done.stdout.strip()

    def node(self, name):
        env = {**self.env, "SOLO_LOG_FORMAT": "json", "SOLO_LOG": "warn,solo_server=info"}
        process = subprocess.Popen([SOLO, "serve", "--addr", "127.0.0.1:0"], cwd=self.work, env=env, stderr=subprocess.PIPE, text=True)
        for line in process.stderr:
            entry = json.loads(line) if line.startswith("{") else {}
            if entry.get("message") == "solo is serving":
                self.nodes.append(process)
                # Keep reading the log, or the node blocks once the pipe is full.
                threading.Thread(target=process.stderr.read, daemon=True).start()
                base = f"http://{entry['addr']}"
                wait_ready(base)
                return base
        raise RuntimeError(f"node {name} exited before serving")

    def stop(self):
        for process in self.nodes:
            process.terminate()
            process.wait()


def wait_ready(base):
    deadline = time.time() + 20
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(base + "/readyz") as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"{base} never became ready")


def call(base, token, path, body):
    request = urllib.request.Request(base + path, data=json.dumps(body).encode(), method="POST",
                                     headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request) as response:
        return json.loads(response.read())


def measure(setup, write_base, watch_base):
    """Bo moves Ada's mission through `write_base`; Ada watches through `watch_base`."""
    mission = call(write_base, setup.ada, "/api/missions", {"title": "Latency"})
    watch = subprocess.Popen([SOLO, "notifications", "watch", "--json"], env={**setup.env, "SOLO_SERVER": watch_base, "SOLO_TOKEN": setup.ada},
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    time.sleep(1.0)  # let the watcher subscribe
    samples = []
    for i in range(ROUNDS):
        stage = "spec" if i % 2 == 0 else "backlog"
        sent = time.perf_counter()
        call(write_base, setup.bo, f"/api/missions/{mission['id']}/stage", {"stage": stage})
        ready, _, _ = select.select([watch.stdout], [], [], 10)
        if not ready:
            watch.kill()
            raise RuntimeError(f"round {i}: no notification line within 10 s")
        line = watch.stdout.readline()
        samples.append((time.perf_counter() - sent) * 1000)
        assert stage in json.loads(line)["title"], line
    watch.kill()
    return sorted(samples)


def percentile(samples, p):
    return samples[min(len(samples) - 1, int(len(samples) * p))]


def main():
    results = {}
    single = Setup({})
    try:
        a = single.node("a")
        results["single"] = measure(single, a, a)
    finally:
        single.stop()

    schema = f"bench_{uuid.uuid4().hex}"
    subprocess.run(["psql", POSTGRES, "-q", "-c", f"CREATE SCHEMA {schema}"], check=True)
    separator = "&" if "?" in POSTGRES else "?"
    cluster = Setup({
        "SOLO_DATABASE_URL": f"{POSTGRES}{separator}options=-c%20search_path%3D{schema}",
        "SOLO_BUS_URL": REDIS,
        "SOLO_CLUSTER_NAME": schema,
    })
    try:
        a, b = cluster.node("a"), cluster.node("b")
        results["same-node"] = measure(cluster, a, a)
        results["cross-node"] = measure(cluster, b, a)
    finally:
        cluster.stop()
        subprocess.run(["psql", POSTGRES, "-q", "-c", f"DROP SCHEMA {schema} CASCADE"], check=False)

    base = statistics.median(results["single"])
    print(f"stage change → `solo notifications watch` line, {ROUNDS} rounds each (ms)")
    print("| set-up | p50 | p99 | max | p50 / single |")
    print("|---|---|---|---|---|")
    for name, samples in results.items():
        p50 = statistics.median(samples)
        print(f"| {name} | {p50:.2f} | {percentile(samples, 0.99):.2f} | {samples[-1]:.2f} | {p50 / base:.2f} |")


if __name__ == "__main__":
    main()
