"""Generates deploy/grafana/callscore.json, callscore's Grafana dashboard, the one source of it.

Built with Grafana's own typed model (the grafana-foundation-sdk package, schema of Grafana
11.6), so the output has the shape Grafana reads. Every query is held to deploy/metrics.yaml.

    generate.py           writes callscore.json
    generate.py --check   fails if callscore.json differs from what this writes, if the
                          committed JSON does not read back into Grafana's model unchanged, or
                          if a query names a metric, label or value the list does not have

Run with the ops venv's Python (deploy/tools.sh); deploy/grafana/check.sh runs --check.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.builders import prometheus, stat, timeseries
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import dashboard as model
from grafana_foundation_sdk.models.common import (
    BigValueColorMode,
    BigValueGraphMode,
    BigValueTextMode,
    GraphDrawStyle,
    LegendDisplayMode,
    LegendPlacement,
    SortOrder,
    StackingMode,
    TooltipDisplayMode,
)
from grafana_foundation_sdk.builders.common import ReduceDataOptions, StackingConfig
from grafana_foundation_sdk.builders.common import VizLegendOptions as Legend
from grafana_foundation_sdk.builders.common import VizTooltipOptions as Tooltip

HERE = Path(__file__).resolve().parent
OUTPUT = HERE / "callscore.json"
sys.path.insert(0, str(HERE.parent))
import catalogue  # noqa: E402

DATASOURCE = model.DataSourceRef(type_val="prometheus", uid="${datasource}")
RATE = "[$__rate_interval]"
WIDTH = 24


class Layout:
    """Places panels left to right in rows of the grid, 24 columns wide."""

    def __init__(self) -> None:
        self.x = 0
        self.y = 0
        self.row_height = 0

    def place(self, w: int, h: int) -> model.GridPos:
        if self.x + w > WIDTH:
            self.newline()
        pos = model.GridPos(h=h, w=w, x=self.x, y=self.y)
        self.x += w
        self.row_height = max(self.row_height, h)
        return pos

    def newline(self) -> None:
        self.y += self.row_height
        self.x = 0
        self.row_height = 0

    def row(self) -> model.GridPos:
        self.newline()
        pos = model.GridPos(h=1, w=WIDTH, x=0, y=self.y)
        self.y += 1
        return pos


def query(expr: str, legend: str, ref: str) -> prometheus.Dataquery:
    return (
        prometheus.Dataquery()
        .expr(expr)
        .legend_format(legend)
        .ref_id(ref)
        .range()
        .datasource(DATASOURCE)
    )


def graph(title: str, description: str, unit: str, targets: list[tuple[str, str]],
          stacked: bool = False, bars: bool = False) -> timeseries.Panel:
    panel = (
        timeseries.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .unit(unit)
        .min(0)
        .fill_opacity(10)
        .legend(Legend().display_mode(LegendDisplayMode.TABLE).placement(LegendPlacement.BOTTOM)
                .show_legend(True).calcs(["lastNotNull", "max"]))
        .tooltip(Tooltip().mode(TooltipDisplayMode.MULTI).sort(SortOrder.DESCENDING))
    )
    if stacked:
        panel = panel.stacking(StackingConfig().mode(StackingMode.NORMAL))
    if bars:
        panel = panel.draw_style(GraphDrawStyle.BARS)
    for i, (expr, legend) in enumerate(targets):
        panel = panel.with_target(query(expr, legend, chr(ord("A") + i)))
    return panel


def single(title: str, description: str, expr: str, legend: str, unit: str = "none",
           mappings: dict[str, tuple[str, str]] | None = None,
           text_mode: BigValueTextMode = BigValueTextMode.VALUE_AND_NAME) -> stat.Panel:
    panel = (
        stat.Panel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .unit(unit)
        .graph_mode(BigValueGraphMode.NONE)
        .color_mode(BigValueColorMode.BACKGROUND if mappings else BigValueColorMode.NONE)
        .text_mode(text_mode)
        .reduce_options(ReduceDataOptions().calcs(["lastNotNull"]))
        .with_target(query(expr, legend, "A").instant())
    )
    if mappings:
        panel = panel.mappings([
            model.ValueMap(options={
                value: model.ValueMappingResult(text=text, color=color)
                for value, (text, color) in mappings.items()
            })
        ])
    return panel


def build() -> dict:
    layout = Layout()
    d = (
        db.Dashboard("callscore")
        .uid("callscore")
        .description("callscore: recordings in, score events out. Metrics: deploy/metrics.yaml; "
                     "alerts: deploy/prometheus/alerts.yaml.")
        .tags(["callscore"])
        .editable()
        .tooltip(model.DashboardCursorSync.CROSSHAIR)
        .time("now-6h", "now")
        .refresh("30s")
        .timezone("browser")
        .with_variable(
            db.DatasourceVariable("datasource").label("Data source").type("prometheus")
        )
    )

    ids = iter(range(1, 1000))

    def add(panel, w: int, h: int) -> None:
        nonlocal d
        d = d.with_panel(panel.id(next(ids)).grid_pos(layout.place(w, h)))

    def row(title: str) -> None:
        nonlocal d
        d = d.with_row(db.Row(title).id(next(ids)).grid_pos(layout.row()))

    ready = {"1": ("ready", "green"), "0": ("not ready", "red")}
    row("State")
    add(single("Build", "callscore_build_info: the version each instance runs.",
               "count by (version) (callscore_build_info)", "{{version}}",
               text_mode=BigValueTextMode.NAME), 4, 4)
    add(single("Readiness", "callscore_ready per check (the lowest over instances); /readyz "
               "says why.", "min by (check) (callscore_ready)", "{{check}}", mappings=ready),
        8, 4)
    add(single("Blocked", "callscore_blocked: 1 while delivery is paused because the store or "
               "broker refuses access (credentials, permissions, missing bucket).",
               "max(callscore_blocked)", "blocked",
               mappings={"0": ("delivering", "green"), "1": ("blocked", "red")}), 4, 4)
    add(single("Last retention sweep", "Time since the last successful retention sweep.",
               "time() - max(callscore_retention_sweep_last_success_timestamp_seconds)",
               "since the last sweep", unit="s", text_mode=BigValueTextMode.VALUE), 4, 4)
    add(single("In flight", "Recordings taken and not yet acknowledged, all instances.",
               "sum(callscore_in_flight_recordings)", "recordings",
               text_mode=BigValueTextMode.VALUE), 4, 4)

    row("Throughput and latency")
    add(graph("Throughput by outcome", "Recordings acknowledged per second, by outcome; "
              "received for comparison.", "reqps", [
                  (f"sum by (outcome) (rate(callscore_recordings_processed_total{RATE}))",
                   "{{outcome}}"),
                  (f"sum(rate(callscore_recordings_received_total{RATE}))", "received"),
              ]), 12, 8)
    add(graph("End-to-end latency", "From the message's timestamp to its acknowledgement.", "s", [
        ("histogram_quantile(0.5, sum by (le) (rate(callscore_end_to_end_duration_seconds_bucket"
         f"{RATE})))", "p50"),
        ("histogram_quantile(0.99, sum by (le) (rate(callscore_end_to_end_duration_seconds_bucket"
         f"{RATE})))", "p99"),
    ]), 12, 8)
    add(graph("Stage durations (p99)", "99th percentile of the time one recording spends in "
              "each stage.", "s", [
                  ("histogram_quantile(0.99, sum by (stage, le) "
                   f"(rate(callscore_stage_duration_seconds_bucket{RATE})))", "{{stage}}"),
              ]), 12, 8)
    add(graph("Stage durations (p50)", "Median time one recording spends in each stage.", "s", [
        ("histogram_quantile(0.5, sum by (stage, le) "
         f"(rate(callscore_stage_duration_seconds_bucket{RATE})))", "{{stage}}"),
    ]), 12, 8)
    add(graph("In-flight recordings", "Recordings taken and not yet acknowledged, per instance "
              "(bounded by service.max_in_flight).", "short", [
                  ("sum by (instance) (callscore_in_flight_recordings)", "{{instance}}"),
              ]), 12, 8)
    add(graph("In-flight bytes", "Bytes of those recordings, per instance (bounded by "
              "service.max_in_flight_bytes).", "bytes", [
                  ("sum by (instance) (callscore_in_flight_bytes)", "{{instance}}"),
              ]), 12, 8)

    row("Kafka")
    add(graph("Consumer lag per partition", "Messages between the committed offset and the end "
              "of each partition (the highest report when two instances show one).", "short", [
                  ("max by (topic, partition) (callscore_consumer_lag_messages)",
                   "{{topic}}/{{partition}}"),
              ], stacked=True), 12, 8)
    add(graph("Rebalances by kind", "Consumer group rebalance events; and the assignments of "
              "the sweeper's election (GROUP.sweeper), one per member at each of its "
              "rebalances.", "short", [
                  (f"sum by (kind) (increase(callscore_rebalances_total{RATE}))", "{{kind}}"),
                  (f"sum(increase(callscore_sweeper_election_assignments_total{RATE}))",
                   "sweeper election"),
              ], bars=True), 6, 8)
    add(graph("Offset commits", "Offset commits per second, by result.", "ops", [
        (f"sum by (result) (rate(callscore_offset_commits_total{RATE}))", "{{result}}"),
    ]), 6, 8)

    row("Failures")
    add(graph("Errors by stage and reason", "Failures per second by stage, reason and retry "
              "class (transient ones are retried; permanent ones dead-lettered).", "ops", [
                  (f"sum by (stage, reason, retry) (rate(callscore_errors_total{RATE}))",
                   "{{stage}} {{reason}} ({{retry}})"),
              ]), 12, 8)
    add(graph("Dead letters by stage and reason", "Recordings sent to the dead-letter topic.",
              "short", [
                  (f"sum by (stage, reason) (increase(callscore_dead_letters_total{RATE}))",
                   "{{stage}} {{reason}}"),
              ], bars=True), 12, 8)
    add(graph("Retries by stage", "Retries of transient failures per second.", "ops", [
        (f"sum by (stage) (rate(callscore_retries_total{RATE}))", "{{stage}}"),
    ]), 12, 8)
    add(graph("Store requests by operation and result", "Requests to the object store per "
              "second.", "reqps", [
                  ("sum by (operation, result) "
                   f"(rate(callscore_store_requests_total{RATE}))", "{{operation}} {{result}}"),
              ]), 12, 8)

    row("Surveys")
    add(graph("Answers by status", "Answers extracted per second, by status.", "ops", [
        (f"sum by (status) (rate(callscore_answers_total{RATE}))", "{{status}}"),
    ], stacked=True), 8, 8)
    add(graph("Answers by question kind", "Answers extracted per second, by question kind.",
              "ops", [
                  (f"sum by (kind) (rate(callscore_answers_total{RATE}))", "{{kind}}"),
              ], stacked=True), 8, 8)
    add(graph("Key presses and audio", "DTMF key presses found per second, and seconds of audio "
              "decoded per second.", "short", [
                  (f"sum(rate(callscore_key_presses_total{RATE}))", "key presses/s"),
                  (f"sum(rate(callscore_audio_processed_seconds_total{RATE}))",
                   "audio seconds/s"),
              ]), 8, 8)

    row("Retention")
    add(graph("Objects deleted by retention class", "Objects the retention sweep deleted.",
              "short", [
                  ("sum by (class) "
                   f"(increase(callscore_retention_deleted_objects_total{RATE}))", "{{class}}"),
              ], bars=True), 12, 8)
    add(single("Sweeper leaders", "callscore_sweeper_leader summed over instances: 1 when one "
               "instance leads the sweeper's election and runs the scheduled sweeps; 0 with "
               "[sweeper] off (the CronJob sweeps) or when no instance can join the election.",
               "sum(callscore_sweeper_leader)", "leaders",
               mappings={"0": ("none", "orange"), "1": ("one", "green")}), 4, 8)
    add(single("Topic problems", "callscore_topic_problems at the last look (start-up and "
               "hourly): topics that keep callers' data longer than the retention promises, "
               "that the broker would not describe, or that erasure tombstones and are not "
               "compacted. /readyz names them.",
               "max by (problem) (callscore_topic_problems)", "{{problem}}"), 8, 8)

    return json.loads(json.dumps(d.build(), cls=JSONEncoder, sort_keys=True))


def render(data: dict) -> str:
    return json.dumps(data, indent=2, sort_keys=True) + "\n"


def queries(data: dict) -> list[tuple[str, str]]:
    out = []
    for panel in data.get("panels", []):
        for target in panel.get("targets", []):
            out.append((panel["title"], target["expr"]))
    return out


def check() -> list[str]:
    problems = []
    generated = build()
    if not OUTPUT.exists() or OUTPUT.read_text() != render(generated):
        problems.append(f"{OUTPUT.name} differs from what generate.py writes: run "
                        "deploy/grafana/generate.py (with the ops venv's Python) and commit both")
    committed = json.loads(OUTPUT.read_text()) if OUTPUT.exists() else {}
    # the committed file reads back into Grafana's model without losing anything
    again = json.loads(json.dumps(model.Dashboard.from_json(committed), cls=JSONEncoder,
                                  sort_keys=True))
    if again != committed:
        problems.append(f"{OUTPUT.name} does not read back into Grafana's dashboard model "
                        "unchanged (an unknown or misspelt field?)")
    series = catalogue.load()
    for title, expr in queries(committed):
        problems += catalogue.check(expr, f"{OUTPUT.name} panel {title!r}", series)
    variables = committed.get("templating", {}).get("list", [])
    if not any(v.get("name") == "datasource" and v.get("type") == "datasource"
               and v.get("query") == "prometheus" for v in variables):
        problems.append(f"{OUTPUT.name}: no ${{datasource}} variable of type prometheus")
    for panel in committed.get("panels", []):
        if panel.get("type") != "row" and panel.get("datasource", {}).get("uid") != "${datasource}":
            problems.append(f"{OUTPUT.name} panel {panel.get('title')!r} does not use ${{datasource}}")
    used = " ".join(expr for _, expr in queries(committed))
    for name in sorted(catalogue.metric_names()):
        if name not in used:
            problems.append(f"{OUTPUT.name}: no panel shows {name}")
    return problems


def main() -> int:
    if sys.argv[1:] == ["--check"]:
        problems = check()
        for problem in problems:
            print(problem, file=sys.stderr)
        return 1 if problems else 0
    if sys.argv[1:]:
        print(__doc__, file=sys.stderr)
        return 2
    OUTPUT.write_text(render(build()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
