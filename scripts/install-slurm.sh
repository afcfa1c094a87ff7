#!/usr/bin/env bash
# Installs a single-node Slurm (slurmctld, slurmd, the client tools) and munge from Debian's apt,
# idempotently, for tests/sweeps/slurm_test.cpp. It installs only: starting the daemons is the job
# of tests/sweeps/slurm_cluster.sh.
set -euo pipefail

pkgs=(slurmctld slurmd slurm-client munge)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "gpas: slurm packages present"
  exit 0
fi
sudo_cmd=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || { echo "gpas: need root (or sudo) to install ${missing[*]}" >&2; exit 1; }
  sudo_cmd="sudo"
fi
echo "gpas: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo_cmd apt-get update -qq
$sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
