#!/usr/bin/env bash
# Debian packages the project needs beyond Python (installed only where missing; needs root):
#   TeX for `make paper`, Debian's Fashion-MNIST (an offline data set),
#   and a one-node SLURM for the SLURM profile's test.
set -euo pipefail
PACKAGES=(
  latexmk texlive-latex-recommended           # paper/ (make paper)
  lmodern                                     # its T1 fonts as outlines: without them the report is bitmaps, text unsearchable
  poppler-utils                               # pdftotext: tests read the figures' stamps
  dataset-fashion-mnist                       # offline data set `fashion`
  slurm-wlm munge slurmdbd mariadb-server     # tests/test_slurm.py: a real one-node cluster
)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then echo "system-deps: all present"; exit 0; fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  echo "system-deps: missing ${missing[*]}; install them with your package manager (tests that need them will skip)" >&2
  exit 0
fi
echo "system-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "system-deps: done"
