/* tinylstm RISC-V engine: the pruned LSTM network from eSELL streams (and a dense fp16 baseline), fp32 maths.
 *
 * Portable C99 (no _Float16: fp16 is decoded in software, exactly). Build for the emulated core with
 *   riscv64-unknown-elf-gcc -march=rv32imafc -mabi=ilp32f --specs=picolibc.specs --oslib=semihost -O2
 *     -ffp-contract=off -I<dir of model.h> -I<dir of tl_act.h: tinylstm/csrc> esell_lstm.c
 * (-ffp-contract=off: no fused multiply-add, so every product and sum is rounded as in the numpy golden model
 * tinylstm.esell.forward). Run under qemu-system-riscv32 -M virt -bios none -semihosting -icount shift=0.
 *
 * Arithmetic order (the golden model repeats it): per gate row acc = bias; acc += w*x for W's non-zeros in
 * ascending column order, then U's with h; activations via tl_act.h (tl_sigmoid/tl_tanh below); c = f*c + i*g; h = o*tanh(c).
 *
 * fp16 decode trick: an fp16 word h placed as (sign | h[14:0] << 13) in an fp32 is exactly value(h) * 2^-112
 * (normal and subnormal fp16 alike). The kernels therefore multiply such words with inputs pre-scaled by 2^112:
 * the exact product w*x is the same, so the rounded product is too (inputs must stay below 2^16 in magnitude).
 *
 * Inputs: x[] holds TL_N_X standardised sequences, [sample][step][input] (step-major; TL_N_IN inputs per step:
 * 1 for the feature-per-step layout, F for a window). Outputs: the last dense layer's K outputs, linear (a
 * regression, standardised) or through the softmax below (a classifier: probabilities, plus the argmax).
 *
 * Output, one line per sample on the semihosting console (<bits>: the K outputs' fp32 bits, comma-separated):
 *   Y <i> <esell bits> <dense bits> <esell instret> <dense instret> <esell mv instret> <dense mv instret>
 *     <esell argmax> <dense argmax>
 * "instret" counts minstret (retired instructions; exact with qemu -icount shift=0) around one whole inference
 * and, summed, around the matrix-vector products alone. The whole-inference figure includes the counter reads
 * around the 4 matrix products per step (a few instructions each, identical for both kernels).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "esell_engine.h"
#include "model.h"
#define TL_ACT_K_ONLY 1 /* tl_sigmoid/tl_tanh are the wrappers below */
#include "tl_act.h"

#if defined(__riscv)
static inline uint32_t instret(void) { uint32_t v; __asm__ volatile("csrr %0, minstret" : "=r"(v)); return v; }
#else
static inline uint32_t instret(void) { return 0; }
#endif

typedef union { uint32_t u; float f; } tl_bits_t;
static inline float bits2f(uint32_t u) { tl_bits_t v; v.u = u; return v.f; }
static inline uint32_t f2bits(float f) { tl_bits_t v; v.f = f; return v.u; }

#define TL_UP 0x1p112f /* 2^112 */
/* fp16 in bits [31:16] of w -> value * 2^-112 as fp32 */
static inline float h2f_top(uint32_t w) { return bits2f((uint32_t)((int32_t)w >> 3) & 0x8FFFE000u); }
/* fp16 from a sign-extended 16-bit load -> value * 2^-112 */
static inline float h2f_s16(int16_t h) { return bits2f(((uint32_t)(int32_t)h << 13) & 0x8FFFE000u); }
/* full decode */
static inline float h2f(uint16_t h) { return h2f_s16((int16_t)h) * TL_UP; }

/* ------------------------------------------------------------------------------------------ activations */
/* The one float activation implementation of tinylstm (tinylstm/csrc/tl_act.h, shared with the C engine and
 * mirrored in numpy by tinylstm/activations.py). Its constants are loaded once per layer into registers
 * (tl_act_consts; GCC otherwise reloads each from the constant pool, two instructions, at every use). */
typedef tl_act_k tl_k_t;
static inline __attribute__((always_inline)) tl_k_t tl_consts(void) { return tl_act_consts(); }
static inline __attribute__((always_inline)) float tl_sigmoid(float x, const tl_k_t *K) { return tl_act_sigmoid(x, K); }
static inline __attribute__((always_inline)) float tl_tanh(float x, const tl_k_t *K) { return tl_act_tanh(x, K); }

/* ------------------------------------------------------------------------------------------ eSELL SpMV */
/* value t of chunk row R as scaled fp32 bits (see h2f_top); 0 for fp16 +0 (chunk padding) */
#define TL_BITS(t, R)                                                                                      \
    ((uint32_t)((int32_t)(((R) & 1) ? (uint32_t)(p[t] >> (32 * ((R) >> 1)))                                \
                                    : (uint32_t)(p[t] >> (32 * ((R) >> 1))) << 16) >> 3) & 0x8FFFE000u)

/* Value t of chunk row R is non-zero (fp16 +0 marks chunk padding; -0 is never stored). */
#define TL_NZ(t, R) (TL_BITS(t, R) != 0u)

/* Chunk row R with exactly C (a constant >= 1) values: acc[row] += its products in column order. */
#define TL_MAC(R, C)                                                                                       \
    do {                                                                                                   \
        const float *xr = xt[(h >> (3 + 3 * (R))) & 7u];                                                   \
        float *a = acc + ((h >> (15 + 3 * (R))) & 7u);                                                     \
        float s = *a;                                                                                      \
        s += bits2f(TL_BITS(0, R)) * xr[0];                                                                \
        if ((C) > 1) s += bits2f(TL_BITS(1, R)) * xr[1];                                                   \
        if ((C) > 2) s += bits2f(TL_BITS(2, R)) * xr[2];                                                   \
        if ((C) > 3) s += bits2f(TL_BITS(3, R)) * xr[3];                                                   \
        *a = s;                                                                                            \
    } while (0)

/* Row R (1..3) of a chunk whose previous row had K (1..4) values. The encoder sorts a block's rows by
 * non-zero count, descending, and compacts values to the left: row R holds C <= K values, value t is non-zero
 * iff t < C. C is found by testing values K-1, K-2, ... (consecutive rows mostly have equal counts, so usually
 * one test), then the C products are accumulated in column order and row R+1 continues with bound C. An empty
 * row ends the chunk (all rows after it are empty too). */
#define TL_ROWK(R, K, N)                                                                                   \
    r##R##_##K:                                                                                            \
    if ((K) >= 4 && TL_NZ(3, R)) { TL_MAC(R, 4); TL_NEXT_##N(4); }                             \
    if ((K) >= 3 && TL_NZ(2, R)) { TL_MAC(R, 3); TL_NEXT_##N(3); }                    \
    if ((K) >= 2 && TL_NZ(1, R)) { TL_MAC(R, 2); TL_NEXT_##N(2); }                                          \
    if (TL_NZ(0, R)) { TL_MAC(R, 1); TL_NEXT_##N(1); }                                                      \
    goto done;

#define TL_NEXT_2(C) goto r2_##C
#define TL_NEXT_3(C) goto r3_##C
#define TL_NEXT_4(C) goto done

/* one chunk: header h (32 bits), its value words at p; returns the word after them */
static inline __attribute__((always_inline)) const uint64_t *tl_chunk(const uint64_t *p, uint32_t h,
                                                                      const float (*xt)[4], float *acc)
{
    const uint32_t W = h & 7u;
    /* row 0 is the chunk's longest row: exactly W values, no test needed */
    /* a two-level test (W is 0..4; 2 and 3 are the most frequent widths) */
    if (W >= 3) {
        if (W == 3) { TL_MAC(0, 3); goto r1_3; }
        TL_MAC(0, 4);
        goto r1_4;
    }
    if (W == 2) { TL_MAC(0, 2); goto r1_2; }
    if (W == 0) return p; /* an all-zero chunk */
    TL_MAC(0, 1);
    goto r1_1;
    TL_ROWK(1, 4, 2)
    TL_ROWK(1, 3, 2)
    TL_ROWK(1, 2, 2)
    TL_ROWK(1, 1, 2)
    TL_ROWK(2, 4, 3)
    TL_ROWK(2, 3, 3)
    TL_ROWK(2, 2, 3)
    TL_ROWK(2, 1, 3)
    TL_ROWK(3, 4, 4)
    TL_ROWK(3, 3, 4)
    TL_ROWK(3, 2, 4)
    TL_ROWK(3, 1, 4)
done:
    return p + W;
}

/* acc (rows_pad) += M * x for one eSELL matrix; xs = x * 2^112, zero-padded to n_bc*4; skip[bc] != 0 skips a
 * block column (hidden-state pruning), skip may be NULL. */
static float tl_xt[8][4]; /* see spmv_esell */

static void spmv_esell(const uint64_t *p, const uint16_t *counts, int n_bc, int n_blk, const float *xs,
                       float *acc, const uint8_t *skip)
{
    for (int bc = 0; bc < n_bc; bc++, xs += 4) {
        if (skip && skip[bc]) {
            p += counts[bc];
            continue;
        }
        const float x0 = xs[0], x1 = xs[1], x2 = xs[2], x3 = xs[3];
        /* the codebook: row c of xt holds the inputs of code c's column tuple. Only a row's non-zeros are
         * multiplied (never chunk padding), so entries beyond a tuple's length are not needed. */
        float(*xt)[4] = tl_xt;
        xt[0][0] = x0, xt[0][1] = x1, xt[0][2] = x2, xt[0][3] = x3;
        xt[1][0] = x0, xt[1][1] = x1, xt[1][2] = x3;
        xt[2][0] = x0, xt[2][1] = x2, xt[2][2] = x3;
        xt[3][0] = x0, xt[3][1] = x3;
        xt[4][0] = x1, xt[4][1] = x2, xt[4][2] = x3;
        xt[5][0] = x1, xt[5][1] = x3;
        xt[6][0] = x2, xt[6][1] = x3;
        xt[7][0] = x3;
        float *a = acc;
        for (int blk = 0; blk < n_blk; blk++, a += 8) {
            uint64_t hdr = *p++;
            p = tl_chunk(p, (uint32_t)hdr, xt, a);
            p = tl_chunk(p, (uint32_t)(hdr >> 32), xt, a);
        }
    }
}

/* acc (rows) += M * x, M dense (rows x cols) row-major fp16; xs = x * 2^112 */
static void mv_dense(const uint16_t *m, int rows, int cols, const float *xs, float *acc)
{
    const int16_t *q = (const int16_t *)m;
    for (int r = 0; r < rows; r++) {
        float s = acc[r];
        for (int c = 0; c < cols; c++) s += h2f_s16(q[c]) * xs[c];
        acc[r] = s;
        q += cols;
    }
}

/* --------------------------------------------------------------------------------------------- network */
static uint32_t g_mv; /* instructions inside matrix products, summed */

static void lstm_layer(const tl_lstm_t *L, const float *xin, float *hout, int sparse)
{
    const uint16_t *woff = (const uint16_t *)0;
    float h[TL_MAX_H4], c[TL_MAX_H4], b[TL_MAX_ROWS], acc[TL_MAX_ROWS], xs[TL_MAX_IN4], hs[TL_MAX_H4];
    uint8_t skip[TL_MAX_H4 / 4];
    const int H = L->units, rows = 4 * H;
    (void)woff;
    for (int j = 0; j < L->units_pad; j++) h[j] = c[j] = 0.0f;
    for (int r = 0; r < rows; r++) b[r] = h2f(bias16[L->bias + r]);
    for (int r = rows; r < L->rows_pad; r++) b[r] = 0.0f;
    for (int t = 0; t < TL_STEPS; t++) {
        for (int r = 0; r < L->rows_pad; r++) acc[r] = b[r];
        for (int j = 0; j < L->in_pad; j++) xs[j] = j < L->in ? xin[t * L->in + j] * TL_UP : 0.0f;
        const uint8_t *sk = 0;
#if TL_HT_ENABLED
        if (sparse) {
            const float th = TL_HT, half = th * 0.5f;
            for (int g = 0; g < L->units_pad / 4; g++) {
                float a0 = h[4 * g] < 0 ? -h[4 * g] : h[4 * g], a1 = h[4 * g + 1] < 0 ? -h[4 * g + 1] : h[4 * g + 1];
                float a2 = h[4 * g + 2] < 0 ? -h[4 * g + 2] : h[4 * g + 2];
                float a3 = h[4 * g + 3] < 0 ? -h[4 * g + 3] : h[4 * g + 3];
                float sum = ((a0 + a1) + a2) + a3;
                skip[g] = sum < th && a0 < half && a1 < half && a2 < half && a3 < half;
            }
            sk = skip;
        }
#else
        (void)skip;
#endif
        for (int j = 0; j < L->units_pad; j++) hs[j] = (sk && sk[j / 4]) ? 0.0f : h[j] * TL_UP;
        uint32_t t0 = instret();
        if (sparse) {
            spmv_esell(w + L->w_word, (const uint16_t *)w_offset + L->w_bc, L->in_pad / 4, L->rows_pad / 8, xs,
                       acc, 0);
        } else {
            mv_dense(wd + L->wd, rows, L->in, xs, acc);
        }
        uint32_t t1 = instret();
        if (sparse) {
            spmv_esell(u + L->u_word, (const uint16_t *)u_offset + L->u_bc, L->units_pad / 4, L->rows_pad / 8,
                       hs, acc, sk);
        } else {
            mv_dense(ud + L->ud, rows, H, hs, acc);
        }
        uint32_t t2 = instret();
        g_mv += (t1 - t0) + (t2 - t1);
        const tl_k_t K = tl_consts();
        for (int j = 0; j < H; j++) {
            float f = tl_sigmoid(acc[j], &K), i = tl_sigmoid(acc[H + j], &K);
            float g = tl_tanh(acc[2 * H + j], &K), o = tl_sigmoid(acc[3 * H + j], &K);
            c[j] = f * c[j] + i * g;
            h[j] = o * tl_tanh(c[j], &K);
        }
        if (L->return_sequences)
            for (int j = 0; j < H; j++) hout[t * H + j] = h[j];
    }
    if (!L->return_sequences)
        for (int j = 0; j < H; j++) hout[j] = h[j];
}

/* softmax over z[0..k-1] in place, float32 in the golden model's order (tinylstm.esell.softmax32):
 * m = max (first to last), e_i = exp(z_i - m), s = e_0 + e_1 + ... (left to right), p_i = e_i / s */
static void softmax(float *z, int k)
{
    const tl_k_t K = tl_consts();
    float m = z[0], s = 0.0f;
    for (int i = 1; i < k; i++)
        if (z[i] > m) m = z[i];
    for (int i = 0; i < k; i++) {
        z[i] = tl_act_exp(z[i] - m, &K);
        s += z[i];
    }
    for (int i = 0; i < k; i++) z[i] = z[i] / s;
}

/* the first index of the largest output (a classifier's class) */
static int argmax(const float *y, int k)
{
    int best = 0;
    for (int i = 1; i < k; i++)
        if (y[i] > y[best]) best = i;
    return best;
}

#define TL_N_OUT_RT (tl_dense[TL_N_DENSE - 1].out)

/* one whole inference: y[0..K-1] = the network's outputs (standardised for a regression, probabilities for a
 * classifier) */
static void infer(const float *x, int sparse, float *y)
{
    float a[TL_STEPS * TL_MAX_WIDTH], bbuf[TL_STEPS * TL_MAX_WIDTH], xs[TL_MAX_WIDTH];
    const float *in = x;
    float *out = a;
    for (int k = 0; k < TL_N_LSTM; k++) {
        lstm_layer(&tl_lstm[k], in, out, sparse);
        in = out;
        out = (out == a) ? bbuf : a;
    }
    for (int k = 0; k < TL_N_DENSE; k++) {
        const tl_dense_t *D = &tl_dense[k];
        for (int j = 0; j < D->in; j++) xs[j] = in[j] * TL_UP;
        for (int o = 0; o < D->out; o++) out[o] = h2f(head_b[D->b + o]);
        mv_dense(head_w + D->w, D->out, D->in, xs, out);
        if (D->act == 1)
            for (int o = 0; o < D->out; o++) out[o] = out[o] > 0.0f ? out[o] : 0.0f;
        else if (D->act == 2)
            softmax(out, D->out);
        in = out;
        out = (out == a) ? bbuf : a;
    }
    for (int o = 0; o < TL_N_OUT_RT; o++) y[o] = in[o];
}

static void print_bits(const float *y, int k)
{
    for (int o = 0; o < k; o++) printf(o ? ",%08lx" : " %08lx", (unsigned long)f2bits(y[o]));
}

int main(void)
{
    float ys[TL_MAX_WIDTH], yd[TL_MAX_WIDTH];
    const int K = TL_N_OUT_RT;
    for (int n = 0; n < TL_N_X; n++) {
        const float *xn = x + n * TL_STEPS * TL_N_IN;
        g_mv = 0;
        uint32_t s0 = instret();
        infer(xn, 1, ys);
        uint32_t s1 = instret();
        uint32_t mv_s = g_mv;
        g_mv = 0;
        uint32_t d0 = instret();
        infer(xn, 0, yd);
        uint32_t d1 = instret();
        printf("Y %d", n);
        print_bits(ys, K);
        print_bits(yd, K);
        printf(" %lu %lu %lu %lu %d %d\n", (unsigned long)(s1 - s0), (unsigned long)(d1 - d0), (unsigned long)mv_s,
               (unsigned long)g_mv, argmax(ys, K), argmax(yd, K));
    }
    printf("DONE %d\n", TL_N_X);
    return 0;
}
