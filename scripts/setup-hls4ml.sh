#!/usr/bin/env bash
# A separate virtualenv with hls4ml, for the bench's FPGA peer (tinylstm bench --only fpga / fpga-peer).
#   scripts/setup-hls4ml.sh [DIR]      default DIR: .venv-hls4ml (next to .venv)
# hls4ml pins its own package versions, so it does not go into the project's .venv; the bench runs it as
#   TINYLSTM_HLS4ML_PYTHON=DIR/bin/python .venv/bin/tinylstm bench --only fpga-peer --model models/reference
# Its C simulation needs g++ (scripts/system-packages.d/cengine.txt); Vitis HLS is not needed (nor installed).
set -euo pipefail
cd "$(dirname "$0")/.."
dir="${1:-.venv-hls4ml}"
if [ ! -x "$dir/bin/python" ]; then
    python3 -m venv "$dir"
fi
# keras: the version models/reference/model.keras was saved with; tensorflow-cpu, numpy: pyproject.toml pins
"$dir/bin/python" -m pip install --quiet --upgrade pip
"$dir/bin/python" -m pip install --quiet "hls4ml==1.3.0" "keras==3.15.1" "tensorflow-cpu==2.21.0" "numpy==2.4.6"
echo "setup-hls4ml: done; export TINYLSTM_HLS4ML_PYTHON=$(cd "$dir" && pwd)/bin/python"
