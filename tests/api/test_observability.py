"""deploy/prometheus/solo-alerts.yml and deploy/grafana/solo-realtime.json
against a real server: both files parse (the rules as Prometheus reads them:
groups of rules with an alert name, an expression, a severity and a runbook),
every expression is balanced, and every Solo series they name is one a real
`solo serve` exposes at /metrics, so a renamed metric cannot leave an alert
that never fires."""

import json
import re
import unittest
import urllib.request
from pathlib import Path

import yaml

from test_event_schema import Solo

REPO = Path(__file__).resolve().parents[2]
RULES = REPO / "deploy" / "prometheus" / "solo-alerts.yml"
DASHBOARD = REPO / "deploy" / "grafana" / "solo-realtime.json"
SERIES = re.compile(r"\bsolo_[a-z_]+\b")
# What Prometheus's text format appends to a family's name in its samples.
SUFFIXES = ("_total", "_bucket", "_sum", "_count", "_created")


def family(series):
    for suffix in SUFFIXES:
        if series.endswith(suffix):
            return series[: -len(suffix)]
    return series


def balanced(expr):
    pairs = {")": "(", "]": "[", "}": "{"}
    stack = []
    in_string = False
    for ch in expr:
        if ch == '"':
            in_string = not in_string
        elif in_string:
            continue
        elif ch in "([{":
            stack.append(ch)
        elif ch in pairs:
            if not stack or stack.pop() != pairs[ch]:
                return False
    return not stack and not in_string


class ObservabilityFiles(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.solo = Solo()
        with urllib.request.urlopen(f"http://{cls.solo.addr}/metrics", timeout=10) as response:
            text = response.read().decode()
        cls.families = {line.split()[2] for line in text.splitlines() if line.startswith("# TYPE ")}

    @classmethod
    def tearDownClass(cls):
        cls.solo.stop()

    def assert_exposed(self, where, expr):
        self.assertTrue(balanced(expr), f"{where}: unbalanced expression {expr!r}")
        names = SERIES.findall(expr)
        self.assertTrue(names, f"{where}: names no Solo series: {expr!r}")
        for name in names:
            self.assertIn(family(name), self.families, f"{where}: {name} is not exposed at /metrics")

    def test_alert_rules_parse_and_name_exposed_series(self):
        rules = yaml.safe_load(RULES.read_text())
        groups = rules["groups"]
        self.assertTrue(groups)
        alerts = [rule for group in groups for rule in group["rules"]]
        names = [rule["alert"] for rule in alerts]
        self.assertEqual(len(names), len(set(names)), "alert names are unique")
        for rule in alerts:
            where = rule["alert"]
            self.assertIn(rule["labels"]["severity"], ("warning", "critical"), where)
            self.assertTrue(rule["annotations"]["summary"], where)
            self.assertTrue(rule["annotations"]["runbook"].startswith("docs/dev/runbooks/"), where)
            if "for" in rule:
                self.assertRegex(rule["for"], r"^\d+[smh]$", where)
            self.assert_exposed(where, rule["expr"])
        covered = " ".join(rule["expr"] for rule in alerts)
        for series in ("solo_outbox_lag_seconds", "solo_slow_consumer_closes_total", "solo_database_errors_total"):
            self.assertIn(series, covered, "outbox lag, delivery drops and database errors are alerted on")

    def test_dashboard_parses_and_every_panel_names_exposed_series(self):
        dashboard = json.loads(DASHBOARD.read_text())
        self.assertEqual(dashboard["uid"], "solo-realtime")
        titles = []
        for panel in dashboard["panels"]:
            titles.append(panel["title"])
            self.assertTrue(panel["targets"], panel["title"])
            for target in panel["targets"]:
                self.assert_exposed(panel["title"], target["expr"])
        wanted = ["connections", "subscriptions", "deliveries", "dropped", "recoveries", "outbox lag", "write latency", "database errors"]
        for word in wanted:
            self.assertTrue(any(word in title.lower() for title in titles), f"a panel shows {word}")


if __name__ == "__main__":
    unittest.main()
