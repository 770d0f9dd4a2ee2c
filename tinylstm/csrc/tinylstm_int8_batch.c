/*
 * tinylstm_int8_batch.c - a host-side batch entry point of the int8 engine (C99), for `tinylstm predict`:
 *
 *   long tinylstm_predict_batch(const float *x, float *y, long n);
 *     n windows x[n][TINYLSTM_NUM_INPUTS] (raw units, step-major) -> y[n][TINYLSTM_NUM_OUTPUTS]; returns the number
 *     of windows with a non-finite input, whose outputs are NaN (tinylstm_predict returns -1 for them).
 *
 * Every output has the bits n calls of tinylstm_predict give (tests/test_predict.py holds it to that and to
 * tinylstm.intgolden): the windows go through the network TL_LANES at a time, each integer operation of
 * tinylstm_int8.c applied lane by lane to the same operands - integer arithmetic is exact, so the order of the
 * lanes and of the sums cannot matter - and the float steps at the input and the output are the engine's own code
 * (tl_outputs) or its very expressions. The loops over lanes are what a host compiler vectorises (-O2/-O3
 * -march=native): one weight, decoded once from the kernel layout, serves TL_LANES windows.
 *
 * Hand-written, not generated, and not part of the exported library (an MCU runs one window at a time): the
 * c-int8 backend compiles this file in place of tinylstm_int8.c, which it includes (static helpers, tables and
 * the layer X-macros of the exported library), with -DTINYLSTM_BATCH for the host program's --batch mode.
 */
#include <stdlib.h>

#include "tinylstm_int8.c"

#ifndef TL_LANES
#define TL_LANES 16
#endif

long tinylstm_predict_batch(const float *x, float *y, long n);

typedef int32_t tl_lane[TL_LANES];

/* a[r][l] = sum_k x[k][l] * W[k][r], r < 4, over one block's weights at w (dot4's portable path: the groups' words
 * first - offset bytes u = w + 128 of rows 0/2 and plain bytes of rows 1/3 - then one word per head input with the
 * bytes of rows 0..3); returns the words after them (the block's multiplier and biases). */
TL_INLINE const uint32_t *lanes_dot4(const uint32_t *w, tl_lane *x, int hd, int ng, tl_lane a[4])
{
    int e, g, l, r;
    for (r = 0; r < 4; ++r) {
        for (l = 0; l < TL_LANES; ++l) a[r][l] = 0;
    }
    for (g = 0; g < ng; ++g) {
        const int8_t *b = (const int8_t *)(w + 4 * g);
        const int32_t *x0 = x[hd + 4 * g], *x1 = x[hd + 4 * g + 1], *x2 = x[hd + 4 * g + 2], *x3 = x[hd + 4 * g + 3];
#define TL_U(k) ((int32_t)(uint8_t)b[k] - 128)
        int32_t u00 = TL_U(0), u01 = TL_U(2), u02 = TL_U(4), u03 = TL_U(6);
        int32_t w10 = b[1], w11 = b[3], w12 = b[5], w13 = b[7];
        int32_t u20 = TL_U(8), u21 = TL_U(10), u22 = TL_U(12), u23 = TL_U(14);
        int32_t w30 = b[9], w31 = b[11], w32 = b[13], w33 = b[15];
#undef TL_U
        for (l = 0; l < TL_LANES; ++l) {
            a[0][l] += u00 * x0[l] + u01 * x1[l] + u02 * x2[l] + u03 * x3[l];
            a[1][l] += w10 * x0[l] + w11 * x1[l] + w12 * x2[l] + w13 * x3[l];
            a[2][l] += u20 * x0[l] + u21 * x1[l] + u22 * x2[l] + u23 * x3[l];
            a[3][l] += w30 * x0[l] + w31 * x1[l] + w32 * x2[l] + w33 * x3[l];
        }
    }
    w += 4 * ng;
    for (e = 0; e < hd; ++e) {
        const int8_t *b = (const int8_t *)(w + e);
        int32_t w0 = b[0], w1 = b[1], w2 = b[2], w3 = b[3];
        for (l = 0; l < TL_LANES; ++l) {
            a[0][l] += w0 * x[e][l];
            a[1][l] += w1 * x[e][l];
            a[2][l] += w2 * x[e][l];
            a[3][l] += w3 * x[e][l];
        }
    }
    return w + hd;
}

/* The rounded high word of a 32x32 product, and requant for shift 32, as lane code: (x + 2^31) >> 32 taken from
 * the unsigned 64-bit sum (bits 32..63, the same as mul_hi_round's arithmetic shift), which compilers vectorise
 * (x86-64 has no vector arithmetic 64-bit shift). */
TL_INLINE int32_t lane_hi_round(int32_t a, int32_t b)
{
    return (int32_t)(uint32_t)(((uint64_t)((int64_t)a * b) + ((uint64_t)1 << 31)) >> 32);
}

TL_INLINE int32_t lane_requant(int32_t acc, int32_t m, int sh, int32_t bias)
{
    return sh == 32 ? lane_hi_round(acc, m) + bias : requant(acc, m, sh, bias);
}

/* r[e] = tanh_q15t(T, a[e], sh) for e < n, in three passes: saturation, index and fraction (vectorised); the two
 * table entries (loads); the interpolation (vectorised). */
TL_INLINE void lanes_tanh(const int16_t *T, const int32_t *a, int32_t *r, int n, int sh)
{
    int32_t idx[4 * TL_LANES], lo[4 * TL_LANES], hi[4 * TL_LANES];
    const int32_t top = ((int32_t)1 << (sh + TL_LUT_STEP_BITS + 3)) - 1, bottom = -top - 1;
    int e;
    for (e = 0; e < n; ++e) {
        int32_t v = a[e] > top ? top : a[e];
        v = v < bottom ? bottom : v;
        idx[e] = v >> sh;
        r[e] = v & (((int32_t)1 << sh) - 1);
    }
    for (e = 0; e < n; ++e) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        int32_t pair; /* both neighbours in one unaligned load: lo in the low half, hi in the high half */
        memcpy(&pair, T + idx[e], sizeof pair);
        lo[e] = (int16_t)pair;
        hi[e] = pair >> 16;
#else
        lo[e] = T[idx[e]];
        hi[e] = T[idx[e] + 1];
#endif
    }
    for (e = 0; e < n; ++e) {
        r[e] = lo[e] + (((hi[e] - lo[e]) * r[e] + ((int32_t)1 << (sh - 1))) >> sh);
    }
}

/* lstm_step, lane by lane: w the layer's weight stream (per unit its four rows' weights, multiplier and biases),
 * v = the layer's input (n_in) then its h (H), c its cell state. */
TL_INLINE void lanes_lstm_step(const uint32_t *w, int sh, int n_in, int H, tl_lane *v, tl_lane *c)
{
    tl_lane hn[TINYLSTM_HN_SIZE], a[4];
    int32_t z[3 * TL_LANES], sg[3 * TL_LANES], zg[TL_LANES], g[TL_LANES], tc[TL_LANES];
    int j, l, K = n_in + H;
    const int16_t *T = tanh_mid();
    for (j = 0; j < H; ++j) {
        int32_t mj, b0, b1, b2, b3;
        w = lanes_dot4(w, v, K & 3, K >> 2, a);
        mj = (int32_t)w[0];
        b0 = tl_bias(w, 0);
        b1 = tl_bias(w, 1);
        b2 = tl_bias(w, 2);
        b3 = tl_bias(w, 3);
        w += TL_LSTM_Q_WORDS;
        for (l = 0; l < TL_LANES; ++l) {
            z[l] = lane_requant(a[0][l], mj, sh, b0);
            z[TL_LANES + l] = lane_requant(a[1][l], mj, sh, b1);
            zg[l] = lane_requant(a[2][l], mj, sh, b2);
            z[2 * TL_LANES + l] = lane_requant(a[3][l], mj, sh, b3);
        }
        lanes_tanh(T, z, sg, 3 * TL_LANES, TL_SH + 1); /* i, f, o: sigmoid_q16 = 32768 + tanh of z/2 */
        lanes_tanh(T, zg, g, TL_LANES, TL_SH);
        for (l = 0; l < TL_LANES; ++l) {
            int32_t i = 32768 + sg[l], f = 32768 + sg[TL_LANES + l];
            int32_t cj = lane_hi_round(f << 15, c[j][l] * 2) + lane_hi_round(i << (32 - TL_GS), g[l]);
            c[j][l] = cj;
        }
        lanes_tanh(T, c[j], tc, TL_LANES, TL_SH);
        for (l = 0; l < TL_LANES; ++l) {
            int32_t o = 32768 + sg[2 * TL_LANES + l];
            hn[j][l] = (int16_t)lane_hi_round(o << (32 - TL_GS), tc[l]);
        }
    }
    memcpy(v + n_in, hn, (size_t)H * sizeof *hn);
}

/* dense, lane by lane: w the layer's weight stream (per block of four rows their weights, then multiplier and bias
 * per row); hidden outputs to y (relu, int16 saturation), the last layer's to out (int32). */
TL_INLINE void lanes_dense(const uint32_t *w, int sh, int n_in, int n_out, tl_lane *x,
                           tl_lane *y, tl_lane *out, int relu, int last)
{
    tl_lane a[4];
    int j, r, l;
    for (j = 0; j < n_out; j += 4) {
        w = lanes_dot4(w, x, n_in & 3, n_in >> 2, a);
        for (r = 0; r < 4 && j + r < n_out; ++r) {
            int32_t qm = (int32_t)w[2 * r], qb = (int32_t)w[2 * r + 1];
            for (l = 0; l < TL_LANES; ++l) {
                int32_t v = lane_requant(a[r][l], qm, sh, qb);
                if (relu && v < 0) v = 0; /* intgolden's dense: the activation on every layer */
                if (last) {
                    out[j + r][l] = v;
                    continue;
                }
                if (v > 32767) v = 32767;
                if (v < -32767) v = -32767;
                y[j + r][l] = v;
            }
        }
        w += 8;
    }
}

#define TL_LANES_LSTM(k, n_in, H, voff, coff, sh)                                                             \
    lanes_lstm_step(lstm##k##_w.w, (sh), (n_in), (H), v + (voff), c + (coff));
#define TL_LANES_LAST_H(k, n_in, H, voff, coff, sh) in = v + (voff) + (n_in);
#define TL_LANES_DENSE(k, n_in, n_out, relu, last, off, sh)                                                   \
    lanes_dense(dense##k##_w.w, (sh), (n_in), (n_out), in, d + (off), out, (relu), (last));                  \
    in = d + (off);

/* TL_LANES windows (rows x[0 .. TL_LANES) of TINYLSTM_NUM_INPUTS floats, finite) -> their int32 outputs. */
static void lanes_predict_q(const float *x, tl_lane out[TINYLSTM_NUM_OUTPUTS])
{
    tl_lane v[TINYLSTM_V_SIZE], c[TINYLSTM_H_SIZE], d[TINYLSTM_D_SIZE];
    tl_lane *in;
    int t, f, l;
    memset(v, 0, sizeof v);
    memset(c, 0, sizeof c);
    for (t = 0; t < TINYLSTM_NUM_STEPS; ++t) {
        int row = TINYLSTM_SCALER_ROWS == 1 ? 0 : t;
        for (f = 0; f < TINYLSTM_STEP_INPUTS; ++f) {
            float mean = x_mean[row * TINYLSTM_STEP_INPUTS + f], k = x_k[row * TINYLSTM_STEP_INPUTS + f];
            for (l = 0; l < TL_LANES; ++l) {
                /* tl_lstm_layers' input conversion, operation for operation */
                float dd = x[l * TINYLSTM_NUM_INPUTS + t * TINYLSTM_STEP_INPUTS + f] - mean;
                float p = dd * k;
                int32_t q;
                if (!(p >= -1073741824.0f)) p = -1073741824.0f;
                if (p > 1073741824.0f) p = 1073741824.0f;
                q = rshift_round((int32_t)p, TL_INPUT_EXTRA_BITS);
                if (q > 32767) q = 32767;
                if (q < -32767) q = -32767;
                v[f][l] = q;
            }
        }
        TINYLSTM_LSTM_LAYERS(TL_LANES_LSTM)
    }
    in = v;
    TINYLSTM_LSTM_LAYERS(TL_LANES_LAST_H)
    TINYLSTM_DENSE_LAYERS(TL_LANES_DENSE)
    (void)in;
    (void)d;
}

long tinylstm_predict_batch(const float *x, float *y, long n)
{
    long start, bad = 0;
    float rows[TL_LANES * TINYLSTM_NUM_INPUTS];
    tl_lane out[TINYLSTM_NUM_OUTPUTS];
    for (start = 0; start < n; start += TL_LANES) {
        long m = n - start < TL_LANES ? n - start : TL_LANES, r;
        int ok[TL_LANES], l, k;
        /* a short last group and non-finite windows run as zeros (their results are dropped) */
        memset(rows, 0, sizeof rows);
        for (r = 0; r < m; ++r) {
            const float *xr = x + (start + r) * TINYLSTM_NUM_INPUTS;
            ok[r] = !tl_nonfinite(xr, TINYLSTM_NUM_INPUTS);
            if (ok[r]) memcpy(rows + r * TINYLSTM_NUM_INPUTS, xr, sizeof(float) * TINYLSTM_NUM_INPUTS);
        }
        lanes_predict_q(rows, out);
        for (l = 0; l < m; ++l) {
            float *yr = y + (start + l) * TINYLSTM_NUM_OUTPUTS;
            int32_t q[TINYLSTM_NUM_OUTPUTS];
            if (!ok[l]) {
                for (k = 0; k < TINYLSTM_NUM_OUTPUTS; ++k) yr[k] = (float)strtod("nan", NULL);
                ++bad;
                continue;
            }
            for (k = 0; k < TINYLSTM_NUM_OUTPUTS; ++k) q[k] = out[k][l];
            tl_outputs(q, yr);
        }
    }
    return bad;
}
