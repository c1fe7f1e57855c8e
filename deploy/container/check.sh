#!/usr/bin/env bash
# deploy/container/check.sh [BINARY]: lints the Containerfile with hadolint and, given a callscore
# binary (or CALLSCORE_BINARY), assembles the image's root file system from it with rootfs.sh and
# checks it with check-rootfs.sh (as root: it uses chroot, and podman when it can). Quiet on
# success but for check-rootfs.sh's one line; non-zero on failure.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../tools.sh
source "$here/../tools.sh"
ensure_venv "$DEPLOY_DIR/requirements.txt"

"$OPS_VENV/bin/hadolint" --no-color "$here/Containerfile"

binary=${1:-${CALLSCORE_BINARY:-}}
[ -n "$binary" ] || exit 0
[ -f "$binary" ] || { echo "no binary at $binary" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$here/rootfs.sh" "$binary" "$work/rootfs"
"$here/check-rootfs.sh" "$work/rootfs"
