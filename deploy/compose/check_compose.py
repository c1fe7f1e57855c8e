"""What a compose tool does not check in the compose stack: that its parts fit together.

- the services are there, callscore built from deploy/container/Containerfile, read-only, as
  65532:65532, its configuration mounted at /etc/callscore/callscore.toml, started after init;
- callscore.toml has exactly the sections and keys of deploy/config/local.toml (so it parses
  as that one does), listens on 0.0.0.0:9464, and names the stack's broker, store and bucket;
- init.sh creates exactly the topics recordings, scores, recordings-dlq, audit and contact and
  the buckets audio and staging, and every topic callscore.toml names, the recordings,
  dead-letter and contact topics deleting their messages within what the retention promises;
- every bind-mounted file exists, every published port is bound to 127.0.0.1, Prometheus gets
  prometheus.yml with alerts.yaml and Grafana its data source and the dashboard.
Run by deploy/compose/check.sh with the ops venv's Python (PyYAML).
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
TOPICS = {
    "recordings",
    "scores",
    "recordings-dlq",
    "audit",
    "contact",
    "transcription-requests",
    "transcripts",
}
BUCKETS = {"audio", "staging"}


def key_paths(table: dict, prefix: str = "") -> set[str]:
    out = set()
    for key, value in table.items():
        path = f"{prefix}{key}"
        out.add(path)
        if isinstance(value, dict):
            out |= key_paths(value, f"{path}.")
    return out


def default(value: str) -> str:
    """The default of a ${NAME:-default} reference, else the text."""
    match = re.fullmatch(r"\$\{[A-Z0-9_]+:-(.*)\}", str(value))
    return match.group(1) if match else str(value)


def main() -> int:
    problems: list[str] = []
    compose = yaml.safe_load((HERE / "compose.yaml").read_text())
    services = compose["services"]
    for name in ("kafka", "garage", "init", "callscore", "prometheus", "grafana"):
        if name not in services:
            problems.append(f"compose.yaml: no service {name}")
    if problems:
        return report(problems)

    if services["kafka"]["image"] != "docker.io/apache/kafka:3.9.0":
        problems.append("compose.yaml: kafka must run apache/kafka:3.9.0")
    if "server" not in services["garage"]["command"]:
        problems.append("compose.yaml: garage must run `garage server`")

    callscore = services["callscore"]
    build = callscore.get("build", {})
    if (HERE / build.get("context", "")).resolve() != ROOT or \
            build.get("dockerfile") != "deploy/container/Containerfile":
        problems.append("compose.yaml: callscore must build deploy/container/Containerfile "
                        "with the clone as context")
    if callscore.get("read_only") is not True:
        problems.append("compose.yaml: callscore must be read_only")
    if str(callscore.get("user")) != "65532:65532":
        problems.append("compose.yaml: callscore must run as user 65532:65532")
    if callscore.get("depends_on", {}).get("init", {}).get("condition") != \
            "service_completed_successfully":
        problems.append("compose.yaml: callscore must start after init completed")
    mounts = {}
    for service_name, service in services.items():
        for volume in service.get("volumes", []):
            source, target = volume.split(":")[:2]
            if source.startswith((".", "/")):
                path = (HERE / source).resolve()
                if not path.exists():
                    problems.append(f"compose.yaml: {service_name} mounts {source}, which is missing")
                mounts[(service_name, target)] = path
        for port in service.get("ports", []):
            if not str(port).startswith("127.0.0.1:"):
                problems.append(f"compose.yaml: {service_name} publishes {port} beyond 127.0.0.1")
    if mounts.get(("callscore", "/etc/callscore/callscore.toml")) != HERE / "callscore.toml":
        problems.append("compose.yaml: callscore.toml must be mounted at /etc/callscore/callscore.toml")
    environment = callscore.get("environment", {})
    for variable in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "CALLSCORE_PSEUDONYM_KEY"):
        if variable not in environment:
            problems.append(f"compose.yaml: callscore gets no {variable}")

    # callscore.toml: the same sections and keys as deploy/config/local.toml
    config = tomllib.loads((HERE / "callscore.toml").read_text())
    local = tomllib.loads((ROOT / "deploy" / "config" / "local.toml").read_text())
    if key_paths(config) != key_paths(local):
        problems.append("callscore.toml: sections and keys differ from deploy/config/local.toml: "
                        f"{sorted(key_paths(config) ^ key_paths(local))}")
    if config.get("service", {}).get("listen") != "0.0.0.0:9464":
        problems.append("callscore.toml: service.listen must be 0.0.0.0:9464")
    kafka_env = services["kafka"]["environment"]
    internal = re.search(r"INTERNAL://([^,]+)", kafka_env["KAFKA_ADVERTISED_LISTENERS"]).group(1)
    if config["kafka"]["common"].get("bootstrap.servers") != internal:
        problems.append(f"callscore.toml: bootstrap.servers must be the broker's {internal}")
    garage_env = services["garage"]["environment"]
    if config["s3"].get("bucket") != garage_env.get("GARAGE_DEFAULT_BUCKET"):
        problems.append("callscore.toml: s3.bucket must be garage's default bucket")
    if config["s3"].get("endpoint_url") != "http://garage:3900":
        problems.append("callscore.toml: s3.endpoint_url must be http://garage:3900")
    if default(environment.get("AWS_ACCESS_KEY_ID")) != default(garage_env["GARAGE_DEFAULT_ACCESS_KEY"]):
        problems.append("compose.yaml: callscore's access key is not garage's")
    surveys = mounts.get(("callscore", "/etc/callscore/surveys"))
    for survey in config["surveys"]["files"]:
        if not survey.startswith("surveys/") or surveys is None or \
                not (surveys / survey.removeprefix("surveys/")).exists():
            problems.append(f"callscore.toml: survey {survey} is not in the mounted surveys")

    # init.sh: the topics and buckets
    init = (HERE / "init.sh").read_text()
    created = {m.group(1): int(m.group(2)) for m in re.finditer(r'^  "([a-z.-]+) (\d+) ', init, re.M)}
    if set(created) != TOPICS:
        problems.append(f"init.sh: creates topics {sorted(created)}, not {sorted(TOPICS)}")
    for key in ("recordings_topic", "scores_topic", "dead_letter_topic"):
        if config["kafka"][key] not in created:
            problems.append(f"init.sh: does not create {key} {config['kafka'][key]}")
    # a message stays up to retention.ms plus segment.ms: callscore serve refuses topics that
    # keep callers' data longer than the retention promises (the shipped configurations'
    # shortest class is 14 days, retention.contact_requests 30)
    day = 24 * 3600 * 1000
    for topic, days in (("recordings", 14), ("recordings-dlq", 14), ("contact", 30)):
        spec = re.search(rf'^  "{re.escape(topic)} \d+ ([^"]*)"', init, re.M)
        settings = dict(kv.split("=", 1) for kv in spec.group(1).split(",") if "=" in kv) if spec else {}
        try:
            stay = int(settings["retention.ms"]) + int(settings["segment.ms"])
        except (KeyError, ValueError):
            problems.append(f"init.sh: {topic} needs retention.ms and segment.ms")
            continue
        if stay > days * day:
            problems.append(f"init.sh: {topic} keeps messages longer than {days} days")
    buckets = re.search(r"^for bucket in ([a-z -]+); do", init, re.M)
    if not buckets or set(buckets.group(1).split()) != BUCKETS:
        problems.append(f"init.sh: must create the buckets {sorted(BUCKETS)}")

    # Prometheus and Grafana get their files
    wanted = {
        ("prometheus", "/etc/prometheus/prometheus.yml"): ROOT / "deploy/prometheus/prometheus.yml",
        ("prometheus", "/etc/prometheus/alerts.yaml"): ROOT / "deploy/prometheus/alerts.yaml",
        ("grafana", "/var/lib/grafana/dashboards/callscore/callscore.json"):
            ROOT / "deploy/grafana/callscore.json",
    }
    for where, path in wanted.items():
        if mounts.get(where) != path:
            problems.append(f"compose.yaml: {where[0]} must mount {path.relative_to(ROOT)} at {where[1]}")
    datasources = yaml.safe_load((HERE / "grafana" / "datasources.yaml").read_text())
    if not any(d.get("type") == "prometheus" and d.get("url") == "http://prometheus:9090"
               for d in datasources.get("datasources", [])):
        problems.append("grafana/datasources.yaml: no Prometheus data source at prometheus:9090")
    return report(problems)


def report(problems: list[str]) -> int:
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
