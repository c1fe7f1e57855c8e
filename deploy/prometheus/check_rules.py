"""What promtool does not check in alerts.yaml and alerts.test.yaml.

- the alerts are exactly the expected ones, each with a severity, a summary, a description
  and a runbook_url of the form https://example.invalid/callscore/docs/sre.md#<name in lower case>;
- every query and every test series names only metrics, labels and values of deploy/metrics.yaml;
- every alert has a test case where it fires and one where it must not;
- prometheus.yml scrapes callscore:9464 as job `callscore` every 5 s and loads alerts.yaml.
Run by deploy/prometheus/check.sh with the ops venv's Python (PyYAML).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
import catalogue  # noqa: E402

EXPECTED = {
    "CallscoreLagGrowing", "CallscoreNoProgress", "CallscoreDeadLetters",
    "CallscoreStoreUnavailable", "CallscoreBrokerUnavailable", "CallscoreNotReady",
    "CallscoreBlocked", "CallscoreErrorRate", "CallscoreRebalanceStorm", "CallscoreDown",
    "CallscoreRetentionSweepStale", "CallscoreTopicKeepsCallersDataTooLong",
    "CallscoreTopicRetentionUnchecked",
}
RUNBOOK = "https://example.invalid/callscore/docs/sre.md#{}"


def main() -> int:
    problems: list[str] = []
    series = catalogue.load()
    rules = yaml.safe_load((HERE / "alerts.yaml").read_text())
    alerts = {}
    for group in rules["groups"]:
        for rule in group["rules"]:
            alerts[rule["alert"]] = rule
    if set(alerts) != EXPECTED:
        problems.append(f"alerts.yaml: missing {sorted(EXPECTED - set(alerts))}, "
                        f"unexpected {sorted(set(alerts) - EXPECTED)}")
    for name, rule in alerts.items():
        if rule.get("labels", {}).get("severity") not in {"critical", "warning", "info"}:
            problems.append(f"{name}: severity label must be critical, warning or info")
        annotations = rule.get("annotations", {})
        for key in ("summary", "description"):
            if not annotations.get(key):
                problems.append(f"{name}: no {key} annotation")
        if annotations.get("runbook_url") != RUNBOOK.format(name.lower()):
            problems.append(f"{name}: runbook_url must be {RUNBOOK.format(name.lower())}")
        problems += catalogue.check(rule["expr"], f"alerts.yaml {name}", series)

    tests = yaml.safe_load((HERE / "alerts.test.yaml").read_text())
    if tests.get("rule_files") != ["alerts.yaml"]:
        problems.append("alerts.test.yaml: rule_files must be [alerts.yaml]")
    fires, silent = set(), set()
    for test in tests["tests"]:
        for item in test.get("input_series", []):
            problems += catalogue.check(item["series"], f"alerts.test.yaml {test['name']!r}", series)
        for case in test.get("alert_rule_test", []):
            (fires if case.get("exp_alerts") else silent).add(case["alertname"])
    for name in sorted(EXPECTED - fires):
        problems.append(f"alerts.test.yaml: no case where {name} fires")
    for name in sorted(EXPECTED - silent):
        problems.append(f"alerts.test.yaml: no case where {name} must not fire")

    config = yaml.safe_load((HERE / "prometheus.yml").read_text())
    if "alerts.yaml" not in config.get("rule_files", []):
        problems.append("prometheus.yml: rule_files must load alerts.yaml")
    jobs = {job["job_name"]: job for job in config.get("scrape_configs", [])}
    job = jobs.get("callscore")
    if not job:
        problems.append("prometheus.yml: no scrape job named callscore")
    else:
        targets = [t for c in job.get("static_configs", []) for t in c.get("targets", [])]
        if targets != ["callscore:9464"] or job.get("scrape_interval") != "5s":
            problems.append("prometheus.yml: job callscore must scrape callscore:9464 every 5s")
        if job.get("metrics_path", "/metrics") != "/metrics":
            problems.append("prometheus.yml: job callscore must scrape /metrics")

    # no alert may name a metric the list does not know, and the list's names are well formed
    for name in catalogue.metric_names():
        if not re.fullmatch(r"callscore_[a-z0-9_]+", name):
            problems.append(f"metrics.yaml: {name} lacks the callscore_ prefix")

    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
