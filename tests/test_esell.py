"""eSELL format: exact round trip, bit layout, padding, gate reorder; float32 engine arithmetic (no TensorFlow)."""

from __future__ import annotations

import numpy as np
import pytest

from tinylstm import esell


def _random(rng, rows, cols, sparsity):
    m = rng.normal(size=(rows, cols)) * (rng.random((rows, cols)) >= sparsity)
    return m


@pytest.mark.parametrize("sparsity", [0.0, 0.3, 0.5, 0.7, 0.9, 1.0])
def test_round_trip_random_shapes(sparsity):
    rng = np.random.default_rng(int(sparsity * 100))
    shapes = [(1, 1), (3, 2), (8, 4), (7, 5), (48, 1), (48, 12), (17, 13), (64, 9), (5, 33)]
    shapes += [tuple(rng.integers(1, 70, size=2)) for _ in range(15)]
    for rows, cols in shapes:
        m = _random(rng, rows, cols, sparsity)
        e = esell.encode(m)
        assert np.array_equal(esell.decode(e), m.astype(np.float16)), (rows, cols)
        assert e.nnz == np.count_nonzero(m.astype(np.float16))
        assert len(e.counts) == -(-cols // 4) and int(e.counts.sum()) == len(e.words)
        # at least one header per block; each value word holds 4 stored values
        assert len(e.words) == e.block_cols * (e.padded_rows // 8) + e.stored_values // 4


def test_all_zero_rows_blocks_and_matrix():
    rng = np.random.default_rng(1)
    m = _random(rng, 40, 12, 0.4)
    m[3] = 0                  # a zero row
    m[8:16] = 0               # a whole 8-row block zero in every block column
    m[:, 4:8] = 0             # a whole block column zero
    e = esell.encode(m)
    assert np.array_equal(esell.decode(e), m.astype(np.float16))
    z = esell.encode(np.zeros((16, 8)))
    assert z.stored_values == 0 and len(z.words) == 2 * 2  # headers only
    assert all(int(w) & 7 == 0 and (int(w) >> 32) & 7 == 0 for w in z.words)  # every chunk width 0
    assert np.array_equal(esell.decode(z), np.zeros((16, 8), np.float16))


def test_decoder_rejects_streams_the_engine_would_misread():
    one = int(esell.fp16_bits(np.array([1.0], np.float16))[0])
    hdr_rows = (0 << 15) | (1 << 18) | (2 << 21) | (3 << 24)  # chunk rows 0..3 = block rows 0..3, all code 0

    def stream(words):
        return esell.EsellMatrix(8, 4, np.array(words, np.uint64), np.array([len(words)], np.uint16))

    good = stream([2 | hdr_rows, one | one << 16, one])  # counts 2, 1: sorted, compacted
    assert np.count_nonzero(esell.decode(good)) == 3
    with pytest.raises(ValueError, match="sorted"):  # chunk row 1 has more non-zeros than row 0
        esell.decode(stream([2 | hdr_rows, one | one << 16, one << 16]))
    with pytest.raises(ValueError, match="compacted"):  # a zero before a non-zero in row 0
        esell.decode(stream([2 | hdr_rows, one << 16, one | one << 16]))
    with pytest.raises(ValueError, match="sorted"):  # chunk 1's first row longer than chunk 0's last
        esell.decode(stream([1 | hdr_rows | (1 | hdr_rows) << 32, one, one]))


def test_values_that_round_to_fp16_zero_are_not_stored_and_fp16_overflow_is_an_error():
    m = np.array([[1e-9, 1.0, -0.0, 2.0]])
    e = esell.encode(m)
    assert e.nnz == 2
    assert np.array_equal(esell.decode(e), np.array([[0, 1, 0, 2]], np.float16))
    with pytest.raises(ValueError, match="overflows fp16"):
        esell.encode(np.array([[1e6]]))
    with pytest.raises(ValueError, match="NaN"):
        esell.encode(np.array([[np.nan]]))


def test_header_and_value_word_bit_layout():
    # one 8x4 block: row 5 has columns (1, 3), row 2 has column 2, every other row is empty
    m = np.zeros((8, 4))
    m[5, 1], m[5, 3], m[2, 2] = 1.0, -2.0, 0.5
    e = esell.encode(m)
    # rows sorted by non-zero count (stable): 5, 2, 0, 1 | 3, 4, 6, 7
    chunk0 = 2 | (5 << 3) | (6 << 6) | (0 << 9) | (0 << 12) | (5 << 15) | (2 << 18) | (0 << 21) | (1 << 24)
    chunk1 = 0 | (3 << 15) | (4 << 18) | (6 << 21) | (7 << 24)
    h = lambda v: int(np.float16(v).view(np.uint16))  # noqa: E731
    word0 = h(1.0) | (h(0.5) << 16)          # t = 0: row 5's first value, row 2's only value
    word1 = h(-2.0)                           # t = 1: row 5's second value, row 2 padded with 0
    assert [int(w) for w in e.words] == [chunk0 | (chunk1 << 32), word0, word1]
    assert list(e.counts) == [3]
    assert int(esell.pack16(e.counts)[0]) == 3


def test_codebook_choice_is_a_prefix_for_every_pattern():
    for mask in range(16):
        cols = tuple(j for j in range(4) if (mask >> j) & 1)
        code = esell._PATTERN_CODE[mask]
        assert esell.CODEBOOK[code][:len(cols)] == cols


def test_gate_reorder_ifco_to_fico():
    H = 3
    k = np.concatenate([np.full((2, H), g) for g in range(4)], axis=1)  # column blocks i=0, f=1, c=2, o=3
    m = esell.lstm_matrix(k)
    assert m.shape == (4 * H, 2)
    assert list(m[::H, 0]) == [1, 0, 2, 3]  # rows f, i, c, o
    assert np.array_equal(esell.bundle_kernel(m), k)
    assert list(esell.lstm_vector(np.repeat(np.arange(4.0), H))[::H]) == [1, 0, 2, 3]


def test_pack16_round_trip():
    v = np.arange(1, 11, dtype=np.uint16) * 4099
    w = esell.pack16(v)
    assert len(w) == 3 and int(w[0]) & 0xFFFF == int(v[0]) and (int(w[0]) >> 48) == int(v[3])
    assert np.array_equal(esell.unpack16(w, 10), v)


def test_engine_activations_match_float64_within_stated_error():
    x = np.linspace(-30, 30, 200001, dtype=np.float32)
    assert np.max(np.abs(esell.tanh32(x) - np.tanh(x.astype(np.float64)))) < 3e-7
    assert np.max(np.abs(esell.sigmoid32(x) - 1 / (1 + np.exp(-x.astype(np.float64))))) < 2e-7
    y = np.linspace(-20, 20, 10001, dtype=np.float32)
    rel = np.abs(esell.exp32(y) / np.exp(y.astype(np.float64)) - 1)
    assert rel.max() < 4e-7


def test_hidden_state_pruning_rule():
    h = np.array([[0.01, -0.02, 0.01, 0.0, 0.3, 0.0, 0.0, 0.0, 0.04, 0.04, 0.04, 0.04, 0.1]], np.float32)
    out = esell.hidden_prune(h, 0.2)
    # group 0: sum 0.04 < 0.2 and all < 0.1 -> zeroed; group 1: 0.3 >= th/2 -> kept;
    # group 2: sum 0.16 < 0.2, all < 0.1 -> zeroed; group 3 (0.1 + zero padding): 0.1 not < 0.1 -> kept
    assert np.array_equal(out, np.array([[0, 0, 0, 0, 0.3, 0, 0, 0, 0, 0, 0, 0, 0.1]], np.float32))
    assert np.array_equal(esell.hidden_prune(h, 0.0), h)


def test_csr_and_dense_byte_counts():
    m = np.zeros((48, 12))
    m[0, :5] = 1
    assert esell.dense_fp16_bytes(m) == 48 * 12 * 2
    assert esell.csr_bytes(m) == 5 * 2 + 5 * 2 + 49 * 2
