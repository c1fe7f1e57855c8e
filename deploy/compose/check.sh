#!/usr/bin/env bash
# deploy/compose/check.sh: checks the compose stack without starting it (no container engine
# needed): Debian's docker-compose (1.29) resolves and validates compose.yaml (`config -q`),
# check-jsonschema validates it against the Compose Specification's schema, yamllint reads
# every YAML file here, and check_compose.py checks that the parts fit (callscore.toml against
# deploy/config/local.toml, topics, buckets, mounts, ports). Quiet on success.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../tools.sh
source "$here/../tools.sh"
ensure_debs docker-compose
ensure_venv "$DEPLOY_DIR/requirements.txt"
cd "$here"
quietly docker-compose -f compose.yaml config -q
quietly "$OPS_VENV/bin/check-jsonschema" --builtin-schema vendor.compose-spec compose.yaml
"$OPS_VENV/bin/yamllint" -s -c "$DEPLOY_DIR/yamllint.yaml" compose.yaml grafana/*.yaml
"$OPS_VENV/bin/python" check_compose.py
