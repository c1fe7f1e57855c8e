# shellcheck shell=bash
# Sourced by the deploy checks: installs the tools they use, once, outside the clone, and keeps
# quiet unless something fails. Debian packages with apt-get (as root, or through sudo); Python
# tools into a venv and npm packages into a folder under ${CALLSCORE_CACHE:-~/.cache/callscore}.
# Versions are pinned in deploy/requirements*.txt and in the callers' ensure_npm lines.

CALLSCORE_CACHE="${CALLSCORE_CACHE:-$HOME/.cache/callscore}"
OPS_VENV="$CALLSCORE_CACHE/ops-venv"
OPS_NPM="$CALLSCORE_CACHE/ops-npm"
DEPLOY_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# the checks' Python leaves no __pycache__ in the clone
export PYTHONDONTWRITEBYTECODE=1

# Runs a command with its output kept back, shown only when it fails.
quietly() {
  local log status
  log=$(mktemp)
  if "$@" >"$log" 2>&1; then
    rm -f "$log"
  else
    status=$?
    cat "$log" >&2
    rm -f "$log"
    return "$status"
  fi
}

# ensure_debs PACKAGE...: installs the Debian packages that are missing.
ensure_debs() {
  local missing=() p sudo=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  [ "$(id -u)" -eq 0 ] || sudo=(sudo)
  echo "installing Debian packages: ${missing[*]}" >&2
  quietly "${sudo[@]}" apt-get update -qq
  quietly env DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq \
    --no-install-recommends "${missing[@]}"
}

# ensure_venv REQUIREMENTS_FILE...: the ops venv with these pinned requirements; a file whose
# contents were installed before is not installed again.
ensure_venv() {
  local file hash stamp="$OPS_VENV/.callscore-installed"
  if [ ! -x "$OPS_VENV/bin/python" ]; then
    python3 -c 'import ensurepip, venv' 2>/dev/null || ensure_debs python3-venv
    mkdir -p "$CALLSCORE_CACHE"
    quietly python3 -m venv "$OPS_VENV"
  fi
  for file in "$@"; do
    hash=$(sha256sum "$file" | cut -d' ' -f1)
    grep -qx "$hash" "$stamp" 2>/dev/null && continue
    echo "installing Python tools from ${file#"$DEPLOY_DIR/"} into $OPS_VENV" >&2
    quietly "$OPS_VENV/bin/pip" install --disable-pip-version-check -q -r "$file"
    echo "$hash" >>"$stamp"
  done
}

# ensure_npm NAME@VERSION...: npm packages under $OPS_NPM/node_modules (no lock file kept).
ensure_npm() {
  local want stamp="$OPS_NPM/.callscore-installed"
  if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    ensure_debs nodejs npm
  fi
  want="$*"
  [ "$(cat "$stamp" 2>/dev/null)" = "$want" ] && return 0
  echo "installing npm packages into $OPS_NPM: $want" >&2
  mkdir -p "$OPS_NPM"
  [ -f "$OPS_NPM/package.json" ] || echo '{"private": true}' >"$OPS_NPM/package.json"
  quietly npm install --prefix "$OPS_NPM" --no-audit --no-fund --no-package-lock --save-exact \
    --silent "$@"
  echo "$want" >"$stamp"
}
