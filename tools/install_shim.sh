#!/usr/bin/env bash
# Install the torchvision CPU shim into a virtual environment (see tools/torchvision_cpu_shim.py).
set -euo pipefail
venv=${1:-.venv}
site=$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
cp "$(dirname "$0")/torchvision_cpu_shim.py" "$site/"
echo "import torchvision_cpu_shim; torchvision_cpu_shim.install()" > "$site/torchvision_cpu_shim.pth"
"$venv/bin/python" -c 'import torchvision, torch_fidelity; print("torchvision", torchvision.__version__, "imports; compiled ops:", torchvision.extension._has_ops())'
