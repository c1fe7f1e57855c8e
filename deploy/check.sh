#!/usr/bin/env bash
# deploy/check.sh [BINARY]: every check of the operations artifacts, one line each:
#   scripts     shellcheck on every shell script under deploy/
#   container   hadolint on the Containerfile; given a callscore binary (the argument, or
#               CALLSCORE_BINARY), also the image's root file system built from it by
#               rootfs.sh and checked by check-rootfs.sh (chroot, so as root; podman when it
#               can run here). Without a binary the root file system is not checked.
#   compose     deploy/compose/check.sh
#   k8s         deploy/k8s/check.sh
#   prometheus  deploy/prometheus/check.sh
#   grafana     deploy/grafana/check.sh
# Tools are installed on first use (Debian packages; a venv and npm packages under
# ${CALLSCORE_CACHE:-~/.cache/callscore}). Runs every check, prints what failed, and exits
# non-zero if any did.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tools.sh
source "$here/tools.sh"
binary=${1:-${CALLSCORE_BINARY:-}}

# the tools every check shares, installed once up front so each line's time is its own
ensure_venv "$DEPLOY_DIR/requirements.txt" || exit 1

failed=0
run() { # run NAME COMMAND...: one line saying how it went; its output only when it failed
  local name=$1 log start status detail tenths
  shift
  log=$(mktemp)
  start=$(date +%s%N)
  "$@" >"$log" 2>&1
  status=$?
  tenths=$((($(date +%s%N) - start) / 100000000))
  detail="$((tenths / 10)).$((tenths % 10)) s"
  if [ "$status" -eq 0 ]; then
    # a check may say in one line what it could do (check-rootfs.sh does)
    if grep -v '^installing ' "$log" | grep -q .; then
      detail="$detail; $(grep -v '^installing ' "$log" | tail -n 1)"
    fi
    printf 'ok    %-10s (%s)\n' "$name" "$detail"
  else
    printf 'FAIL  %-10s (%s)\n' "$name" "$detail"
    sed 's/^/      /' "$log"
    failed=1
  fi
  rm -f "$log"
}

# shellcheck disable=SC2329 # run calls it
scripts() {
  local files
  mapfile -t files < <(find "$here" -name '*.sh' | sort)
  "$OPS_VENV/bin/shellcheck" -x --source-path=SCRIPTDIR "${files[@]}"
}

run scripts scripts
if [ -n "$binary" ]; then
  run container "$here/container/check.sh" "$binary"
else
  run container "$here/container/check.sh"
  echo "      (no binary given: the image's root file system was not checked)"
fi
run compose "$here/compose/check.sh"
run k8s "$here/k8s/check.sh"
run prometheus "$here/prometheus/check.sh"
run grafana "$here/grafana/check.sh"
exit "$failed"
