#!/usr/bin/env bash
# deploy/grafana/check.sh: callscore.json is exactly what generate.py builds with Grafana's
# typed model (grafana-foundation-sdk), reads back into that model unchanged, uses the
# ${datasource} variable everywhere, shows every metric of deploy/metrics.yaml and names no
# metric, label or value outside it. Quiet on success.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../tools.sh
source "$here/../tools.sh"
ensure_venv "$DEPLOY_DIR/requirements.txt"
"$OPS_VENV/bin/python" "$here/generate.py" --check
