"""Reads every manifest of deploy/k8s and holds it to what callscore needs.

The schemas (kubernetes-validate, validate-keda.mjs) say a manifest is well formed; this says it
is right for callscore:
- the Deployment: probes (startup and liveness on /healthz, readiness on /readyz) on the port
  the configuration listens on; the restricted security context (non-root 65532, read-only root
  file system, no privilege escalation, every capability dropped, RuntimeDefault seccomp);
  requests and limits, memory at least twice service.max_in_flight_bytes plus 256 MiB and
  requests equal to limits; a grace period longer than service.shutdown_timeout_ms; the
  configuration at /etc/callscore/callscore.toml from the ConfigMap, every survey it names
  from the surveys ConfigMap, every key file it names from the keyring Secret mounted read-only
  under /var/lib/callscore/keyring, the Kafka password and S3 credentials from a Secret; scrape
  annotations; no replica count (the autoscaler owns it);
- the Service and the PodDisruptionBudget (maxUnavailable 1) select exactly those pods;
- the privacy Deployment runs `callscore serve-privacy --config /etc/callscore/callscore.toml`
  with one replica, the same probes, security context, configuration and secrets, memory of at
  least twice limits.max_input_bytes, and pods the consumers' selector does not match; the
  configuration names the privacy topics and the audit topic it needs;
- the CronJob runs `callscore retention sweep --config /etc/callscore/callscore.toml` daily,
  never two at once, with the same security context, configuration and secrets;
- the ScaledObject scales that Deployment on the configuration's recordings topic, consumer
  group and brokers, from 1 to the recordings topic's partition count (12, also what
  deploy/compose/init.sh creates);
- the configuration (TOML embedded in the ConfigMap) parses and uses only sections and keys
  of the examples in deploy/config (which callscore's tests parse);
- the surveys are fixtures/surveys word for word; kustomization.yaml lists every manifest but
  secrets.example.yaml, which names every Secret key the others use.
Run by deploy/k8s/check.sh with the ops venv's Python (PyYAML).
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path, PurePosixPath

import yaml

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
RECORDINGS_PARTITIONS = 12
CONFIG_FILE = "/etc/callscore/callscore.toml"
KEYRING = "/var/lib/callscore/keyring"
SWEEP = ["/usr/local/bin/callscore", "retention", "sweep", "--config", CONFIG_FILE]
PRIVACY = ["serve-privacy", "--config", CONFIG_FILE]
UNITS = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "k": 10**3, "M": 10**6,
         "G": 10**9, "T": 10**12, "m": 10**-3, "": 1}

problems: list[str] = []


def fail(message: str) -> None:
    problems.append(message)


def quantity(text) -> float:
    match = re.fullmatch(r"([0-9.]+)([A-Za-z]*)", str(text))
    if not match or match.group(2) not in UNITS:
        raise ValueError(f"not a quantity: {text}")
    return float(match.group(1)) * UNITS[match.group(2)]


def load() -> dict[tuple[str, str], tuple[str, dict]]:
    resources = {}
    for path in sorted(HERE.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc:
                resources[(doc["kind"], doc["metadata"]["name"] if "metadata" in doc else "")] = (
                    path.name, doc)
    return resources


def key_paths(table: dict, prefix: str = "") -> set[str]:
    """Dotted key paths; librdkafka properties and tenant names are free, so they become *."""
    out = set()
    for key, value in table.items():
        free = prefix in ("kafka.common.", "kafka.consumer.", "kafka.producer.") or \
            prefix.endswith(".tenants.")
        path = f"{prefix}{'*' if free else key}"
        out.add(path)
        if isinstance(value, dict):
            out |= key_paths(value, f"{path}.")
    return out


def mounted_files(pod: dict, volumes_by_name: dict) -> dict[str, tuple[str, str, str, bool]]:
    """File path in the container -> (volume kind, source name, key, read-only)."""
    out = {}
    container = pod["containers"][0]
    for mount in container.get("volumeMounts", []):
        volume = volumes_by_name.get(mount["name"], {})
        base = PurePosixPath(mount["mountPath"])
        read_only = bool(mount.get("readOnly"))
        sources = []
        if "configMap" in volume:
            sources.append(("configMap", volume["configMap"]))
        if "secret" in volume:
            sources.append(("secret", {"name": volume["secret"]["secretName"],
                                       **volume["secret"]}))
        for source in volume.get("projected", {}).get("sources", []):
            for kind in ("configMap", "secret"):
                if kind in source:
                    sources.append((kind, source[kind]))
        for kind, source in sources:
            items = source.get("items")
            if mount.get("subPath"):
                out[str(base)] = (kind, source["name"], mount["subPath"], read_only)
            elif items:
                for item in items:
                    out[str(base / item["path"])] = (kind, source["name"], item["key"], read_only)
            else:
                out[str(base / "*")] = (kind, source["name"], "*", read_only)
    return out


def check_pod(where: str, pod: dict, config: dict, resources: dict, secret_keys: dict) -> None:
    security = pod.get("securityContext", {})
    containers = pod.get("containers", [])
    if len(containers) != 1:
        fail(f"{where}: expected one container")
        return
    container = containers[0]
    own = container.get("securityContext", {})

    def setting(name):
        return own.get(name, security.get(name))

    if setting("runAsNonRoot") is not True:
        fail(f"{where}: runAsNonRoot must be true")
    if setting("runAsUser") != 65532:
        fail(f"{where}: runAsUser must be 65532")
    if (setting("seccompProfile") or {}).get("type") != "RuntimeDefault":
        fail(f"{where}: seccompProfile must be RuntimeDefault")
    if own.get("readOnlyRootFilesystem") is not True:
        fail(f"{where}: readOnlyRootFilesystem must be true")
    if own.get("allowPrivilegeEscalation") is not False:
        fail(f"{where}: allowPrivilegeEscalation must be false")
    if own.get("capabilities", {}).get("drop") != ["ALL"]:
        fail(f"{where}: capabilities must drop ALL")
    if own.get("privileged"):
        fail(f"{where}: must not be privileged")
    limits = container.get("resources", {}).get("limits", {})
    requests = container.get("resources", {}).get("requests", {})
    for kind in ("cpu", "memory"):
        if kind not in limits or kind not in requests:
            fail(f"{where}: needs {kind} requests and limits")

    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    files = mounted_files(pod, volumes)
    if files.get(CONFIG_FILE, ())[:3] != ("configMap", "callscore-config", "callscore.toml"):
        fail(f"{where}: {CONFIG_FILE} must come from ConfigMap callscore-config key callscore.toml")
    config_dir = PurePosixPath(CONFIG_FILE).parent
    surveys_map = resources.get(("ConfigMap", "callscore-surveys"), (None, {}))[1]
    for survey in config["surveys"]["files"]:
        path = str(config_dir / survey)
        source = files.get(path)
        if not source or source[:2] != ("configMap", "callscore-surveys") or \
                source[2] not in surveys_map.get("data", {}):
            fail(f"{where}: survey {path} is not mounted from ConfigMap callscore-surveys")
    key_files = [config["pseudonym"].get("key_file")] + \
        [t.get("key_file") for t in config["pseudonym"].get("tenants", {}).values()]
    for key_file in key_files:
        if not key_file or PurePosixPath(key_file).parent != PurePosixPath(KEYRING):
            fail(f"{where}: pseudonym key file {key_file} must be under {KEYRING}")
            continue
        source = files.get(key_file) or files.get(f"{KEYRING}/*")
        if not source or source[:2] != ("secret", "callscore-keyring") or not source[3]:
            fail(f"{where}: {key_file} must come read-only from Secret callscore-keyring")
        elif PurePosixPath(key_file).name not in secret_keys.get("callscore-keyring", set()):
            fail(f"{where}: secrets.example.yaml's callscore-keyring has no {PurePosixPath(key_file).name}")
    env = {e["name"]: e for e in container.get("env", [])}
    for name in ("CALLSCORE__KAFKA__COMMON__SASL_PASSWORD", "AWS_ACCESS_KEY_ID",
                 "AWS_SECRET_ACCESS_KEY"):
        ref = env.get(name, {}).get("valueFrom", {}).get("secretKeyRef")
        if not ref:
            fail(f"{where}: {name} must come from a Secret")
        elif ref["key"] not in secret_keys.get(ref["name"], set()):
            fail(f"{where}: secrets.example.yaml's {ref['name']} has no key {ref['key']}")
    if pod.get("automountServiceAccountToken") is not False:
        fail(f"{where}: automountServiceAccountToken must be false")


def main() -> int:
    resources = load()

    def get(kind: str, name: str) -> dict:
        found = resources.get((kind, name))
        if not found:
            fail(f"no {kind} {name}")
            return {}
        return found[1]

    # the configuration
    config_map = get("ConfigMap", "callscore-config")
    config = tomllib.loads(config_map["data"]["callscore.toml"])
    known = set()
    for example in (ROOT / "deploy" / "config").glob("*.toml"):
        known |= key_paths(tomllib.loads(example.read_text()))
    for path in sorted(key_paths(config) - known):
        fail(f"configmap.yaml: {path} is in none of deploy/config/*.toml")
    service = config.get("service", {})
    listen_port = int(service.get("listen", "0.0.0.0:9464").rsplit(":", 1)[1])
    shutdown_ms = service.get("shutdown_timeout_ms", 30000)
    in_flight_bytes = service.get("max_in_flight_bytes", 512 << 20)
    group = config["kafka"]["consumer"]["group.id"]

    # secrets.example.yaml: which keys each Secret has
    secret_keys = {}
    for (kind, name), (file, doc) in resources.items():
        if kind == "Secret":
            secret_keys[name] = set(doc.get("stringData", {})) | set(doc.get("data", {}))

    # the Deployment
    deployment = get("Deployment", "callscore")
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    selector = deployment["spec"]["selector"]["matchLabels"]
    if any(pod_labels.get(k) != v for k, v in selector.items()):
        fail("deployment.yaml: the selector does not match the pod labels")
    if "replicas" in deployment["spec"]:
        fail("deployment.yaml: no replicas: the ScaledObject owns the count")
    pod = deployment["spec"]["template"]["spec"]
    check_pod("deployment.yaml", pod, config, resources, secret_keys)
    container = pod["containers"][0]
    ports = {p["name"]: p["containerPort"] for p in container.get("ports", [])}
    for probe, path in (("startupProbe", "/healthz"), ("readinessProbe", "/readyz"),
                        ("livenessProbe", "/healthz")):
        http = container.get(probe, {}).get("httpGet", {})
        port = ports.get(http.get("port"), http.get("port"))
        if http.get("path") != path or port != listen_port:
            fail(f"deployment.yaml: {probe} must GET {path} on port {listen_port}")
    grace = pod.get("terminationGracePeriodSeconds", 30)
    if grace * 1000 <= shutdown_ms:
        fail(f"deployment.yaml: terminationGracePeriodSeconds ({grace}) must exceed "
             f"service.shutdown_timeout_ms ({shutdown_ms} ms)")
    resources_ = container.get("resources", {})
    memory_limit = quantity(resources_.get("limits", {}).get("memory", 0))
    if memory_limit < 2 * in_flight_bytes + (256 << 20):
        fail(f"deployment.yaml: memory limit {memory_limit / 2**20:.0f} MiB is below twice "
             f"service.max_in_flight_bytes ({in_flight_bytes / 2**20:.0f} MiB) plus 256 MiB")
    if quantity(resources_.get("requests", {}).get("memory", 0)) != memory_limit:
        fail("deployment.yaml: memory requests must equal limits")
    annotations = deployment["spec"]["template"]["metadata"].get("annotations", {})
    if annotations.get("prometheus.io/scrape") != "true" or \
            annotations.get("prometheus.io/port") != str(listen_port) or \
            annotations.get("prometheus.io/path", "/metrics") != "/metrics":
        fail("deployment.yaml: needs the prometheus.io scrape, port and path annotations")
    if container.get("args", ["serve", "--config", CONFIG_FILE]) != ["serve", "--config", CONFIG_FILE]:
        fail(f"deployment.yaml: must run serve --config {CONFIG_FILE}")

    # serve-privacy
    privacy = get("Deployment", "callscore-privacy")
    if privacy:
        privacy_pod = privacy["spec"]["template"]["spec"]
        check_pod("privacy.yaml", privacy_pod, config, resources, secret_keys)
        privacy_container = privacy_pod["containers"][0]
        if privacy_container.get("args") != PRIVACY:
            fail(f"privacy.yaml: must run {' '.join(PRIVACY)}")
        if privacy["spec"].get("replicas") != 1:
            fail("privacy.yaml: one replica")
        privacy_labels = privacy["spec"]["template"]["metadata"]["labels"]
        if all(privacy_labels.get(k) == v for k, v in selector.items()):
            fail("privacy.yaml: its pods must not match the consumers' selector (Service, PDB)")
        privacy_ports = {p["name"]: p["containerPort"]
                         for p in privacy_container.get("ports", [])}
        for probe, path in (("startupProbe", "/healthz"), ("readinessProbe", "/readyz"),
                            ("livenessProbe", "/healthz")):
            http = privacy_container.get(probe, {}).get("httpGet", {})
            port = privacy_ports.get(http.get("port"), http.get("port"))
            if http.get("path") != path or port != listen_port:
                fail(f"privacy.yaml: {probe} must GET {path} on port {listen_port}")
        if privacy_pod.get("terminationGracePeriodSeconds", 30) * 1000 <= shutdown_ms:
            fail("privacy.yaml: terminationGracePeriodSeconds must exceed "
                 "service.shutdown_timeout_ms")
        input_bytes = config.get("limits", {}).get("max_input_bytes", 256 << 20)
        privacy_memory = quantity(privacy_container.get("resources", {})
                                  .get("limits", {}).get("memory", 0))
        if privacy_memory < 2 * input_bytes:
            fail("privacy.yaml: memory limit below twice limits.max_input_bytes")
        for topic in ("privacy_requests_topic", "privacy_results_topic", "audit_topic"):
            if not config["kafka"].get(topic):
                fail(f"configmap.yaml: serve-privacy needs kafka.{topic}")

    # the Service and the PodDisruptionBudget
    svc = get("Service", "callscore")
    if svc.get("spec", {}).get("selector") != selector:
        fail("service.yaml: must select the Deployment's pods")
    if [p.get("port") for p in svc.get("spec", {}).get("ports", [])] != [listen_port]:
        fail(f"service.yaml: must expose port {listen_port}")
    pdb = get("PodDisruptionBudget", "callscore")
    if pdb.get("spec", {}).get("maxUnavailable") != 1:
        fail("pdb.yaml: maxUnavailable must be 1")
    if pdb.get("spec", {}).get("selector", {}).get("matchLabels") != selector:
        fail("pdb.yaml: must select the Deployment's pods")

    # the CronJob
    cron = get("CronJob", "callscore-retention-sweep")
    spec = cron.get("spec", {})
    if spec.get("concurrencyPolicy") != "Forbid":
        fail("cronjob.yaml: concurrencyPolicy must be Forbid")
    if not re.fullmatch(r"\d{1,2} \d{1,2} \* \* \*", spec.get("schedule", "")):
        fail("cronjob.yaml: must run once a day (M H * * *)")
    sweep_pod = spec["jobTemplate"]["spec"]["template"]["spec"]
    check_pod("cronjob.yaml", sweep_pod, config, resources, secret_keys)
    sweep = sweep_pod["containers"][0]
    if sweep.get("command", []) + sweep.get("args", []) != SWEEP:
        fail(f"cronjob.yaml: must run {' '.join(SWEEP)}")
    if sweep_pod.get("restartPolicy") not in ("Never", "OnFailure"):
        fail("cronjob.yaml: restartPolicy must be Never or OnFailure")
    sweep_labels = spec["jobTemplate"]["spec"]["template"]["metadata"].get("labels", {})
    if all(sweep_labels.get(k) == v for k, v in selector.items()):
        fail("cronjob.yaml: sweep pods must not match the Deployment's selector (PDB, Service)")

    # the ScaledObject
    scaled = get("ScaledObject", "callscore")
    spec = scaled.get("spec", {})
    target = spec.get("scaleTargetRef", {})
    if target.get("name") != "callscore" or target.get("kind", "Deployment") != "Deployment":
        fail("scaledobject.yaml: must scale Deployment callscore")
    if spec.get("minReplicaCount") != 1:
        fail("scaledobject.yaml: minReplicaCount must be 1")
    if spec.get("maxReplicaCount") != RECORDINGS_PARTITIONS:
        fail(f"scaledobject.yaml: maxReplicaCount must be the recordings topic's partition "
             f"count, {RECORDINGS_PARTITIONS}")
    init = (ROOT / "deploy" / "compose" / "init.sh").read_text()
    match = re.search(r'^  "recordings (\d+) ', init, re.M)
    if not match or int(match.group(1)) != RECORDINGS_PARTITIONS:
        fail(f"deploy/compose/init.sh must create recordings with {RECORDINGS_PARTITIONS} partitions")
    kafka = [t for t in spec.get("triggers", []) if t.get("type") == "kafka"]
    if len(kafka) != 1:
        fail("scaledobject.yaml: needs one kafka trigger")
    else:
        meta = kafka[0].get("metadata", {})
        expected = {
            "topic": config["kafka"]["recordings_topic"],
            "consumerGroup": group,
            "bootstrapServers": config["kafka"]["common"]["bootstrap.servers"],
        }
        for key, value in expected.items():
            if meta.get(key) != value:
                fail(f"scaledobject.yaml: {key} must be {value} (from configmap.yaml)")
        if not str(meta.get("lagThreshold", "")).isdigit() or int(meta["lagThreshold"]) < 1:
            fail("scaledobject.yaml: lagThreshold must be a positive whole number")
        auth = kafka[0].get("authenticationRef", {}).get("name")
        trigger_auth = get("TriggerAuthentication", auth) if auth else {}
        for ref in trigger_auth.get("spec", {}).get("secretTargetRef", []):
            if ref["key"] not in secret_keys.get(ref["name"], set()):
                fail(f"scaledobject.yaml: secrets.example.yaml's {ref['name']} has no key {ref['key']}")

    # the surveys are the fixtures'
    surveys = get("ConfigMap", "callscore-surveys").get("data", {})
    for name, text in surveys.items():
        fixture = ROOT / "fixtures" / "surveys" / name
        if not fixture.exists() or fixture.read_text() != text:
            fail(f"surveys.yaml: {name} differs from fixtures/surveys/{name}")

    # kustomization.yaml lists every manifest but the example Secrets
    kustomization = yaml.safe_load((HERE / "kustomization.yaml").read_text())
    listed = set(kustomization.get("resources", []))
    manifests = {p.name for p in HERE.glob("*.yaml")} - {"kustomization.yaml", "secrets.example.yaml"}
    if listed != manifests:
        fail(f"kustomization.yaml: resources must be {sorted(manifests)}")

    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
