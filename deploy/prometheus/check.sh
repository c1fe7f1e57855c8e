#!/usr/bin/env bash
# deploy/prometheus/check.sh: checks the alert rules and the compose stack's Prometheus
# configuration (after yamllint) with promtool (Debian's prometheus package): `check rules`, `check config`
# (which also loads the rules), and `test rules` on alerts.test.yaml, where every alert fires
# in one case and stays silent in another; then check_rules.py holds the rules and the tests to
# deploy/metrics.yaml, the runbook links and the test coverage. Quiet on success.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../tools.sh
source "$here/../tools.sh"
ensure_debs prometheus
ensure_venv "$DEPLOY_DIR/requirements.txt"
cd "$here"
"$OPS_VENV/bin/yamllint" -s -c "$DEPLOY_DIR/yamllint.yaml" alerts.yaml alerts.test.yaml \
  prometheus.yml "$DEPLOY_DIR/metrics.yaml"
quietly promtool check rules alerts.yaml
quietly promtool check config prometheus.yml
quietly promtool test rules alerts.test.yaml
"$OPS_VENV/bin/python" check_rules.py
