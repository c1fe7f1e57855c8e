#!/usr/bin/env bash
# deploy/container/rootfs.sh BINARY DIR: assembles the files of callscore's container image into
# DIR, the one list of what the image holds (the Containerfile's final stage is DIR as it is):
#   /usr/local/bin/callscore          the binary
#   every shared library `ldd BINARY` lists, at the path it lists, with the dynamic loader
#   /etc/ssl/certs/ca-certificates.crt (from the build machine's ca-certificates)
#   /etc/passwd, /etc/group           root, and callscore with uid and gid 65532
#   /tmp                              empty, mode 1777
# Nothing else: no shell, no package manager. deploy/container/check-rootfs.sh DIR checks it.
# Runs on the build stage (Debian bookworm); needs ldd and coreutils. DIR must not exist yet, or
# be empty.
set -euo pipefail

if [ $# -ne 2 ]; then
  echo "usage: $0 BINARY DIR" >&2
  exit 2
fi
binary=$1
dir=$2
ca_bundle=${CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}

fail() {
  echo "rootfs.sh: $*" >&2
  exit 1
}

[ -f "$binary" ] && [ -x "$binary" ] || fail "$binary is not an executable file"
[ -s "$ca_bundle" ] || fail "no CA certificates at $ca_bundle (install ca-certificates)"
if [ -e "$dir" ] && [ -n "$(ls -A "$dir")" ]; then
  fail "$dir is not empty"
fi

mkdir -p "$dir"
install -D -m 0755 "$binary" "$dir/usr/local/bin/callscore"

# Shared libraries: ldd's lines are "name => /path (address)", "/path/ld-linux... (address)"
# for the loader, and "linux-vdso.so.1 (address)" for the kernel's, which has no file.
listing=$(ldd "$binary" 2>&1) || fail "ldd $binary failed: $listing"
if grep -q "not found" <<<"$listing"; then
  fail "libraries missing on the build machine: $(grep "not found" <<<"$listing" | tr -s '\t ' ' ')"
fi
if grep -q "not a dynamic executable\|statically linked" <<<"$listing"; then
  libraries=()
else
  mapfile -t libraries < <(grep -o '/[^ ]*' <<<"$listing" | sort -u)
fi
for library in "${libraries[@]}"; do
  [ -f "$library" ] || fail "ldd lists $library, which is not a file"
  # the file itself (resolving symbolic links) under the name ldd lists
  install -D -m 0644 "$(readlink -f "$library")" "$dir$library"
  case "$library" in
    */ld-linux*|*/ld64.so*|*/ld-musl*) chmod 0755 "$dir$library" ;;
  esac
done

install -D -m 0644 "$ca_bundle" "$dir/etc/ssl/certs/ca-certificates.crt"

cat >"$dir/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/sbin/nologin
callscore:x:65532:65532:callscore:/nonexistent:/sbin/nologin
EOF
cat >"$dir/etc/group" <<'EOF'
root:x:0:
callscore:x:65532:
EOF
chmod 0644 "$dir/etc/passwd" "$dir/etc/group"

mkdir -p "$dir/tmp"
chmod 1777 "$dir/tmp"
# directories readable by all, writable by root only
find "$dir" -type d ! -path "$dir/tmp" -exec chmod 0755 {} +
if [ "$(id -u)" -eq 0 ]; then
  chown -R 0:0 "$dir"
fi
