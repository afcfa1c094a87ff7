#!/usr/bin/env bash
# Installs what a CUDA build of gpas needs on Debian trixie, as root, idempotently: Debian's LibTorch
# 2.6 (CUDA 12.4, NCCL 2.22; contrib/non-free), nvcc, then gpas's other packages (scripts/install-deps.sh
# with GPAS_TORCH=cuda). Run by scripts/cuda-check.sh inside its chroot and by the Dockerfile.
# It installs no GPU driver (the host's is used) and, by default, no real cuDNN (see GPAS_CUDNN).
#
# GPAS_CUDNN=stub (default): Debian's `nvidia-cudnn` is an installer that downloads cuDNN from NVIDIA
#   at install time, which fails offline; a dummy package takes its place and a stub libcudnn.so.9
#   lets libtorch_cuda.so load. Nothing may call cuDNN then (gpas's models need none).
# GPAS_CUDNN=nvidia: let apt install the real `nvidia-cudnn` (needs internet access to NVIDIA).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cudnn="${GPAS_CUDNN:-stub}"
export DEBIAN_FRONTEND=noninteractive
[ "$(id -u)" -eq 0 ] || { echo "gpas: scripts/cuda-deps.sh installs packages: run it as root" >&2; exit 1; }

printf 'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n' \
  > /etc/apt/apt.conf.d/99gpas-no-recommends
# libtorch-cuda-dev is in contrib, the CUDA toolkit and libcuda1 in non-free. debootstrap writes
# sources.list with the components it was given; the debian:trixie image has deb822 sources with main.
for f in /etc/apt/sources.list.d/debian.sources; do
  [ -f "$f" ] && sed -i -E '/^Components:/{/contrib/!s/$/ contrib non-free/}' "$f"
done
dpkg --configure -a  # finishes an install that an earlier, interrupted run left half done

if [ "$cudnn" = stub ] && ! dpkg-query -W -f='${Status}' nvidia-cudnn 2>/dev/null | grep -q 'ok installed'; then
  d="$(mktemp -d)"
  mkdir -p "$d/pkg/DEBIAN"
  cat > "$d/pkg/DEBIAN/control" <<'EOF'
Package: nvidia-cudnn
Version: 9.0.0.312~cuda12+dummy1
Architecture: amd64
Maintainer: gpas <gpas@localhost>
Provides: libcudnn-dev, libcudnn.so, libcudnn.so.9
Description: placeholder for nvidia-cudnn (no cuDNN inside; gpas scripts/cuda-deps.sh)
EOF
  dpkg-deb --build "$d/pkg" "$d/nvidia-cudnn-dummy.deb" >/dev/null
  dpkg -i "$d/nvidia-cudnn-dummy.deb" >/dev/null
  rm -rf "$d"
  echo "gpas: installed the nvidia-cudnn placeholder (GPAS_CUDNN=stub)"
fi

GPAS_TORCH=cuda bash "$here/install-deps.sh"

# The stub: every cudnn* symbol that LibTorch's libraries import, versioned `libcudnn.so.9`, each
# returning CUDNN_STATUS_NOT_INITIALIZED (1001); the version queries return 0.
if [ "$cudnn" = stub ]; then
  lib=/usr/lib/x86_64-linux-gnu
  d="$(mktemp -d)"
  { nm -D --undefined-only "$lib"/libtorch*.so "$lib"/libc10*.so 2>/dev/null || true; } \
    | awk '$2 ~ /^cudnn/ {sub(/@.*/, "", $2); print $2}' | sort -u > "$d/syms.txt"
  [ -s "$d/syms.txt" ] || { echo "gpas: LibTorch in $lib imports no cudnn symbols (not the CUDA build?)" >&2; exit 1; }
  {
    echo '#include <stddef.h>'
    echo 'const char* cudnnGetErrorString(int s) { (void)s; return "cuDNN stub (not installed)"; }'
    for s in cudnnGetVersion cudnnGetCudartVersion cudnnGetMaxDeviceVersion; do
      echo "size_t $s(void) { return 0; }"
    done
    grep -vxE 'cudnnGetErrorString|cudnnGetVersion|cudnnGetCudartVersion|cudnnGetMaxDeviceVersion' "$d/syms.txt" \
      | sed 's/.*/int &(void) { return 1001; }/'
  } > "$d/stub.c"
  { echo 'libcudnn.so.9 { global:'; sed 's/$/;/' "$d/syms.txt"; echo 'local: *; };'; } > "$d/stub.map"
  gcc -shared -fPIC -O1 -o "$d/libcudnn.so.9" -Wl,-soname,libcudnn.so.9 \
    -Wl,--version-script="$d/stub.map" "$d/stub.c"
  install -m644 "$d/libcudnn.so.9" "$lib/libcudnn.so.9"
  ln -sf libcudnn.so.9 "$lib/libcudnn.so"
  echo "gpas: stub $lib/libcudnn.so.9 ($(wc -l < "$d/syms.txt") symbols)"
  rm -rf "$d"
  ldconfig
fi
apt-get clean
