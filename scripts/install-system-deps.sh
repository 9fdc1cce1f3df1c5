#!/usr/bin/env bash
# Installs the Debian 12 packages taskmoe's tests, benchmarks and training need:
#  - a Vulkan driver Dawn accepts (lavapipe from bookworm-backports; bookworm's own 22.3 is rejected),
#  - Debian's chromium (real headless browser tests; WebGPU on its bundled SwiftShader),
#  - python3-torch + OpenBLAS, sentencepiece, numpy (training pipeline and its smoke test),
#  - apertium-eng-spa (external baseline for evaluation).
# Idempotent; run as root (or with sudo).
set -euo pipefail

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

export DEBIAN_FRONTEND=noninteractive

backports=/etc/apt/sources.list.d/taskmoe-backports.sources
if ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
  $SUDO tee "$backports" >/dev/null <<'SRC'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
fi

$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends -t bookworm-backports mesa-vulkan-drivers
$SUDO apt-get install -y -q --no-install-recommends \
  libvulkan1 chromium fonts-dejavu-core \
  python3-torch libopenblas0-pthread python3-numpy python3-sentencepiece sentencepiece \
  python3-pytest apertium apertium-eng-spa

# training/.venv (training/setup.sh) is built on Debian's python3 with --system-site-packages.
$SUDO apt-get install -y -q --no-install-recommends python3-venv

# Prove the pieces are there.
test -f /usr/share/vulkan/icd.d/lvp_icd.json
test -x /usr/bin/chromium
/usr/bin/python3 -c 'import torch, sentencepiece, numpy; print("torch", torch.__version__)'
echo "taskmoe system dependencies installed."
