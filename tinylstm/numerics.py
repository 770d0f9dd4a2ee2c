"""The one numerics layer: a single LSTM driver for every number format, and one support check for every target.

Each number format (float golden model, fixed-point Qm.n, int8, fp16-sparse eSELL) keeps its own arithmetic in a
:class:`CellFormat` — how to start the state, one LSTM time step, one dense layer — and shares the time loop, the
layer stacking and the dense head of :func:`forward`. The golden models stay bit-exact with their engines because
the driver adds no arithmetic of its own: it only sequences the format's steps.

Every target declares what it can run as a :class:`Capabilities`; :func:`check_supported` is the one check that
turns an unsupported network into one clear line before any work starts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Protocol, Sequence

import numpy as np

from .errors import UnsupportedShape


class LayerLike(Protocol):
    units: int
    return_sequences: bool


class CellFormat(Protocol):
    """One number format's arithmetic (arrays are (n, ·) batches of samples)."""

    def init_state(self, layer: Any, n: int) -> tuple[np.ndarray, np.ndarray]:
        """(h, c) at t = 0 for ``n`` samples."""

    def lstm_step(self, layer: Any, x: np.ndarray, h: np.ndarray, c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """One time step: inputs x (n, inputs) and state (h, c) → new (h, c)."""

    def dense(self, layer: Any, x: np.ndarray, last: bool) -> np.ndarray:
        """One dense layer (``last``: the network's output layer)."""


StepHook = Callable[[int, int, np.ndarray, np.ndarray], None]


def run_lstm(fmt: CellFormat, layer: Any, x_seq: np.ndarray, state: tuple[np.ndarray, np.ndarray] | None = None,
             layer_index: int = 0, on_step: StepHook | None = None
             ) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray]]:
    """Run one LSTM layer over (n, steps, inputs); returns (outputs, final state).

    ``outputs`` is (n, steps, H) with ``return_sequences`` and (n, H) (the last h) without. ``state`` continues a
    sequence (streaming); ``None`` starts from :meth:`CellFormat.init_state`.
    """
    n, steps = x_seq.shape[0], x_seq.shape[1]
    h, c = fmt.init_state(layer, n) if state is None else state
    outs = []
    for t in range(steps):
        h, c = fmt.lstm_step(layer, x_seq[:, t, :], h, c)
        if on_step is not None:
            on_step(layer_index, t, h, c)
        outs.append(h)
    out = np.stack(outs, axis=1) if layer.return_sequences else h
    return out, (h, c)


def forward(fmt: CellFormat, lstm_layers: Sequence[Any], dense_layers: Sequence[Any], x_seq: np.ndarray,
            on_step: StepHook | None = None) -> np.ndarray:
    """The whole network: stacked LSTM layers over (n, steps, inputs), then the dense head → (n, outputs)."""
    x = x_seq
    for li, layer in enumerate(lstm_layers):
        x, _ = run_lstm(fmt, layer, x, None, li, on_step)
    for di, layer in enumerate(dense_layers):
        x = fmt.dense(layer, x, di == len(dense_layers) - 1)
    return x


# ------------------------------------------------------------------------------------------ capabilities
@dataclass(frozen=True)
class Capabilities:
    """What one target can run. ``None`` means no limit."""

    target: str
    layouts: tuple[str, ...] = ("feature_per_step",)
    tasks: tuple[str, ...] = ("regression",)
    max_outputs: int | None = 1
    max_inputs_per_step: int | None = 1
    dense_activations: tuple[str, ...] = ("relu", "linear")
    #: every LSTM but the last returns sequences and the last does not (a plain stack feeding the dense head)
    stacked_lstm_only: bool = True
    max_lstm_units: int | None = None


def check_supported(bundle: Any, caps: Capabilities) -> None:
    """Raise one :class:`~tinylstm.errors.UserError` line naming what ``caps.target`` cannot run in ``bundle``."""
    t = caps.target
    if bundle.layout not in caps.layouts:
        raise UnsupportedShape(f"{t}: the {bundle.layout!r} layout is not supported "
                               f"(supported: {', '.join(caps.layouts)})")
    if bundle.task not in caps.tasks:
        raise UnsupportedShape(f"{t}: the {bundle.task!r} task is not supported (supported: {', '.join(caps.tasks)})")
    if not bundle.lstm:
        raise UnsupportedShape(f"{t}: the network needs at least one LSTM layer")
    if not bundle.dense:
        raise UnsupportedShape(f"{t}: the network needs a dense output layer")
    if caps.max_outputs is not None and bundle.n_outputs > caps.max_outputs:
        raise UnsupportedShape(f"{t}: {bundle.n_outputs} outputs, at most {caps.max_outputs} supported")
    first = bundle.lstm[0].inputs
    if caps.max_inputs_per_step is not None and first > caps.max_inputs_per_step:
        raise UnsupportedShape(f"{t}: {first} inputs per time step, at most {caps.max_inputs_per_step} supported")
    for k, layer in enumerate(bundle.lstm):
        if caps.stacked_lstm_only and layer.return_sequences != (k < len(bundle.lstm) - 1):
            raise UnsupportedShape(f"{t}: lstm{k}: return_sequences is needed on every LSTM but the last")
        if k and layer.inputs != bundle.lstm[k - 1].units:
            raise UnsupportedShape(f"{t}: lstm{k}: input width {layer.inputs} differs from lstm{k - 1}'s "
                            f"{bundle.lstm[k - 1].units} units")
        if caps.max_lstm_units is not None and layer.units > caps.max_lstm_units:
            raise UnsupportedShape(f"{t}: lstm{k}: {layer.units} units, at most {caps.max_lstm_units} supported")
    for k, d in enumerate(bundle.dense):
        last = k == len(bundle.dense) - 1
        allowed = caps.dense_activations + (("softmax",) if last and "classification" in caps.tasks else ())
        if d.activation not in allowed:
            raise UnsupportedShape(f"{t}: dense{k}: activation {d.activation!r} is not supported "
                            f"(supported: {', '.join(allowed)})")
