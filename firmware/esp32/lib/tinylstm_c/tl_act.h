/*
 * tl_act.h - tinylstm's one float activation implementation: exp, sigmoid, tanh (C99, header only).
 *
 * Shared by the C engines (tinylstm_float.c; tinylstm_int8.c for a classifier's softmax) and the RISC-V eSELL
 * engine (firmware/riscv/esell_lstm.c), and mirrored bit for bit in numpy by tinylstm/activations.py (the RISC-V
 * golden model uses that mirror). Also the engines' TL_INLINE and their input check tl_nonfinite().
 * Hand-written, not generated; `tinylstm export c` copies it next to the generated model files.
 *
 * exp(x) without libm: clamp to [-87, 88] (NaN -> 88), k = round(x * log2(e)), r = x - k*ln2 with ln2 split in
 * two parts (Cody-Waite), exp(r) by the degree-7 Taylor polynomial on |r| <= ln2/2 (Horner), 2^k built from
 * exponent bits. Max relative error 1.2e-7 (~1 ulp) on [-87, 88] (held by tests/c/test_csrc.c).
 * Branch-free (selects only): with -fno-trapping-math compilers vectorise the activation loops (same bits).
 * Every operation is one float32 operation in a fixed order: build with FMA contraction off (ISO C mode does
 * that for GCC, or -ffp-contract=off) and the numpy mirror gives the same bits.
 *
 * API. The constants come in one struct, tl_act_k, so that a caller can load them once into registers around a
 * loop (the RISC-V engine does; GCC otherwise reloads each from the constant pool at every use):
 *   tl_act_k K = tl_act_consts();  y = tl_act_exp(x, &K); tl_act_sigmoid(x, &K); tl_act_tanh(x, &K);
 * and, for callers that do not care, tl_exp(x), tl_sigmoid(x), tl_tanh(x) (not with -DTL_ACT_K_ONLY).
 *
 * -DTINYLSTM_MATH_LIBM: tl_sigmoid/tl_tanh from <math.h> (expf, tanhf) instead; tl_act_* stay own code.
 */
#ifndef TL_ACT_H
#define TL_ACT_H

#include <stdint.h>
#include <string.h>

#ifndef TL_INLINE
#if defined(__GNUC__)
#define TL_INLINE static inline __attribute__((always_inline))
#else
#define TL_INLINE static inline
#endif
#endif

/* 0 when all n values are finite (x - x is 0 only for a finite x; NaN and inf give NaN) */
TL_INLINE int tl_nonfinite(const float *x, int n)
{
    int k, bad = 0;
    for (k = 0; k < n; ++k) {
        bad |= !(x[k] - x[k] == 0.0f);
    }
    return bad;
}

typedef struct tl_act_k {
    float hi, lo;         /* clamp of the exp argument */
    float log2e;          /* log2(e) */
    float round_bias;     /* 128.5: k = (int)(x*log2e + 128.5) - 128 rounds half up for every clamped x */
    float ln2_hi, ln2_lo; /* ln2 = ln2_hi + ln2_lo (ln2_hi has few mantissa bits: k * ln2_hi is exact) */
    float c7, c6, c5, c4, c3, c2; /* 1/7! ... 1/2! */
    float one, two;
} tl_act_k;

#define TL_ACT_K_INIT                                                                                         \
    {                                                                                                         \
        88.0f, -87.0f, 1.44269504f, 128.5f, 0.693145752f, 1.42860677e-6f, 1.98412701e-4f, 1.38888892e-3f,   \
            8.33333377e-3f, 4.16666679e-2f, 1.66666672e-1f, 0.5f, 1.0f, 2.0f                                  \
    }

/* Keep a constant in a register (no rematerialisation from memory); only where it pays (RISC-V with an FPU). */
#if defined(__riscv) && defined(__riscv_flen) && defined(__GNUC__)
#define TL_ACT_KEEP(v) __asm__("" : "+f"(v))
#else
#define TL_ACT_KEEP(v) ((void)0)
#endif

static inline tl_act_k tl_act_consts(void)
{
    tl_act_k K = TL_ACT_K_INIT;
    TL_ACT_KEEP(K.hi);
    TL_ACT_KEEP(K.lo);
    TL_ACT_KEEP(K.log2e);
    TL_ACT_KEEP(K.round_bias);
    TL_ACT_KEEP(K.ln2_hi);
    TL_ACT_KEEP(K.ln2_lo);
    TL_ACT_KEEP(K.c7);
    TL_ACT_KEEP(K.c6);
    TL_ACT_KEEP(K.c5);
    TL_ACT_KEEP(K.c4);
    TL_ACT_KEEP(K.c3);
    TL_ACT_KEEP(K.c2);
    TL_ACT_KEEP(K.one);
    TL_ACT_KEEP(K.two);
    return K;
}

static inline float tl_act_exp(float x, const tl_act_k *K)
{
    float kf, r, p, scale;
    int32_t k;
    uint32_t bits;
    x = x < K->hi ? x : K->hi; /* also NaN (-> 88) */
    x = x >= K->lo ? x : K->lo;
    kf = x * K->log2e;
    k = (int32_t)(kf + K->round_bias) - 128; /* kf + 128.5 > 0 after the clamp: truncation is floor */
    r = x - (float)k * K->ln2_hi;
    r = r - (float)k * K->ln2_lo;
    p = K->c7;
    p = K->c6 + r * p;
    p = K->c5 + r * p;
    p = K->c4 + r * p;
    p = K->c3 + r * p;
    p = K->c2 + r * p;
    p = K->one + r * p;
    p = K->one + r * p;
    bits = (uint32_t)(k + 127) << 23;
    memcpy(&scale, &bits, sizeof scale); /* 2^k; compilers turn this into a register move */
    return p * scale;
}

/* 1 / (1 + exp(-x)) */
static inline float tl_act_sigmoid(float x, const tl_act_k *K)
{
    return K->one / (K->one + tl_act_exp(-x, K));
}

/* tanh(|x|) = 1 - 2 / (exp(2|x|) + 1), odd symmetry for x < 0 (no cancellation near 0 from below). */
static inline float tl_act_tanh(float x, const tl_act_k *K)
{
    float a = x < 0.0f ? -x : x;
    float t = K->one - K->two / (tl_act_exp(K->two * a, K) + K->one);
    return x < 0.0f ? -t : t;
}

#ifdef TL_ACT_K_ONLY
/* the caller names its own wrappers (the RISC-V engine: tl_sigmoid(x, &K)) */
#elif defined(TINYLSTM_MATH_LIBM)
#include <math.h>
static inline float tl_exp(float x) { return expf(x); }
static inline float tl_sigmoid(float x) { return 1.0f / (1.0f + expf(-x)); }
static inline float tl_tanh(float x) { return tanhf(x); }
#else
static inline float tl_exp(float x)
{
    static const tl_act_k K = TL_ACT_K_INIT;
    return tl_act_exp(x, &K);
}
static inline float tl_sigmoid(float x)
{
    static const tl_act_k K = TL_ACT_K_INIT;
    return tl_act_sigmoid(x, &K);
}
static inline float tl_tanh(float x)
{
    static const tl_act_k K = TL_ACT_K_INIT;
    return tl_act_tanh(x, &K);
}
#endif

#endif /* TL_ACT_H */
