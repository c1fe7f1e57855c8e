#!/usr/bin/env bash
# Runs every check callscore has: formatting, clippy with warnings as errors, and every test
# (unit, property, fixture, conformance, talk-off and barge-in corpora), on a fresh Debian
# machine with the Rust toolchain. Installs the Debian packages the build and the tests need
# (as root, or through sudo) when they are missing.
set -euo pipefail
cd "$(dirname "$0")/.."

# the C library the spandsp comparison links; libopus, which decodes Ogg Opus; sox and
# espeak-ng generate the corpora; a C toolchain, OpenSSL and zlib build the bundled
# librdkafka; python3-venv holds the S3 emulator used by the tagging tests; prometheus (with
# promtool) scrapes the service in the monitoring test and checks the alert rules; PocketSphinx
# and its US English model are the reference transcriber of spoken comments
packages=(pkg-config libspandsp-dev libopus-dev sox libsox-fmt-all espeak-ng build-essential
  libssl-dev zlib1g-dev python3-venv prometheus libpocketsphinx-dev pocketsphinx-en-us)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing Debian packages: ${missing[*]}" >&2
  sudo=()
  [ "$(id -u)" -eq 0 ] || sudo=(sudo)
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >&2
fi

step() { printf '\n== %s\n' "$*" >&2; }

step "test servers (broker, S3 stores), built once into \${CALLSCORE_CACHE:-~/.cache/callscore}"
scripts/install-servers.sh

step "cargo fmt --check"
cargo fmt --all --check
# the optional C libraries: Opus (clips and Ogg Opus input), PocketSphinx (the reference
# transcriber and its evaluation)
features=callscore/opus,callscore/pocketsphinx,callscore-corpus/pocketsphinx
step "cargo clippy --workspace --all-targets -- -D warnings (default features, then all)"
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo clippy --workspace --all-targets --locked --features "$features" -- -D warnings
step "cargo test --workspace (every feature), and the one test that differs without Opus"
cargo test --workspace --locked --features "$features"
cargo test --locked -p callscore --test formats
step "cargo build --release (target/release/callscore), and the README's main job"
cargo build --release --locked -p callscore
store=$(mktemp -d)
trap 'rm -rf "$store"' EXIT
target/release/callscore process fixtures/recordings --survey fixtures/surveys/nps-csat.toml \
  --survey fixtures/surveys/nps-comment.toml --pseudonym-key-file fixtures/demo-pseudonym.key \
  --store "$store" >/dev/null
target/release/callscore detect fixtures/all-keys-pcm16.wav >/dev/null
step "a slice of the privacy benchmark (the README's runs it at 100,000 recordings)"
cargo run --locked -q -p callscore-benches --bin privacy-bench -- 1000 >/dev/null
step "deploy/check.sh: the image's file set from the release binary, compose, manifests, alert
rules (promtool check and unit tests), dashboard"
deploy/check.sh target/release/callscore
echo "all checks passed" >&2
