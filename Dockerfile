# The image GPU users run: gpas built with CUDA against the LibTorch inside an official PyTorch
# CUDA *devel* image (LibTorch, CUDA and NCCL from it; the other libraries from Debian/Ubuntu apt).
# The steps mirror the GPU-host build in DEVELOPERS.md (shared/gpu/build-on-gpu-host.sh).
FROM pytorch/pytorch:2.5.1-cuda12.4-cudnn9-devel

ENV DEBIAN_FRONTEND=noninteractive
RUN apt-get update && apt-get install -y --no-install-recommends \
      build-essential cmake ninja-build pkg-config git ca-certificates \
      libyaml-cpp-dev libsqlitecpp-dev libsqlite3-dev sqlite3 libspdlog-dev libfmt-dev \
      libcli11-dev libgtest-dev libgmock-dev nlohmann-json3-dev libsentencepiece-dev \
      zlib1g-dev gnuplot-nox nodejs npm \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /opt/gpas
COPY . .
RUN torch_prefix=$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)') \
 && cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$torch_prefix" \
 && cmake --build build -j"$(nproc)" \
 && ln -s /opt/gpas/build/cli/gpas /usr/local/bin/gpas

ENTRYPOINT ["gpas"]
CMD ["--help"]
