#!/usr/bin/env bash
# Installs the Debian packages Volley needs to build, test and analyse (only the missing ones).
set -euo pipefail
pkgs=(build-essential cmake pkg-config libhdf5-dev zlib1g-dev hdf5-tools libyaml-dev libcmocka-dev
      python3 python3-h5py python3-numpy python3-matplotlib python3-yaml python3-brian python3-bmtk)
missing=()
for p in "${pkgs[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "installing: ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
  echo "not root: run  sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get -o DPkg::Lock::Timeout=120 update -q
apt-get -o DPkg::Lock::Timeout=120 install -y -q --no-install-recommends "${missing[@]}"
