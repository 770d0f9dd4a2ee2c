#!/usr/bin/env bash
# Set up tinylstm on a fresh machine: a virtualenv in .venv with the package installed.
#   scripts/setup.sh         runtime only (enough for `tinylstm run`)
#   scripts/setup.sh --dev   also the test dependencies and the system tools the tests drive
#                            (simulators, cross compilers, QEMU: scripts/system-packages.d/*.txt, via apt-get)
set -euo pipefail
cd "$(dirname "$0")/.."
extra=""
if [ "${1:-}" = "--dev" ]; then
    scripts/install-system-deps.sh
    extra="[dev]"
fi
if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e ".${extra}"
echo "setup: done (.venv/bin/tinylstm)"
