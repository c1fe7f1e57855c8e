"""Holds PromQL queries to deploy/metrics.yaml, the list of metrics callscore serves.

Used by deploy/prometheus/check_rules.py and deploy/grafana/generate.py. A light reading of
PromQL, enough for the queries written here: every series name must be in the list (histograms
with their _bucket, _sum and _count series), every label a matcher, `by`, `without`, `on` or
`group_left` names must belong to a metric of the query (or be `job`, `instance`, or `le` of a
bucket), and every value an equality matcher or a plain alternation regex names must be one of
the label's values when the list gives them.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

CATALOGUE = Path(__file__).resolve().parent / "metrics.yaml"
TARGET_LABELS = {"job", "instance"}
FUNCTIONS = {
    "abs", "absent", "absent_over_time", "avg", "avg_over_time", "bottomk", "ceil", "changes",
    "clamp_max", "clamp_min", "count", "count_over_time", "delta", "deriv", "floor", "group",
    "histogram_quantile", "idelta", "increase", "irate", "label_replace", "last_over_time", "max",
    "max_over_time", "min", "min_over_time", "quantile", "rate", "resets", "round", "scalar",
    "sort", "sort_desc", "stddev", "sum", "sum_over_time", "time", "timestamp", "topk", "vector",
}
KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or",
            "unless", "offset", "bool", "inf", "nan"}


def load() -> dict[str, dict]:
    """Series name -> {"labels": {name: values or None}}, histograms expanded."""
    data = yaml.safe_load(CATALOGUE.read_text())
    series: dict[str, dict] = {}
    for name, metric in data["metrics"].items():
        labels = dict(metric.get("labels") or {})
        if metric["type"] == "histogram":
            series[f"{name}_bucket"] = {"labels": {**labels, "le": None}}
            series[f"{name}_sum"] = {"labels": labels}
            series[f"{name}_count"] = {"labels": labels}
        else:
            series[name] = {"labels": labels}
    for name, metric in data["scrape"].items():
        series[name] = {"labels": dict(metric.get("labels") or {})}
    return series


def metric_names() -> set[str]:
    """The metrics of the list (histograms by their own name)."""
    return set(yaml.safe_load(CATALOGUE.read_text())["metrics"])


_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_SELECTOR = re.compile(r"\b([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(\{[^}]*\})?")
_MATCHER = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"')
_GROUPING = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)")


def check(expr: str, where: str, series: dict[str, dict] | None = None) -> list[str]:
    """Problems of one query, each prefixed with `where`."""
    series = series if series is not None else load()
    problems: list[str] = []
    # Grafana's variables stand for a duration or a data source, never for a name
    text = re.sub(r"\$\{?__[a-z_]+\}?|\$\{?[a-z_]+\}?", "1m", expr)
    used_labels: set[str] = set(TARGET_LABELS)
    found_series = False
    # selectors: a name, then an optional {matchers}; strings hidden so their words are not names
    hidden = _STRING.sub(lambda m: '"' + "x" * (len(m.group(0)) - 2) + '"', text)
    groupings = _GROUPING.findall(hidden)
    # the label lists of by (...), on (...) ... are not selectors: blank them out
    hidden = _GROUPING.sub(lambda m: " " * len(m.group(0)), hidden)
    for match in _SELECTOR.finditer(hidden):
        name = match.group(1)
        if name in FUNCTIONS or name in KEYWORDS:
            continue
        if re.search(r"\[[^\]]*$", hidden[: match.start(1)]):
            continue  # inside a range or subquery, e.g. [5m]
        if name not in series:
            problems.append(f"{where}: {name} is not in deploy/metrics.yaml")
            continue
        found_series = True
        labels = series[name]["labels"]
        used_labels.update(labels)
        if match.group(2):
            original = text[match.start(2):match.end(2)]
            for label, op, value in _MATCHER.findall(original):
                if label in TARGET_LABELS:
                    continue
                if label not in labels:
                    problems.append(f"{where}: {name} has no label {label}")
                    continue
                allowed = labels[label]
                if allowed is None or op in ("!=", "!~"):
                    continue
                values = [value] if op == "=" else value.split("|")
                if op == "=~" and not all(re.fullmatch(r"[a-z0-9_]+", v) for v in values):
                    continue  # a real regex: not checked
                for v in values:
                    if v not in allowed:
                        problems.append(f"{where}: {name}{{{label}}} has no value {v!r}")
    for _keyword, names in groupings:
        for label in [n.strip() for n in names.split(",") if n.strip()]:
            if label not in used_labels:
                problems.append(f"{where}: no metric of the query has the label {label}")
    if not found_series:
        problems.append(f"{where}: names no metric of deploy/metrics.yaml")
    return problems
