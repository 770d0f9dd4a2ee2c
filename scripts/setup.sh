#!/usr/bin/env bash
# Set up tinylstm on a fresh machine: a virtualenv in .venv with the package installed.
#   scripts/setup.sh         runtime only (enough for `tinylstm run`)
#   scripts/setup.sh --dev   also the test dependencies and the system tools the tests drive
#                            (simulators, cross compilers, QEMU: scripts/system-packages.d/*.txt, via apt-get)
#   scripts/setup.sh --notebook  also JupyterLab, to open notebooks/ (.venv/bin/jupyter lab notebooks/)
set -euo pipefail
cd "$(dirname "$0")/.."
extra=""
case "${1:-}" in
    --dev) scripts/install-system-deps.sh; extra="[dev]" ;;
    --notebook) extra="[notebook]" ;;
    "") ;;
    *) echo "setup: unknown option ${1} (use --dev or --notebook)" >&2; exit 2 ;;
esac
if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e ".${extra}"
echo "setup: done (.venv/bin/tinylstm)"
