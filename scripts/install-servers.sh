#!/usr/bin/env bash
# Installs the test servers into a cache outside the clone, so that only the first run on a
# machine pays for the build: nisshi (a Kafka-protocol broker) and Garage (an S3-compatible
# store without tagging) from the crate registry, and moto (an S3 emulator with tagging) from
# the Python package index.
#
#   CALLSCORE_CACHE   where binaries are kept (default: ~/.cache/callscore)
#
# Prints nothing but progress on stderr; exits non-zero if a build fails.
set -euo pipefail

# keep in step with crates/testkit
NISSHI_VERSION=0.8.1
GARAGE_VERSION=2.5.0
MOTO_VERSION=5.2.5
cache=${CALLSCORE_CACHE:-$HOME/.cache/callscore}

install_crate() {
  local name=$1 version=$2
  shift 2
  local root="$cache/$name-$version"
  if [ -x "$root/bin/$name" ]; then
    return 0
  fi
  echo "building $name $version into $root (first run only; takes a while)" >&2
  mkdir -p "$cache"
  # a private target dir keeps a failed build from leaving half an install behind
  CARGO_TARGET_DIR="$cache/build-$name" cargo install --locked --ignore-rust-version \
    --root "$root.partial" "$@" "$name" --version "$version" >&2
  rm -rf "$root" "$cache/build-$name"
  mv "$root.partial" "$root"
}

install_crate nisshi "$NISSHI_VERSION"
install_crate garage "$GARAGE_VERSION" --no-default-features --features bundled-libs,sqlite

# a venv records its own path, so it is built in place; the stamp marks a finished install
venv="$cache/moto-venv"
if [ "$(cat "$venv/.installed" 2>/dev/null)" != "$MOTO_VERSION" ]; then
  echo "installing moto $MOTO_VERSION into $venv" >&2
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet "moto[server]==$MOTO_VERSION" >&2
  echo "$MOTO_VERSION" > "$venv/.installed"
fi
