/*
 * tinylstm_float.c - the tinylstm float32 engine (C99, no malloc, no static RAM; no libm unless
 * TINYLSTM_MATH_LIBM): every multiply-add fused (one instruction where the FPU has it: Cortex-M4F, x86 with FMA;
 * an exact emulation elsewhere), so the same bits on every target. Hand-written, not generated: `tinylstm export c --variant float32` copies it next
 * to the generated tinylstm_model.h (API, sizes, scaler) and tinylstm_model_data.h (weights and the layer table).
 *
 * The network: stacked LSTM layers (gate order i, f, c, o as Keras), F values per time step, then dense layers
 * (relu/linear; softmax on the last for a classifier). API 2 (tinylstm_model.h): predict, reset, step, argmax.
 * tinylstm_model_data.h lists the layers as X-macros with constant sizes:
 *   TINYLSTM_LSTM_LAYERS(X)   X(k, inputs, units, offset of the layer's input in v, offset of c)
 *   TINYLSTM_DENSE_LAYERS(X)  X(k, inputs, units, relu, last, offset of the output in d)
 * and defines lstm<k>_p, dense<k>_p (weights laid out for the kernel), x_mean, x_scale.
 *
 * The kernel: four output rows per pass over the inputs - the four gates of one LSTM unit, or four dense outputs
 * - with the layout of tinylstm/export/c.py (`pack_float_rows`): per block of four rows their four biases, then
 * per input k the four weights of the rows. Every input is loaded once per block, every weight once, and each
 * multiply-add is one fused instruction (tl_fmaf). Sums in the order bias, k = 0, 1, ... (the same on every target).
 *
 * Activations: exp(-|x|) by range reduction (x = k ln2 + r, |r| <= ln2/2, k from the 1.5 * 2^23 rounding trick),
 * a degree-5 polynomial (relative error 1.6e-7) and 2^k from exponent bits; then one division:
 * sigmoid(x) = 1 / (1 + e) or e / (1 + e), tanh(|x|) = (1 - e2) / (1 + e2) with e2 = exp(-2|x|), odd symmetry.
 * Max abs error <= 3e-7 against double libm (tests/test_c_engine.py). No clamps on both sides: |x| saturates at
 * 88, where exp(-88) rounds to 0 in the exponent (2^k with k + 127 = 0), the right limit of both functions.
 *
 * tl_act.h (the RISC-V engine's activations, mirrored in numpy) stays included for -DTINYLSTM_MATH_LIBM and the
 * C unit tests of tests/c/test_csrc.c.
 */
#include <math.h>
#include <string.h>

#include "tinylstm_model.h"
#include "tinylstm_model_data.h"
#include "tl_act.h"

/* a * b + c rounded once (C99 fmaf): one instruction where the FPU fuses (Cortex-M4F, x86 with FMA: the compiler
 * inlines it); elsewhere exact in double - the product of two floats is exact there, the sum is rounded to odd
 * (TwoSum error term) and then to float, which gives the correctly rounded result: the same bits everywhere. */
#if defined(__FP_FAST_FMAF) || defined(__ARM_FEATURE_FMA)
#define tl_fmaf(a, b, c) fmaf((a), (b), (c))
#else
TL_INLINE float tl_fmaf(float a, float b, float c)
{
    double p = (double)a * (double)b, s = p + (double)c, bb = s - p;
    double e = (p - (s - bb)) + ((double)c - bb);
    if (e != 0.0 && s - s == 0.0) {
        uint64_t bits;
        memcpy(&bits, &s, sizeof bits);
        if ((bits & 1u) == 0) {
            bits += ((e > 0.0) == (s > 0.0)) ? 1 : (uint64_t)-1; /* to the odd neighbour on e's side */
            memcpy(&s, &bits, sizeof s);
        }
    }
    return (float)s;
}
#endif

#ifndef TINYLSTM_MATH_LIBM
/* 1 / (1 + exp(-x)): e = exp(-x) = 2^k e^r with k = round(-x log2 e) from the 1.5 * 2^23 rounding trick, r by
 * Cody-Waite (|r| <= ln2/2), e^r by a degree-5 polynomial (relative error 1.6e-7), 2^k from exponent bits with
 * k + 127 saturated to [0, 255] (USAT): 0 gives e = 0 (sigmoid 1), 255 gives e = inf (sigmoid 0) - no clamp and
 * no branch. Valid for |x| < 1e15 (beyond, the rounding trick loses r and the result may be NaN). */
TL_INLINE float f_sigmoid(float x)
{
    float t, kf, r, p, scale;
    uint32_t tb, bits;
    int32_t e;
    t = tl_fmaf(x, -1.44269504f, 12582912.0f); /* 1.5 * 2^23 + k */
    kf = t - 12582912.0f;
    r = tl_fmaf(kf, -0.693145752f, -x); /* ln2 = 0.693145752 + 1.42860677e-6 */
    r = tl_fmaf(kf, -1.42860677e-6f, r);
    p = 0.00831252337f;
    p = tl_fmaf(p, r, 0.0418901145f);
    p = tl_fmaf(p, r, 0.166671142f);
    p = tl_fmaf(p, r, 0.499992311f);
    p = tl_fmaf(p, r, 1.0f);
    p = tl_fmaf(p, r, 1.0f);
    memcpy(&tb, &t, sizeof tb);
    e = (int32_t)(tb - (0x4B400000u - 127u)); /* k + 127 */
#if defined(__ARM_FEATURE_SAT) || defined(__ARM_FEATURE_DSP)
    e = __builtin_arm_usat(e, 8);
#else
    e = e < 0 ? 0 : e > 255 ? 255 : e;
#endif
    bits = (uint32_t)e << 23;
    memcpy(&scale, &bits, sizeof scale);
    return 1.0f / tl_fmaf(p, scale, 1.0f);
}

/* tanh(x) = 2 sigmoid(2x) - 1 (the doubling is exact) */
TL_INLINE float f_tanh(float x)
{
    return tl_fmaf(2.0f, f_sigmoid(2.0f * x), -1.0f);
}
#else
TL_INLINE float f_sigmoid(float x) { return tl_sigmoid(x); }
TL_INLINE float f_tanh(float x) { return tl_tanh(x); }
#endif

#ifdef TINYLSTM_TEST_HOOKS
float tinylstm_test_sigmoid(float x);
float tinylstm_test_tanh(float x);
float tinylstm_test_sigmoid(float x) { return f_sigmoid(x); }
float tinylstm_test_tanh(float x) { return f_tanh(x); }
#endif

typedef struct tl_f4 {
    float a0, a1, a2, a3;
} tl_f4;

/* The four weights of one input: one VLDMIA on an ARM FPU (GCC keeps them in s8..s11 for it), else loads. */
#if defined(__GNUC__) && defined(__arm__) && defined(__ARM_FP) && !defined(TINYLSTM_NO_SIMD)
#define TL_LOAD4(w, w0, w1, w2, w3)                                                                           \
    register float w0 __asm__("s8");                                                                          \
    register float w1 __asm__("s9");                                                                          \
    register float w2 __asm__("s10");                                                                         \
    register float w3 __asm__("s11");                                                                         \
    __asm__("vldmia %4!, {s8-s11}" : "=t"(w0), "=t"(w1), "=t"(w2), "=t"(w3), "+r"(w) : "m"(*(const float(*)[4])w))
#define TL_LOAD2(x, x0, x1)                                                                                   \
    register float x0 __asm__("s16");                                                                         \
    register float x1 __asm__("s17");                                                                         \
    __asm__("vldmia %2!, {s16-s17}" : "=t"(x0), "=t"(x1), "+r"(x) : "m"(*(const float(*)[2])x))
#else
#define TL_LOAD2(x, x0, x1)                                                                                   \
    float x0 = (x)[0], x1 = (x)[1];                                                                           \
    (x) += 2
#define TL_LOAD4(w, w0, w1, w2, w3)                                                                           \
    float w0 = (w)[0], w1 = (w)[1], w2 = (w)[2], w3 = (w)[3];                                                 \
    (w) += 4
#endif

/* a[r] = b[r] + sum_k x[k] * W[k][r], r < 4, over the block at *pw (advanced past it). */
#if defined(__x86_64__) || defined(__i386__) || defined(__aarch64__)
/* SIMD hosts: the four rows as one 4-lane vector (the compiler's SLP), same operations in the same order */
TL_INLINE tl_f4 dot4f(const float **pw, const float *x, int K)
{
    const float *w = *pw;
    float a[4];
    tl_f4 r;
    int k, q;
    for (q = 0; q < 4; ++q) {
        a[q] = w[q];
    }
    w += 4;
    for (k = 0; k < K; ++k) {
        for (q = 0; q < 4; ++q) {
            a[q] = tl_fmaf(x[k], w[q], a[q]);
        }
        w += 4;
    }
    *pw = w;
    r.a0 = a[0];
    r.a1 = a[1];
    r.a2 = a[2];
    r.a3 = a[3];
    return r;
}
#else
TL_INLINE tl_f4 dot4f(const float **pw, const float *x, int K)
{
    const float *w = *pw, *xend = x + (K & ~1);
    tl_f4 r;
    {
        TL_LOAD4(w, b0, b1, b2, b3);
        r.a0 = b0;
        r.a1 = b1;
        r.a2 = b2;
        r.a3 = b3;
    }
    while (x != xend) { /* two inputs per pass */
        TL_LOAD2(x, x0, x1);
        {
            TL_LOAD4(w, w0, w1, w2, w3);
            r.a0 = tl_fmaf(x0, w0, r.a0);
            r.a1 = tl_fmaf(x0, w1, r.a1);
            r.a2 = tl_fmaf(x0, w2, r.a2);
            r.a3 = tl_fmaf(x0, w3, r.a3);
        }
        {
            TL_LOAD4(w, w0, w1, w2, w3);
            r.a0 = tl_fmaf(x1, w0, r.a0);
            r.a1 = tl_fmaf(x1, w1, r.a1);
            r.a2 = tl_fmaf(x1, w2, r.a2);
            r.a3 = tl_fmaf(x1, w3, r.a3);
        }
    }
    if (K & 1) {
        float xk = *x;
        TL_LOAD4(w, w0, w1, w2, w3);
        r.a0 = tl_fmaf(xk, w0, r.a0);
        r.a1 = tl_fmaf(xk, w1, r.a1);
        r.a2 = tl_fmaf(xk, w2, r.a2);
        r.a3 = tl_fmaf(xk, w3, r.a3);
    }
    *pw = w;
    return r;
}
#endif

/* One LSTM time step: v = the layer's input (n_in values) followed by its h (H values); hn: the new h until every
 * unit is done. c = f c + i tanh(zc), h = o tanh(c). */
static void lstm_step(const float *w, int n_in, int H, float *v, float *c, float *hn)
{
    int j;
#if defined(__x86_64__) || defined(__i386__) || defined(__aarch64__)
    /* SIMD hosts: the gates of every unit first, then branch-free activation passes the compiler vectorises
     * (tanh(z) = 2 sigmoid(2z) - 1, exactly as f_tanh): the same operations on every value, the same bits */
    float z[4 * TINYLSTM_HN_SIZE], cj[TINYLSTM_HN_SIZE];
    for (j = 0; j < H; ++j) {
        tl_f4 a = dot4f(&w, v, n_in + H);
        z[j] = a.a0;
        z[H + j] = a.a1;
        z[2 * H + j] = 2.0f * a.a2;
        z[3 * H + j] = a.a3;
    }
    for (j = 0; j < 4 * H; ++j) {
        z[j] = f_sigmoid(z[j]);
    }
    for (j = 0; j < H; ++j) {
        cj[j] = tl_fmaf(z[H + j], c[j], z[j] * tl_fmaf(2.0f, z[2 * H + j], -1.0f));
        c[j] = cj[j];
        cj[j] = f_sigmoid(2.0f * cj[j]);
    }
    for (j = 0; j < H; ++j) {
        hn[j] = z[3 * H + j] * tl_fmaf(2.0f, cj[j], -1.0f);
    }
#else
    for (j = 0; j < H; ++j) {
        tl_f4 z = dot4f(&w, v, n_in + H);
        float i = f_sigmoid(z.a0), f = f_sigmoid(z.a1), g = f_tanh(z.a2), o = f_sigmoid(z.a3);
        float cj = tl_fmaf(f, c[j], i * g);
        c[j] = cj;
        hn[j] = o * f_tanh(cj);
    }
#endif
    memcpy(v + n_in, hn, (size_t)H * sizeof *hn);
}

/* y = act(x.W + b) in blocks of four rows; returns the first output. */
static float dense(const float *w, int n_in, int n_out, const float *x, float *y, int relu)
{
    int j, r;
    for (j = 0; j < n_out; j += 4) {
        tl_f4 a = dot4f(&w, x, n_in);
        float v[4];
        v[0] = a.a0;
        v[1] = a.a1;
        v[2] = a.a2;
        v[3] = a.a3;
        for (r = 0; r < 4 && j + r < n_out; ++r) {
            y[j + r] = relu && v[r] < 0.0f ? 0.0f : v[r];
        }
    }
    return y[0];
}

/* One LSTM layer's step; `in` ends as the last LSTM layer's h (the dense head's input). */
#define TL_LSTM_STEP(k, n_in, H, voff, coff)                                                                  \
    lstm_step(lstm##k##_p, (n_in), (H), s->v + (voff), s->c + (coff), hn);
#define TL_LAST_H(k, n_in, H, voff, coff) in = s->v + (voff) + (n_in);
#define TL_DENSE(k, n_in, n_out, relu, last, off)                                                             \
    (void)dense(dense##k##_p, (n_in), (n_out), in, d + (off), (relu));                                        \
    in = d + (off);

/* One time step of every LSTM layer: raw inputs x[F] standardised with scaler row `row` (feature_per_step: the
 * step's own mean and scale, one row per step; window layout: one row per feature column). */
TL_INLINE void tl_lstm_layers(tinylstm_state *s, const float *x, int row)
{
    float hn[TINYLSTM_HN_SIZE];
    int f;
    for (f = 0; f < TINYLSTM_STEP_INPUTS; ++f) {
        s->v[f] = (x[f] - x_mean[row * TINYLSTM_STEP_INPUTS + f]) / x_scale[row * TINYLSTM_STEP_INPUTS + f];
    }
    TINYLSTM_LSTM_LAYERS(TL_LSTM_STEP)
}

/* The dense head on the last LSTM layer's h; y: target units (regression) or K probabilities (softmax). */
static void tl_head(const tinylstm_state *s, float y[TINYLSTM_NUM_OUTPUTS])
{
    float d[TINYLSTM_D_SIZE];
    const float *in = s->v;
    int k;
    TINYLSTM_LSTM_LAYERS(TL_LAST_H)
    TINYLSTM_DENSE_LAYERS(TL_DENSE)
#if TINYLSTM_IS_CLASSIFIER
    {
        /* softmax: p_k = exp(z_k - max) / sum_j exp(z_j - max), sums in the order k = 0, 1, ... */
        float m = in[0], sum = 0.0f;
        for (k = 1; k < TINYLSTM_NUM_OUTPUTS; ++k) {
            m = in[k] > m ? in[k] : m;
        }
        for (k = 0; k < TINYLSTM_NUM_OUTPUTS; ++k) {
            y[k] = tl_exp(in[k] - m);
            sum += y[k];
        }
        for (k = 0; k < TINYLSTM_NUM_OUTPUTS; ++k) {
            y[k] = y[k] / sum;
        }
    }
#else
    for (k = 0; k < TINYLSTM_NUM_OUTPUTS; ++k) {
        y[k] = in[k] * TINYLSTM_Y_SCALE + TINYLSTM_Y_MEAN;
    }
#endif
}

void tinylstm_reset(tinylstm_state *s)
{
    int j;
    for (j = 0; j < TINYLSTM_V_SIZE; ++j) {
        s->v[j] = 0.0f;
    }
    for (j = 0; j < TINYLSTM_H_SIZE; ++j) {
        s->c[j] = 0.0f;
    }
    s->steps = 0;
}

int tinylstm_predict(const float x[TINYLSTM_NUM_INPUTS], float y[TINYLSTM_NUM_OUTPUTS])
{
    tinylstm_state s;
    int t;
    if (tl_nonfinite(x, TINYLSTM_NUM_INPUTS)) {
        return -1;
    }
    tinylstm_reset(&s);
    for (t = 0; t < TINYLSTM_NUM_STEPS; ++t) {
        tl_lstm_layers(&s, x + t * TINYLSTM_STEP_INPUTS, TINYLSTM_SCALER_ROWS == 1 ? 0 : t);
    }
    tl_head(&s, y);
    return 0;
}

int tinylstm_step(tinylstm_state *s, const float x[TINYLSTM_STEP_INPUTS], float y[TINYLSTM_NUM_OUTPUTS])
{
    if (tl_nonfinite(x, TINYLSTM_STEP_INPUTS)) {
        return -1;
    }
    tl_lstm_layers(s, x, TINYLSTM_SCALER_ROWS == 1 ? 0 : (int)(s->steps % TINYLSTM_SCALER_ROWS));
    if (s->steps < 0xFFFFFFFFu) {
        s->steps += 1;
    }
    tl_head(s, y);
    return 0;
}

int tinylstm_argmax(const float y[TINYLSTM_NUM_OUTPUTS])
{
    int k, best = 0;
    for (k = 1; k < TINYLSTM_NUM_OUTPUTS; ++k) {
        best = y[k] > y[best] ? k : best;
    }
    return best;
}
