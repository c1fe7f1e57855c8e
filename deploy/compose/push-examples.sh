#!/usr/bin/env bash
# deploy/compose/push-examples.sh [--bootstrap HOST:PORT] [--topic T] [--dir D] [--suffix S]:
# produces every example call of fixtures/recordings (NAME.wav with its NAME.json sidecar as
# the callscore_metadata header, content-type audio/wav, keyed by call id) to the compose
# stack's recordings topic, by default at 127.0.0.1:9094. Uses the confluent-kafka wheel
# (a current librdkafka inside; Debian's is too old), installed once into the ops venv under
# ${CALLSCORE_CACHE:-~/.cache/callscore}.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../tools.sh
source "$here/../tools.sh"
ensure_venv "$DEPLOY_DIR/requirements-push.txt"
exec "$OPS_VENV/bin/python" "$here/push_examples.py" "$@"
