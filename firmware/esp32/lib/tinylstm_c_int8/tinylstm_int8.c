/*
 * tinylstm_int8.c - the tinylstm int8 engine (C99, no malloc, no static RAM, no float except at the input and
 * output): int8 weights, int16-range activations, int32/int64 arithmetic and an interpolated tanh table. The
 * scheme is tinylstm.intgolden's, whose numpy model the tests hold this code to bit for bit. Hand-written, not
 * generated: `tinylstm export c --variant int8` copies it next to the generated tinylstm_model.h and
 * tinylstm_model_data.h, which defines
 *   TL_ACT_FRAC, TL_LUT_STEP_BITS, TL_LUT_SIZE, TL_INPUT_EXTRA_BITS, TL_Y_K, TL_Y_MEAN   (the scheme's constants)
 *   TINYLSTM_LSTM_LAYERS(X)   X(k, inputs, units, offset of h and c in the state, requantisation shift)
 *   TINYLSTM_DENSE_LAYERS(X)  X(k, inputs, units, relu, last, offset of the output in the state, shift)
 *   lstm<k>_W/_U/_b/_m, dense<k>_W/_b/_m, tl_tanh_table, x_mean, x_k
 * (sizes as constants in every layer's call, so the compiler can specialise the loops).
 */
#include "tinylstm_model.h"
#include "tinylstm_model_data.h"

#define TL_ACC_LIMIT ((int64_t)1 << 30)

/* (x + 2^(s-1)) >> s: rounding arithmetic right shift (GCC/Clang shift signed values arithmetically). */
static int32_t rshift_round(int32_t x, int s)
{
    return (x + ((int32_t)1 << (s - 1))) >> s;
}

static int32_t rshift_round64(int64_t x, int s)
{
    return (int32_t)((x + ((int64_t)1 << (s - 1))) >> s);
}

/* Accumulator -> output format: ((acc * m + 2^(sh-1)) >> sh), clamped to +-2^30, plus the bias. */
static int32_t requant(int32_t acc, int32_t m, int sh, int32_t bias)
{
    int64_t p = ((int64_t)acc * m + ((int64_t)1 << (sh - 1))) >> sh;
    if (p > TL_ACC_LIMIT) p = TL_ACC_LIMIT;
    if (p < -TL_ACC_LIMIT) p = -TL_ACC_LIMIT;
    return (int32_t)p + bias;
}

/* tanh of a (frac fractional bits) in Q15 by linear interpolation in the table (step 1/32 on [0, 6]). */
static int32_t tanh_q15(int32_t a, int frac)
{
    int sh = frac - TL_LUT_STEP_BITS;
    int32_t mag = a < 0 ? -a : a;
    int32_t idx = mag >> sh;
    int32_t v;
    if (idx >= TL_LUT_SIZE - 1) {
        v = 32767;
    } else {
        int32_t lo = tl_tanh_table[idx];
        int32_t hi = tl_tanh_table[idx + 1];
        int32_t fr = mag & (((int32_t)1 << sh) - 1);
        v = lo + rshift_round((hi - lo) * fr, sh);
    }
    return a < 0 ? -v : v;
}

/* sigmoid(z) = (1 + tanh(z/2)) / 2 in Q15; z/2 is z read with one more fractional bit. */
static int32_t sigmoid_q15(int32_t z, int frac)
{
    return (32768 + tanh_q15(z, frac + 1)) >> 1;
}

#ifdef TINYLSTM_TEST_HOOKS
int32_t tinylstm_test_tanh_q15(int32_t a, int frac);
int32_t tinylstm_test_tanh_q15(int32_t a, int frac) { return tanh_q15(a, frac); }
#endif

/* Loop order: column form by default (fastest measured on both the host and Cortex-M4 for the integer
 * kernels); -DTINYLSTM_INT_ROW_LOOPS selects the row form. Integer sums: the same result either way. */

/* acc[j] = sum_k x[k] * W[k * n + j] (+ the same over h and U when n_h > 0), j < n. */
static void matvec_q(const int8_t *W, const int8_t *U, int n_in, int n_h, int n, const int32_t *x, const int32_t *h,
                     int32_t *acc)
{
    int j, k;
#ifdef TINYLSTM_INT_ROW_LOOPS
    for (j = 0; j < n; ++j) {
        acc[j] = 0;
    }
    for (k = 0; k < n_in; ++k) {
        for (j = 0; j < n; ++j) {
            acc[j] += x[k] * (int32_t)W[k * n + j];
        }
    }
    for (k = 0; k < n_h; ++k) {
        for (j = 0; j < n; ++j) {
            acc[j] += h[k] * (int32_t)U[k * n + j];
        }
    }
#else
    for (j = 0; j < n; ++j) {
        int32_t a = 0;
        for (k = 0; k < n_in; ++k) {
            a += x[k] * (int32_t)W[k * n + j];
        }
        for (k = 0; k < n_h; ++k) {
            a += h[k] * (int32_t)U[k * n + j];
        }
        acc[j] = a;
    }
#endif
}

/* One LSTM time step in Q12 (x, h, z, c) with Q15 gates; gate order i, f, c, o (Keras). */
static void lstm_step(const int8_t *W, const int8_t *U, const int32_t *b, const int32_t *m, int sh,
                      int n_in, int H, const int32_t *x, int32_t *h, int32_t *c, int32_t *z)
{
    int j;
    matvec_q(W, U, n_in, H, 4 * H, x, h, z);
    for (j = 0; j < 4 * H; ++j) {
        z[j] = requant(z[j], m[j], sh, b[j]);
    }
    for (j = 0; j < H; ++j) {
        int32_t i = sigmoid_q15(z[j], TL_ACT_FRAC);
        int32_t f = sigmoid_q15(z[H + j], TL_ACT_FRAC);
        int32_t g = tanh_q15(z[2 * H + j], TL_ACT_FRAC);
        int32_t o = sigmoid_q15(z[3 * H + j], TL_ACT_FRAC);
        c[j] = rshift_round64((int64_t)f * c[j], 15) + rshift_round(i * g, 30 - TL_ACT_FRAC);
        h[j] = rshift_round(o * tanh_q15(c[j], TL_ACT_FRAC), 30 - TL_ACT_FRAC);
    }
}

/* y = act(requant(x.W) + b); hidden outputs saturate to the int16 range (never reached: worst-case formats). */
static void dense(const int8_t *W, const int32_t *b, const int32_t *m, int sh, int n_in, int n_out,
                  const int32_t *x, int32_t *y, int relu, int last)
{
    int j;
    matvec_q(W, 0, n_in, 0, n_out, x, 0, y);
    for (j = 0; j < n_out; ++j) {
        int32_t v = requant(y[j], m[j], sh, b[j]);
        if (relu && v < 0) v = 0;
        if (!last) {
            if (v > 32767) v = 32767;
            if (v < -32767) v = -32767;
        }
        y[j] = v;
    }
}

/* One layer each; `in` is the layer's input and becomes its output. */
#define TL_LSTM_STEP(k, n_in, H, off, sh)                                                                     \
    lstm_step(lstm##k##_W, lstm##k##_U, lstm##k##_b, lstm##k##_m, (sh), (n_in), (H), in, s->h + (off),        \
              s->c + (off), s->z);                                                                            \
    in = s->h + (off);
#define TL_DENSE(k, n_in, n_out, relu, last, off, sh)                                                         \
    dense(dense##k##_W, dense##k##_b, dense##k##_m, (sh), (n_in), (n_out), in, s->d + (off), (relu), (last)); \
    in = s->d + (off);

int32_t tinylstm_run_q(tinylstm_state *s, const float raw_inputs[TINYLSTM_NUM_INPUTS])
{
    int t, j;
    const int32_t *in = s->h;
    for (j = 0; j < TINYLSTM_H_SIZE; ++j) {
        s->h[j] = 0;
        s->c[j] = 0;
    }
    for (t = 0; t < TINYLSTM_NUM_STEPS; ++t) {
        /* float in: t = raw - mean, p = t * k (no multiply-add pair: FMA contraction cannot change the bits) */
        float d = raw_inputs[t] - x_mean[t];
        float p = d * x_k[t];
        int32_t x;
        if (!(p >= -1073741824.0f)) p = -1073741824.0f; /* also NaN */
        if (p > 1073741824.0f) p = 1073741824.0f;
        x = rshift_round((int32_t)p, TL_INPUT_EXTRA_BITS);
        if (x > 32767) x = 32767;
        if (x < -32767) x = -32767;
        in = &x;
        TINYLSTM_LSTM_LAYERS(TL_LSTM_STEP)
    }
    /* in: the last LSTM layer's h */
    TINYLSTM_DENSE_LAYERS(TL_DENSE)
    return in[0];
}

float tinylstm_run(tinylstm_state *s, const float raw_inputs[TINYLSTM_NUM_INPUTS])
{
    float y = (float)tinylstm_run_q(s, raw_inputs) * TL_Y_K;
    return y + TL_Y_MEAN;
}

float tinylstm_predict(const float raw_inputs[TINYLSTM_NUM_INPUTS])
{
    tinylstm_state s;
    return tinylstm_run(&s, raw_inputs);
}
