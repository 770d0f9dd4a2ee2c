"""The one float activation implementation (exp, sigmoid, tanh) in numpy, bit for bit as ``tinylstm/csrc/tl_act.h``.

The C float engine and the RISC-V eSELL engine both include ``tl_act.h``; the RISC-V golden model
(:mod:`tinylstm.esell`) computes its activations here, so its outputs stay bit-exact with the engine's. Every
step is one float32 operation in the C's order (no fused multiply-add). ``tests/test_csrc.py`` compares this
module with the compiled header over a sweep of arguments, bit for bit.
"""

from __future__ import annotations

import numpy as np

F = np.float32
EXP_HI = F(88.0)
EXP_LO = F(-87.0)
LOG2E = F(1.44269504)
ROUND_BIAS = F(128.5)
LN2_HI = F(0.693145752)
LN2_LO = F(1.42860677e-6)
#: Horner coefficients, highest degree first: 1/7!, 1/6!, ..., 1/2!, then 1, 1
EXP_POLY = tuple(F(c) for c in (1.98412701e-4, 1.38888892e-3, 8.33333377e-3, 4.16666679e-2, 1.66666672e-1, 0.5,
                                1.0, 1.0))


def exp32(x: np.ndarray) -> np.ndarray:
    """``tl_act_exp``: clamp to [-87, 88] (NaN -> 88), k = floor(x*log2e + 128.5) - 128, r = x - k*ln2 (two
    parts), degree-7 Horner polynomial, times 2^k built from exponent bits."""
    x = np.asarray(x, F)
    x = np.where(x < EXP_HI, x, EXP_HI).astype(F)
    x = np.where(x >= EXP_LO, x, EXP_LO).astype(F)
    kf = (x * LOG2E).astype(F)
    k = np.trunc((kf + ROUND_BIAS).astype(F)).astype(np.int32) - np.int32(128)
    kff = k.astype(F)
    r = (x - (kff * LN2_HI).astype(F)).astype(F)
    r = (r - (kff * LN2_LO).astype(F)).astype(F)
    p = np.full_like(r, EXP_POLY[0])
    for c in EXP_POLY[1:]:
        p = (c + (r * p).astype(F)).astype(F)
    scale = ((k + np.int32(127)).astype(np.uint32) << np.uint32(23)).view(F)
    return (p * scale).astype(F)


def sigmoid32(x: np.ndarray) -> np.ndarray:
    """``tl_act_sigmoid``: 1 / (1 + exp(-x))."""
    return (F(1) / (F(1) + exp32(-np.asarray(x, F)))).astype(F)


def tanh32(x: np.ndarray) -> np.ndarray:
    """``tl_act_tanh``: 1 - 2 / (exp(2|x|) + 1), with the sign of x."""
    x = np.asarray(x, F)
    a = np.abs(x)
    t = (F(1) - (F(2) / (exp32((F(2) * a).astype(F)) + F(1)).astype(F)).astype(F)).astype(F)
    return np.where(x < 0, -t, t).astype(F)
