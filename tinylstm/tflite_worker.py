"""The TFLite conversion worker: a subprocess that converts one weight bundle to float + int8 flatbuffers.

TensorFlow runs only here, with ``TF_USE_LEGACY_KERAS=1`` (``tf_keras``: the fused LSTM op TFLite Micro needs; see
:mod:`tinylstm.tflite_build`). One process converts exactly one bundle (a second model in the same process would get
other layer names, hence other raw converter bytes), and it can be started before the bundle exists:

* :func:`run_job` — start, convert, wait (what :func:`tinylstm.tflite_build.convert` does when nothing was started
  for the bundle in advance);
* :class:`Worker` — start now (the worker imports TensorFlow, about 5 s of CPU, and then waits for its job on stdin),
  :meth:`Worker.submit` the bundle later, collect the bytes with :meth:`Worker.result`. ``tinylstm run`` starts one
  before training and submits the trained bundle, so the import and the conversion (about 15 s of CPU) run on the
  second core beside training, evaluation and the eSELL fine-tune.

Inside one conversion the Keras model is saved as a SavedModel once and that directory is reused (and loaded
once) for the int8 conversion: the converter's ``from_keras_model`` path saves and loads it again for every
``convert()`` (about 40 % and 25 % of the conversion's CPU time), and the saved bytes do not depend on the
conversion options, so the flatbuffers are the same bytes either way (``tests/test_tflite.py`` checks both against
the committed ones).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from .bundle import Bundle

#: Seconds a conversion may take before it is abandoned (far above the ~15 s measured here).
TIMEOUT = 900


def _env() -> dict[str, str]:
    env = {**os.environ, "TF_USE_LEGACY_KERAS": "1", "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}
    root = str(Path(__file__).resolve().parents[1])
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    return env


class Worker:
    """One conversion subprocess, started at construction; ``submit`` its job any time later."""

    def __init__(self) -> None:
        self._tmp = Path(tempfile.mkdtemp(prefix="tinylstm-tflite-"))
        self._log = open(self._tmp / "worker.log", "wb")
        self._proc = subprocess.Popen([sys.executable, "-m", __name__, "--serve", str(self._tmp), str(os.getpid())],
                                      stdin=subprocess.PIPE,
                                      stdout=self._log, stderr=subprocess.STDOUT, env=_env())
        self.submitted = False

    def submit(self, bundle: Bundle | Path, calib_seqs: np.ndarray) -> None:
        """Hand over the job: ``bundle`` (a bundle or the path of its ``bundle.npz``) and the standardised int8
        calibration sequences. Returns at once; the bytes come from :meth:`result`."""
        path = self._tmp / "bundle.npz"
        if isinstance(bundle, Bundle):
            bundle.save(path)
        else:  # a copy: the caller may move its model directory before the worker reads it
            shutil.copyfile(bundle, path)
        calib = self._tmp / "calib.npy"
        np.save(calib, np.asarray(calib_seqs, np.float32))
        job = {"bundle": str(path), "calib": str(calib), "out": str(self._tmp / "out")}
        assert self._proc.stdin is not None
        self._proc.stdin.write((json.dumps(job) + "\n").encode())
        self._proc.stdin.close()
        self.submitted = True

    def result(self) -> tuple[bytes, bytes]:
        """Wait for the job; (float, int8) raw converter flatbuffers. Raises RuntimeError if the worker failed."""
        try:
            rc = self._proc.wait(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            self.close()
            raise RuntimeError(f"TFLite conversion did not finish in {TIMEOUT} s") from None
        self._log.close()
        if rc != 0:
            tail = "\n".join((self._tmp / "worker.log").read_text(errors="replace").strip().splitlines()[-5:])
            self.close()
            raise RuntimeError(f"TFLite conversion failed:\n{tail}")
        out = self._tmp / "out"
        fb = (Path(f"{out}.float").read_bytes(), Path(f"{out}.int8").read_bytes())
        self.close()
        return fb

    def close(self) -> None:
        """Stop the worker if it still runs and remove its files (safe to call twice)."""
        if self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()
        if not self._log.closed:
            self._log.close()
        shutil.rmtree(self._tmp, ignore_errors=True)


def run_job(bundle: Bundle | Path, calib_seqs: np.ndarray) -> tuple[bytes, bytes]:
    """Convert now: (float, int8) raw converter flatbuffers of ``bundle`` calibrated on ``calib_seqs``."""
    worker = Worker()
    try:
        worker.submit(bundle, calib_seqs)
        return worker.result()
    finally:
        worker.close()


# ------------------------------------------------------------------------------------------------ in the worker
def _save_once(tf_lite, keep: Path) -> None:
    """Make the converter's SavedModel export run once per process: the first export is copied to ``keep``, later
    exports (the int8 conversion of the same, unchanged Keras model) copy that directory instead of saving again."""
    real = tf_lite._save.save

    def save(obj, export_dir, signatures=None, options=None):
        if keep.is_dir():
            shutil.copytree(keep, export_dir, dirs_exist_ok=True)
            return
        real(obj, export_dir, signatures=signatures, options=options)
        shutil.copytree(export_dir, keep)

    tf_lite._save.save = save


def _load_once(tf_lite) -> None:
    """Make the converter's ``tf.saved_model.load`` of its SavedModel run once per process: the int8 conversion
    reads a copy of the same directory (:func:`_save_once`), so the object loaded for the float conversion is
    reused (the converter takes only its debug info from it; same bytes, about 2.5 s less CPU)."""
    real = tf_lite._load
    loaded: list = []

    def load(export_dir, tags):
        if not loaded:
            loaded.append(real(export_dir, tags))
        return loaded[0]

    tf_lite._load = load


def convert_job(bundle_path: str, calib_path: str, out_prefix: str) -> None:
    """bundle → tf_keras (batch 1) → ``<out_prefix>.float`` + ``<out_prefix>.int8`` (runs in the worker)."""
    # deferred on purpose: TensorFlow is only ever imported in this worker process
    import tensorflow as tf
    import tf_keras as K
    from tensorflow.lite.python import lite as tf_lite

    _save_once(tf_lite, Path(out_prefix).parent / "savedmodel")
    _load_once(tf_lite)
    tf.keras.utils.set_random_seed(0)
    bundle = Bundle.load(bundle_path)
    calib = np.load(calib_path).astype(np.float32)
    inp = K.Input((bundle.n_steps, bundle.values_per_step), batch_size=1, dtype="float32")
    x = inp
    weights = []
    for layer in bundle.lstm:
        x = K.layers.LSTM(layer.units, return_sequences=layer.return_sequences)(x)
        weights += [layer.W, layer.U, layer.b]
    for layer in bundle.dense:
        x = K.layers.Dense(layer.units, activation=layer.activation)(x)
        weights += [layer.W, layer.b]
    keras_model = K.Model(inp, x)
    keras_model.set_weights([np.asarray(w, np.float32) for w in weights])

    def converter():
        return tf.lite.TFLiteConverter.from_keras_model(keras_model)

    conv = converter()
    Path(out_prefix + ".float").write_bytes(conv.convert())
    conv = converter()
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = lambda: ([row[None]] for row in calib)
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = tf.int8
    conv.inference_output_type = tf.int8
    conv._experimental_disable_per_channel = True  # per-tensor scales: same accuracy here, 740 B smaller
    Path(out_prefix + ".int8").write_bytes(conv.convert())


def _serve(tmp: str, parent: int) -> int:
    """Import TensorFlow, then read one JSON job line from stdin and convert it. EOF without a job (the caller
    closed it, or died) and a job finished for a caller that died (``parent`` is no longer our parent process):
    remove the caller's temporary directory ``tmp`` and exit 0."""
    start = time.process_time()
    import tensorflow  # noqa: F401  (the import is the part that overlaps the caller's work)
    import tf_keras  # noqa: F401

    print(f"tflite worker: TensorFlow imported in {time.process_time() - start:.1f} s CPU", flush=True)
    line = sys.stdin.readline()
    if line.strip():
        job = json.loads(line)
        start = time.process_time()
        convert_job(job["bundle"], job["calib"], job["out"])
        print(f"tflite worker: converted in {time.process_time() - start:.1f} s CPU", flush=True)
    if not line.strip() or os.getppid() != parent:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__" and len(sys.argv) == 4 and sys.argv[1] == "--serve":
    sys.exit(_serve(sys.argv[2], int(sys.argv[3])))
