# The image GPU users run: gpas built with CUDA 12.4 and NCCL 2.22 against Debian trixie's LibTorch
# 2.6 (libtorch-cuda-dev, contrib). Its two steps are scripts/cuda-deps.sh and scripts/cuda-build.sh,
# the scripts that scripts/cuda-check.sh runs in a trixie chroot on every CI run (.ci/run).
#   docker build -t gpas .            docker run --gpus all -v "$PWD/work:/work" gpas train --workdir /work ...
# The GPU driver comes from the host (NVIDIA Container Toolkit: its libcuda.so.1 replaces the image's).
FROM debian:trixie

# cuDNN. Default (stub, what CI builds): a placeholder package and a stub libcudnn.so.9 stand in for
# cuDNN, which gpas's models never call. With internet access, `--build-arg GPAS_CUDNN=nvidia` lets
# Debian's `nvidia-cudnn` installer (contrib) fetch the real cuDNN from NVIDIA at build time (its
# licence question defaults to "I Agree" when non-interactive; untried here, NVIDIA is unreachable).
ARG GPAS_CUDNN=stub
ARG GPAS_JOBS=2
ENV GPAS_DATA_HOME=/var/cache/gpas-data

WORKDIR /opt/gpas
# The packages first (a layer that survives source changes), then the tree and the build.
COPY scripts/ scripts/
RUN GPAS_CUDNN=$GPAS_CUDNN bash scripts/cuda-deps.sh && rm -rf /var/lib/apt/lists/*
COPY . .
# (exit 3: built, with compiler warnings that CI reports; the image is still usable)
RUN { GPAS_JOBS=$GPAS_JOBS bash scripts/cuda-build.sh /opt/gpas/build || [ $? -eq 3 ]; } \
 && ln -s /opt/gpas/build/cli/gpas /usr/local/bin/gpas && gpas --version && gpas libtorch

ENTRYPOINT ["gpas"]
CMD ["--help"]
