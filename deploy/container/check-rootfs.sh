#!/usr/bin/env bash
# deploy/container/check-rootfs.sh DIR: checks a root file system made by rootfs.sh, the final
# stage of callscore's image. Needs root (chroot). Checks:
#  - the files rootfs.sh promises are there (binary, CA certificates, passwd and group naming
#    callscore 65532, /tmp with mode 1777), owned by root and writable by nobody else;
#  - nothing else is: no shell, no package manager (apt, dpkg, pip, ...), no other program, and
#    no library the binary does not load;
#  - every library the binary needs resolves inside DIR (the loader in DIR lists them, chrooted);
#  - the binary runs chrooted into DIR mounted read-only, as uid and gid 65532, with an empty
#    environment: `--version` and `--help` exit 0 and print something;
#  - with podman (the Debian package; CALLSCORE_PODMAN=0 skips it): the Containerfile's final
#    stage, with DIR for the build stage's /rootfs, builds; the image has user 65532:65532, the
#    entrypoint /usr/local/bin/callscore and port 9464; `podman run --read-only --cap-drop ALL`
#    runs `--version` and `--help` through that entrypoint as that user, without a network.
# Prints one line saying what it could check; exits non-zero on the first failure.
set -euo pipefail

if [ $# -ne 1 ] || [ ! -d "$1" ]; then
  echo "usage: $0 DIR (a directory made by deploy/container/rootfs.sh)" >&2
  exit 2
fi
dir=$(cd "$1" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../tools.sh
source "$here/../tools.sh"

fail() {
  echo "check-rootfs: $dir: $*" >&2
  exit 1
}
[ "$(id -u)" -eq 0 ] || fail "needs root (it runs chroot)"
chroot_bin=$(command -v chroot)

# --- the promised files
binary=usr/local/bin/callscore
[ -f "$dir/$binary" ] && [ -x "$dir/$binary" ] || fail "no executable /$binary"
[ -u "$dir/$binary" ] || [ -g "$dir/$binary" ] && fail "/$binary is setuid or setgid"
grep -q "BEGIN CERTIFICATE" "$dir/etc/ssl/certs/ca-certificates.crt" 2>/dev/null ||
  fail "no CA certificates at /etc/ssl/certs/ca-certificates.crt"
grep -qx 'callscore:x:65532:65532:[^:]*:[^:]*:[^:]*' "$dir/etc/passwd" 2>/dev/null ||
  fail "/etc/passwd does not name callscore with uid and gid 65532"
grep -qx 'callscore:x:65532:' "$dir/etc/group" 2>/dev/null ||
  fail "/etc/group does not name callscore with gid 65532"
[ -d "$dir/tmp" ] && [ "$(stat -c %a "$dir/tmp")" = 1777 ] || fail "/tmp is missing or not 1777"
if [ -n "$(ls -A "$dir/tmp")" ]; then fail "/tmp is not empty"; fi

# --- ownership and modes: root's, and nothing but /tmp writable by others
bad=$(find "$dir" ! -path "$dir/tmp" \( ! -uid 0 -o -perm /022 \) ! -type l -printf '/%P\n')
[ -z "$bad" ] || fail "not owned by root or writable by group or others: ${bad//$'\n'/ }"

# --- no shell, no package manager, no other program
forbidden=$(find "$dir" \( -name sh -o -name bash -o -name dash -o -name ash -o -name zsh \
  -o -name ksh -o -name mksh -o -name csh -o -name tcsh -o -name fish -o -name busybox \
  -o -name toybox -o -name 'apt*' -o -name 'dpkg*' -o -name 'pip*' -o -name apk -o -name rpm \
  -o -name yum -o -name dnf -o -name microdnf -o -name 'python*' -o -name 'perl*' \
  -o -name shells \) -printf '/%P\n')
[ -z "$forbidden" ] || fail "holds a shell, interpreter or package manager: ${forbidden//$'\n'/ }"

# --- the libraries the binary loads, as the loader inside DIR resolves them
mapfile -t loaders < <(find "$dir" -type f \( -name 'ld-linux*.so*' -o -name 'ld64.so*' \
  -o -name 'ld-musl*.so*' \) -printf '/%P\n')
needed=()
if [ ${#loaders[@]} -gt 0 ]; then
  [ ${#loaders[@]} -eq 1 ] || fail "more than one dynamic loader: ${loaders[*]}"
  listing=$(env -i "$chroot_bin" "$dir" "${loaders[0]}" --list "/$binary" 2>&1) ||
    fail "the loader cannot list the binary's libraries: $listing"
  if grep -q "not found" <<<"$listing"; then
    fail "libraries missing: $(grep "not found" <<<"$listing" | tr -s '\t ' ' ')"
  fi
  mapfile -t needed < <(grep -o '/[^ ]*' <<<"$listing" | sort -u)
fi
present=$(find "$dir" \( -type f -o -type l \) ! -path "$dir/$binary" \
  ! -path "$dir/etc/passwd" ! -path "$dir/etc/group" \
  ! -path "$dir/etc/ssl/certs/ca-certificates.crt" -printf '/%P\n' | sort)
expected=$(printf '%s\n' "${needed[@]}" | sed '/^$/d' | sort)
if [ "$present" != "$expected" ]; then
  extra=$(comm -23 <(echo "$present") <(echo "$expected") | sed '/^$/d')
  unresolved=$(comm -13 <(echo "$present") <(echo "$expected") | sed '/^$/d')
  [ -z "$extra" ] || fail "files that are neither promised nor loaded: ${extra//$'\n'/ }"
  [ -z "$unresolved" ] || fail "loaded but missing (resolved outside the expected path?): ${unresolved//$'\n'/ }"
fi
# empty directories other than /tmp would be clutter too
empty=$(find "$dir" -mindepth 1 -type d -empty ! -path "$dir/tmp" -printf '/%P\n')
[ -z "$empty" ] || fail "empty directories: ${empty//$'\n'/ }"

# --- run it: chrooted, DIR read-only, uid and gid 65532, empty environment
for flag in --version --help; do
  # shellcheck disable=SC2016 # the inner shell expands its own arguments
  out=$(unshare --mount sh -c 'mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" &&
        exec env -i "$2" --userspec=65532:65532 "$1" /usr/local/bin/callscore "$3"' \
        check "$dir" "$chroot_bin" "$flag" 2>&1) ||
    fail "callscore $flag as 65532 in a read-only chroot failed: $out"
  [ -n "$out" ] || fail "callscore $flag printed nothing"
done
checked="files, libraries (${#needed[@]}), no shell or package manager; ran --version and --help as 65532 in a read-only chroot"

# --- podman: the real final stage, run as its image says
podman_note="podman: skipped (CALLSCORE_PODMAN=0)"
if [ "${CALLSCORE_PODMAN:-1}" != 0 ]; then
  ensure_debs podman runc
  work=$(mktemp -d)
  image=localhost/callscore-rootfs-check:$$
  cleanup() {
    podman rmi -f "$image" >/dev/null 2>&1 || true
    rm -rf "$work"
  }
  trap cleanup EXIT
  # the final stage: from the last FROM to the end, with DIR standing in for the build stage
  awk '/^FROM /{stage=""} {stage=stage $0 "\n"} END{printf "%s", stage}' \
    "$here/Containerfile" >"$work/final"
  grep -qx 'COPY --from=build /rootfs /' "$work/final" ||
    fail "the Containerfile's final stage does not COPY --from=build /rootfs / (keep it so)"
  sed 's|^COPY --from=build /rootfs /$|COPY rootfs /|' "$work/final" >"$work/Containerfile"
  cp -a "$dir" "$work/rootfs"
  quietly podman build --quiet --layers=false --network none -f "$work/Containerfile" -t "$image" "$work" ||
    fail "podman could not build the final stage"
  config=$(podman image inspect --format \
    '{{.Config.User}}|{{json .Config.Entrypoint}}|{{json .Config.ExposedPorts}}' "$image")
  case "$config" in
    '65532:65532|["/usr/local/bin/callscore"]|{"9464/tcp":{}}') ;;
    *) fail "image configuration is $config" ;;
  esac
  ran=""
  last_error=""
  # crun fails on hosts with hybrid cgroups (v1 and v2 mounted together); runc does not. Some
  # sandboxes refuse raising the open-file and process limits, so ask for modest ones.
  for runtime in crun runc; do
    command -v "$runtime" >/dev/null || continue
    status=0
    out=$(podman --runtime "$runtime" run --rm --read-only --network none --cap-drop ALL \
      --security-opt no-new-privileges --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 \
      "$image" --version 2>&1) || status=$?
    if [ "$status" -eq 0 ]; then
      out=$(podman --runtime "$runtime" run --rm --read-only --network none --cap-drop ALL \
        --security-opt no-new-privileges --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 \
        "$image" --help 2>&1) || fail "podman run IMAGE --help failed: $out"
      ran=$runtime
      break
    elif [ "$status" -ge 125 ]; then
      # 125: podman or the runtime could not start the container; not the image's fault
      last_error="$runtime: $(tail -n 1 <<<"$out")"
    else
      fail "podman run IMAGE --version: the binary exited $status: $out"
    fi
  done
  if [ -n "$ran" ]; then
    podman_note="podman: built the final stage, ran --version and --help read-only as 65532 ($ran)"
  else
    podman_note="podman: built the final stage and checked its configuration; could not run a container here (${last_error:-no OCI runtime})"
  fi
fi
echo "rootfs ok: $checked; $podman_note"
