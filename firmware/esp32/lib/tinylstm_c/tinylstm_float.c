/*
 * tinylstm_float.c - the tinylstm float32 engine (C99, no malloc, no static RAM; no libm unless
 * TINYLSTM_MATH_LIBM). Hand-written, not generated: `tinylstm export c --variant float32` copies it next to the
 * generated tinylstm_model.h (API, sizes, scaler) and tinylstm_model_data.h (weights and the layer table).
 *
 * The network: stacked LSTM layers (gate order i, f, c, o as Keras), one value per time step, then dense layers.
 * tinylstm_model_data.h lists the layers as X-macros with constant sizes, so each layer's call below gets its
 * sizes as constants and the compiler can specialise the loops, as for hand-written code:
 *   TINYLSTM_LSTM_LAYERS(X)   X(k, inputs, units, offset of h and c in the state)
 *   TINYLSTM_DENSE_LAYERS(X)  X(k, inputs, units, relu, offset of the output in the state)
 * and defines the arrays lstm<k>_W/_U/_b, dense<k>_W/_b, x_mean, x_scale.
 */
#include "tinylstm_model.h"
#include "tinylstm_model_data.h"
#include "tl_act.h"

#ifdef TINYLSTM_TEST_HOOKS
float tinylstm_test_sigmoid(float x);
float tinylstm_test_tanh(float x);
float tinylstm_test_sigmoid(float x) { return tl_sigmoid(x); }
float tinylstm_test_tanh(float x) { return tl_tanh(x); }
#endif

/* Loop order. Column form (one accumulator per output, weights read with a stride) suits in-order MCUs;
 * row form (z[0..n) += x[k] * W[k][0..n)) vectorises on SIMD hosts. Both add the same terms in the same
 * order (bias, then k = 0, 1, ...), so they give identical bits; the tests compare host and Cortex-M4 outputs. */
#if !defined(TINYLSTM_ROW_LOOPS) && !defined(TINYLSTM_COLUMN_LOOPS)
#if defined(__x86_64__) || defined(__i386__) || defined(__aarch64__)
#define TINYLSTM_ROW_LOOPS 1
#endif
#endif

/* z[j] = b[j] + sum_k x[k] * W[k * n + j] (+ the same over h and U when n_h > 0), j < n. */
static void matvec(const float *W, const float *U, const float *b, int n_in, int n_h, int n,
                   const float *x, const float *h, float *z)
{
    int j, k;
#ifdef TINYLSTM_ROW_LOOPS
    for (j = 0; j < n; ++j) {
        z[j] = b[j];
    }
    for (k = 0; k < n_in; ++k) {
        for (j = 0; j < n; ++j) {
            z[j] += x[k] * W[k * n + j];
        }
    }
    for (k = 0; k < n_h; ++k) {
        for (j = 0; j < n; ++j) {
            z[j] += h[k] * U[k * n + j];
        }
    }
#else
    for (j = 0; j < n; ++j) {
        float acc = b[j];
        for (k = 0; k < n_in; ++k) {
            acc += x[k] * W[k * n + j];
        }
        for (k = 0; k < n_h; ++k) {
            acc += h[k] * U[k * n + j];
        }
        z[j] = acc;
    }
#endif
}

/* One LSTM time step, gate order i, f, c, o (Keras): z = x.W + h.U + b; c = f*c + i*tanh(zc); h = o*tanh(c). */
static void lstm_step(const float *W, const float *U, const float *b, int n_in, int H,
                      const float *x, float *h, float *c, float *z)
{
    int j;
    matvec(W, U, b, n_in, H, 4 * H, x, h, z);
    /* One sigmoid pass over all 4H gates (no short vector tails): tanh(z) = 2 sigmoid(2z) - 1 for the cell
     * candidate (the doubling is exact). */
    for (j = 2 * H; j < 3 * H; ++j) {
        z[j] = 2.0f * z[j];
    }
    for (j = 0; j < 4 * H; ++j) {
        z[j] = tl_sigmoid(z[j]);
    }
    for (j = 2 * H; j < 3 * H; ++j) {
        z[j] = 2.0f * z[j] - 1.0f;
    }
    for (j = 0; j < H; ++j) {
        c[j] = z[H + j] * c[j] + z[j] * z[2 * H + j];
        h[j] = z[3 * H + j] * tl_tanh(c[j]);
    }
}

/* y = act(x.W + b), W row-major (n_in x n_out). */
static void dense(const float *W, const float *b, int n_in, int n_out, const float *x, float *y, int relu)
{
    int j;
    matvec(W, 0, b, n_in, 0, n_out, x, 0, y);
    if (relu) {
        for (j = 0; j < n_out; ++j) {
            y[j] = y[j] < 0.0f ? 0.0f : y[j];
        }
    }
}

/* One layer each; `in` is the layer's input and becomes its output. */
#define TL_LSTM_STEP(k, n_in, H, off)                                                                         \
    lstm_step(lstm##k##_W, lstm##k##_U, lstm##k##_b, (n_in), (H), in, s->h + (off), s->c + (off), s->z);      \
    in = s->h + (off);
#define TL_DENSE(k, n_in, n_out, relu, off)                                                                   \
    dense(dense##k##_W, dense##k##_b, (n_in), (n_out), in, s->d + (off), (relu));                             \
    in = s->d + (off);

float tinylstm_run(tinylstm_state *s, const float raw_inputs[TINYLSTM_NUM_INPUTS])
{
    int t, j;
    const float *in = s->h;
    for (j = 0; j < TINYLSTM_H_SIZE; ++j) {
        s->h[j] = 0.0f;
        s->c[j] = 0.0f;
    }
    for (t = 0; t < TINYLSTM_NUM_STEPS; ++t) {
        float x = (raw_inputs[t] - x_mean[t]) / x_scale[t];
        in = &x;
        TINYLSTM_LSTM_LAYERS(TL_LSTM_STEP)
    }
    /* in: the last LSTM layer's h */
    TINYLSTM_DENSE_LAYERS(TL_DENSE)
    return in[0] * TINYLSTM_Y_SCALE + TINYLSTM_Y_MEAN;
}

float tinylstm_predict(const float raw_inputs[TINYLSTM_NUM_INPUTS])
{
    tinylstm_state s;
    return tinylstm_run(&s, raw_inputs);
}
