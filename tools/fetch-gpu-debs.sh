#!/usr/bin/env bash
# Run here (Debian 12), before a device run: downloads the Debian packages of the libraries the
# GPU machines lack (libyaml and cmocka headers and libraries) into .deb/, which is ignored by git
# and sent to the device with `carry: [".deb"]`. tools/gpu-check.sh unpacks them there into a
# private prefix (never into /).
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .deb
cd .deb
apt-get download libyaml-0-2 libyaml-dev libcmocka0 libcmocka-dev
ls -la
