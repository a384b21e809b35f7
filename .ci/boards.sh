#!/usr/bin/env bash
# The boards' Linux under emulation: Debian bookworm armhf (PYNQ-Z2's Cortex-A9) and arm64
# (ZCU104/KV260's Cortex-A53) roots with the distribution's Python stack, run by qemu-user.
# lutrun is installed in each exactly as docs/boards.md tells a board user, then the fast
# tests and the demo run inside.  The roots are cached outside the clone
# ($LUTRUN_BOARD_CACHE, default /var/cache/lutrun/boards): only a fresh machine debootstraps.
#
#   .ci/boards.sh [armhf] [arm64]      (default: both, in parallel)
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
cache="${LUTRUN_BOARD_CACHE:-/var/cache/lutrun/boards}"
mirror="${LUTRUN_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
archs=("$@")
[ ${#archs[@]} -gt 0 ] || archs=(armhf arm64)
# What a PYNQ image brings: Python, numpy, OpenCV, cffi, a compiler and libffi's headers.
packages=python3,python3-numpy,python3-opencv,python3-cffi,python3-venv,python3-dev,python3-pip,python3-ply,gcc,libc6-dev,libffi-dev,ca-certificates

need=()
for tool in debootstrap qemu-arm-static qemu-aarch64-static update-binfmts; do
    command -v "$tool" >/dev/null 2>&1 || need+=("$tool")
done
if [ ${#need[@]} -gt 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap qemu-user-static binfmt-support >/dev/null
fi
[ -e /proc/sys/fs/binfmt_misc/register ] || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
update-binfmts --enable >/dev/null 2>&1 || true

make_root() {  # debootstrap once per machine; an interrupted build is started again
    local arch=$1 root="$cache/bookworm-$1"
    [ -e "$root/.lutrun-ready" ] && return 0
    rm -rf "$root.tmp"
    mkdir -p "$cache"
    debootstrap --arch="$arch" --variant=minbase --include="$packages" bookworm "$root.tmp" "$mirror" >"$cache/$arch.log" 2>&1
    chroot "$root.tmp" dpkg --configure -a >>"$cache/$arch.log" 2>&1
    rm -rf "$root"
    mv "$root.tmp" "$root"
    touch "$root/.lutrun-ready"
}

run_board() {
    local arch=$1 root="$cache/bookworm-$1" started=$SECONDS
    make_root "$arch"
    # A fresh copy of the working tree (no build output), the host's network settings, /proc.
    rm -rf "$root/src" "$root/venv"
    mkdir -p "$root/src"
    (cd "$here" && git ls-files -z --cached --others --exclude-standard | xargs -0 cp --parents -t "$root/src" 2>/dev/null || true)
    cp /etc/resolv.conf "$root/etc/resolv.conf"
    # This machine reaches PyPI through its own CA bundle and pip settings: the board root borrows them.
    cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"
    if [ -f /etc/pip.conf ]; then cp /etc/pip.conf "$root/etc/pip.conf"; fi
    mountpoint -q "$root/proc" || mount -t proc proc "$root/proc"
    # The datasets the MNIST tests read, read-only where the tests look for them (../shared/data).
    local data="${LUTRUN_DATA:-$here/../shared/data}"
    mkdir -p "$root/shared/data"
    if [ -d "$data" ] && ! mountpoint -q "$root/shared/data"; then
        mount --bind "$data" "$root/shared/data" && mount -o remount,ro,bind "$root/shared/data"
    fi
    trap "umount '$root/shared/data' 2>/dev/null || true; umount '$root/proc' 2>/dev/null || true" RETURN
    cat > "$root/run-board.sh" <<'INSIDE'
set -e
cd /src
python3 -m venv --system-site-packages /venv
versions() { /venv/bin/python -c "import numpy, cv2, cffi; print(numpy.__version__, cv2.__version__, cffi.__version__)"; }
before=$(versions)
# docs/boards.md, step for step
start=$(date +%s)
/venv/bin/pip install -q '.[serve]'
echo "pip install: $(($(date +%s) - start)) s (under qemu)"
after=$(versions)
echo "numpy, OpenCV, cffi before: $before; after: $after"
[ "$before" = "$after" ] || { echo "installing lutrun replaced the distribution's packages" >&2; exit 1; }
/venv/bin/pip install -q pytest hypothesis
simd=$(/venv/bin/python -c "import lutrun.native as n; print(n.simd_name())")
echo "SIMD kernel: $simd"
[ "$simd" = "neon" ] || { echo "the board would run the $simd kernel, not NEON" >&2; exit 1; }
cd /src/tests
set +e
LUTRUN_CACHE=/tmp/lutrun-cache LUTRUN_EMULATED=1 /venv/bin/python -m pytest -q -p no:cacheprovider --rootdir=.. -c ../pyproject.toml \
    -m "not slow" -rs . > /tmp/pytest.log 2>&1
status=$?
set -e
[ $status -eq 0 ] || { cat /tmp/pytest.log; exit $status; }
tail -n 1 /tmp/pytest.log
echo "skipped, by reason:"
grep "^SKIPPED" /tmp/pytest.log | sed -E 's/^SKIPPED \[([0-9]+)\] [^:]+(:[0-9]+)?: /\1 /' \
    | awk '{n = $1; $1 = ""; count[$0] += n} END {for (r in count) print "  " count[r] r}' | sort -rn
/venv/bin/lutrun demo --duration 2 --headless > /tmp/demo.json
/venv/bin/python - <<'CHECK'
import json
text = open("/tmp/demo.json").read()
summary = json.loads(text[text.index("{"):])
print("demo:", summary["frames"], "frames in 2 s, accuracy", round(summary["accuracy"], 4))
assert summary["frames"] > 0 and summary["accuracy"] > 0.9
CHECK
INSIDE
    # A board's environment, not this machine's (its pip settings name paths the root does not have).
    chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 /bin/sh /run-board.sh
    echo "board $arch: passed in $((SECONDS - started)) s"
}

pids=()
for arch in "${archs[@]}"; do
    run_board "$arch" > >(sed "s/^/[$arch] /") 2>&1 &
    pids+=($!)
done
status=0
for pid in "${pids[@]}"; do
    wait "$pid" || status=1
done
exit $status
