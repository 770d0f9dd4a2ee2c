/*
 * tinylstm_int8.c - the tinylstm int8 engine (C99, no malloc, no static RAM, no float except at the input and
 * output): int8 weights, int16 activations, int32 accumulators and an interpolated tanh table. The scheme is
 * tinylstm.intgolden's, whose numpy model the tests hold this code to bit for bit. Hand-written, not generated:
 * `tinylstm export c --variant int8` copies it next to the generated tinylstm_model.h and tinylstm_model_data.h,
 * which defines
 *   TL_ACT_FRAC, TL_LUT_STEP_BITS, TL_LUT_SIZE, TL_LUT_MID, TL_INPUT_EXTRA_BITS, TL_Y_K, TL_Y_MEAN
 *   TINYLSTM_LSTM_LAYERS(X)   X(k, inputs, units, offset of the layer's input in v, offset of c, shift)
 *   TINYLSTM_DENSE_LAYERS(X)  X(k, inputs, units, relu, last, offset of the output in d, shift)
 *   lstm<k>_w/_q, dense<k>_w/_q, tl_tanh_table (TL_LUT_SIZE entries, tanh(0) at TL_LUT_MID), x_mean, x_k
 * (sizes as constants in every layer's call, so the compiler can specialise the loops).
 *
 * The kernel: four output rows per pass over the inputs (the four gates of one LSTM unit, or four dense outputs),
 * so every pair of inputs loaded serves four rows. The weights come laid out for it (tinylstm/export/c.py,
 * `pack_rows`, `pack_layer`): per block of four rows r0..r3, per group of four inputs k0..k3 (after the K mod 4
 * "head" inputs) four words, rows (r0, r1) x inputs (k0, k1), (r0, r1) x (k2, k3), (r2, r3) x (k0, k1), (r2, r3) x
 * (k2, k3), each with the bytes u(ra, ka), w(rb, ka), u(ra, kb), w(rb, kb), u = w + 128: SMLAD of the raw word
 * with the input pair sums x(ka) (256 w(rb, ka) + u(ra, ka)) + x(kb) (...), SMLAD of SXTB16(word ror 8) row rb
 * alone - three instructions per four MACs, the offset removed once per pass (tl_zc). Then one word per head
 * input (the bytes of rows r0..r3, signed), then the block's multiplier and biases (LSTM: one multiplier per unit
 * and the four gate biases; dense: multiplier and bias per row), so that one pointer runs through the whole
 * stream. Per unit: the requantisation (SMMLAR for shift 32), the gates by table, c and h.
 *
 * With __ARM_FEATURE_SIMD32 (Cortex-M4/M7/M33 with DSP): ACLE intrinsics from <arm_acle.h>. Elsewhere, or
 * with -DTINYLSTM_NO_SIMD: portable C over the same layout, bit-identical (integer sums are exact: the export
 * checks that no accumulator can overflow).
 */
#include <string.h>

#include "tinylstm_model.h"
#include "tinylstm_model_data.h"
#include "tl_act.h"

#if defined(__ARM_FEATURE_SIMD32) && defined(__ARM_FEATURE_DSP) && !defined(__ARM_BIG_ENDIAN) &&               \
    !defined(TINYLSTM_NO_SIMD)
#include <arm_acle.h>
#define TL_SIMD 1
#endif

#define TL_ACC_LIMIT ((int64_t)1 << 30)

#if TINYLSTM_NUM_STEPS > 100000
#error "the int8 cell update assumes |c| < 2^30 (at most 4096 per step in Q12)"
#endif

/* (x + 2^(s-1)) >> s: rounding arithmetic right shift (GCC/Clang shift signed values arithmetically). */
TL_INLINE int32_t rshift_round(int32_t x, int s)
{
    return (x + ((int32_t)1 << (s - 1))) >> s;
}

TL_INLINE int32_t rshift_round64(int64_t x, int s)
{
    return (int32_t)((x + ((int64_t)1 << (s - 1))) >> s);
}

/* Cores without a 32 x 32 -> 64 multiply (no MUL32_HIGH: the ESP8266's LX106, other FPU-less Xtensa configs) call
 * libgcc's __muldi3 for every (int64_t)a * b; TL_MUL16 builds the product from four 16 x 16-bit ones instead (the
 * same exact 64-bit value, inline). -DTINYLSTM_MUL16_REQUANT forces it, -DTINYLSTM_NO_MUL16_REQUANT turns it off. */
#if defined(TINYLSTM_MUL16_REQUANT) ||                                                                          \
    (defined(__XTENSA__) && defined(__XTENSA_SOFT_FLOAT__) && !defined(TINYLSTM_NO_MUL16_REQUANT))
#define TL_MUL16 1
#endif

/* a * b, exactly, as a 64-bit value. TL_MUL16: a = ah 2^16 + al (ah = a >> 16 signed, al the low 16 bits
 * unsigned), so a b = ah bh 2^32 + (ah bl + al bh) 2^16 + al bl, each product within 32 bits (ah bl and al bh
 * in (-2^31, 2^31), al bl < 2^32); the shifts are done on uint64_t (no left shift of a negative value). */
TL_INLINE int64_t tl_mul64(int32_t a, int32_t b)
{
#ifdef TL_MUL16
    int32_t ah = a >> 16, bh = b >> 16;
    int32_t al = (int32_t)((uint32_t)a & 0xFFFFu), bl = (int32_t)((uint32_t)b & 0xFFFFu);
    uint64_t hi = (uint64_t)(int64_t)(ah * bh) << 32;
    uint64_t mid = (uint64_t)((int64_t)(ah * bl) + (int64_t)(al * bh)) << 16;
    return (int64_t)(hi + mid + (uint64_t)((uint32_t)al * (uint32_t)bl));
#else
    return (int64_t)a * b;
#endif
}

/* Accumulator -> output format: ((acc * m + 2^(sh-1)) >> sh), clamped to +-2^30, plus the bias. For sh = 32 the
 * clamp cannot act (|acc * m| < 2^62) and the whole is SMMLAR: bias + the rounded high word of acc * m. */
TL_INLINE int32_t requant(int32_t acc, int32_t m, int sh, int32_t bias)
{
    int64_t p;
    if (sh == 32) {
#if defined(TL_SIMD) && defined(__GNUC__)
        int32_t r;
        __asm__("smmlar %0, %1, %2, %3" : "=r"(r) : "r"(acc), "r"(m), "r"(bias));
        return r;
#else
        return (int32_t)((tl_mul64(acc, m) + ((int64_t)1 << 31)) >> 32) + bias;
#endif
    }
    p = (tl_mul64(acc, m) + ((int64_t)1 << (sh - 1))) >> sh;
    if (p > TL_ACC_LIMIT) p = TL_ACC_LIMIT;
    if (p < -TL_ACC_LIMIT) p = -TL_ACC_LIMIT;
    return (int32_t)p + bias;
}

/* tanh of a (sh + TL_LUT_STEP_BITS fractional bits) in Q15 by linear interpolation in the signed table (step
 * 2^-TL_LUT_STEP_BITS on [-8, 8], tl_tanh_table[TL_LUT_MID] = tanh(0)), plus k: a saturates to [-8, 8) (SSAT), the
 * index is a >> sh (floor), the low sh bits f interpolate towards the next entry, rounding half up:
 * lo + ((hi - lo) f + 2^(sh-1)) >> sh, which is (lo (2^sh - f) + hi f + 2^(sh-1)) >> sh exactly (lo 2^sh is a
 * multiple of 2^sh) - one SMLAD of the entry pair with (2^sh - f, f), k << sh folded into its accumulator. */
TL_INLINE int32_t tl_lut(const int16_t *T, int32_t a, int sh, int32_t k)
{
    int32_t idx, f;
#ifdef TL_SIMD
    uint32_t pair;
    a = __ssat(a, sh + TL_LUT_STEP_BITS + 4);
    idx = a >> sh;
    f = a & (((int32_t)1 << sh) - 1);
    memcpy(&pair, T + idx, sizeof pair); /* both neighbours in one (unaligned) load: lo low, hi high */
    /* (f << 16) + 2^sh - f: the halves (2^sh - f, f), no borrow as f < 2^sh */
    return __smlad(pair, (uint32_t)((f << 16) - f + ((int32_t)1 << sh)),
                   (k << sh) + ((int32_t)1 << (sh - 1))) >> sh;
#else
    int32_t lo, hi;
    if (a > ((int32_t)1 << (sh + TL_LUT_STEP_BITS + 3)) - 1) a = ((int32_t)1 << (sh + TL_LUT_STEP_BITS + 3)) - 1;
    if (a < -((int32_t)1 << (sh + TL_LUT_STEP_BITS + 3))) a = -((int32_t)1 << (sh + TL_LUT_STEP_BITS + 3));
    idx = a >> sh;
    f = a & (((int32_t)1 << sh) - 1);
    lo = T[idx];
    hi = T[idx + 1];
    return lo + k + (((hi - lo) * f + ((int32_t)1 << (sh - 1))) >> sh);
#endif
}

TL_INLINE int32_t tanh_q15t(const int16_t *T, int32_t a, int sh) { return tl_lut(T, a, sh, 0); }

/* The table's middle, kept in a register by the caller (no re-materialised address + offset per call). */
TL_INLINE const int16_t *tanh_mid(void)
{
    const int16_t *T = tl_tanh_table + TL_LUT_MID;
#if defined(__GNUC__)
    __asm__("" : "+r"(T));
#endif
    return T;
}

TL_INLINE int32_t tanh_q15(int32_t a, int sh) { return tanh_q15t(tanh_mid(), a, sh); }

/* sigmoid(z) = (1 + tanh(z/2)) / 2 in Q15; z/2 is z read with one more fractional bit. */
TL_INLINE int32_t sigmoid_q15(int32_t z, int sh)
{
    return (32768 + tanh_q15(z, sh + 1)) >> 1;
}

/* The same in Q16 (32768 + the Q15 tanh, in [1, 65535]): the LSTM gates. */
TL_INLINE int32_t sigmoid_q16(const int16_t *T, int32_t z, int sh)
{
    return tl_lut(T, z, sh + 1, 32768);
}

/* (a * b + 2^31) >> 32 without overflow: the rounded high word of a 32x32 product (SMMULR). */
TL_INLINE int32_t mul_hi_round(int32_t a, int32_t b)
{
#if defined(TL_SIMD) && defined(__GNUC__)
    int32_t r;
    __asm__("smmulr %0, %1, %2" : "=r"(r) : "r"(a), "r"(b));
    return r;
#else
    return (int32_t)((tl_mul64(a, b) + ((int64_t)1 << 31)) >> 32);
#endif
}

#define TL_SH (TL_ACT_FRAC - TL_LUT_STEP_BITS) /* tanh of a Q12 value: table index = a >> 8 */
#define TL_GS (31 - TL_ACT_FRAC)                /* Q16 gate * Q15 tanh -> Q12: >> 19 */

#ifdef TINYLSTM_TEST_HOOKS
int32_t tinylstm_test_tanh_q15(int32_t a, int frac);
int32_t tinylstm_test_tanh_q15(int32_t a, int frac) { return tanh_q15(a, frac - TL_LUT_STEP_BITS); }
int64_t tinylstm_test_mul64(int32_t a, int32_t b);
int64_t tinylstm_test_mul64(int32_t a, int32_t b) { return tl_mul64(a, b); }
#endif

/* a[r] = sum_k x[k] * W[k][r], r < 4, over the block's words at *pw (advanced past the block); K = hd + 4 ng. */
typedef struct tl_acc4 {
    int32_t a0, a1, a2, a3;
} tl_acc4;

#ifdef TL_SIMD
/* SXTB16 of the word rotated by 8 (bytes 1 and 3), one instruction (ACLE has no rotate operand for it) */
#if defined(__GNUC__)
TL_INLINE uint32_t sxtb16_ror8(uint32_t w)
{
    uint32_t r;
    __asm__("sxtb16 %0, %1, ror #8" : "=r"(r) : "r"(w));
    return r;
}
#else
TL_INLINE uint32_t sxtb16_ror8(uint32_t w) { return __sxtb16((w >> 8) | (w << 24)); }
#endif
TL_INLINE uint32_t ld_pair(const int16_t *x)
{
    uint32_t v;
    memcpy(&v, x, sizeof v); /* one LDR (unaligned access is allowed on ARMv7-M) */
    return v;
}
/* Two rows from one word (bytes u(r0, k0), w(r1, k0), u(r0, k1), w(r1, k1), u = w + 128): SMLAD of the raw word
 * sums x(k0) (256 w(r1, k0) + u(r0, k0)) + x(k1) (...) into m (wrapping mod 2^32: only m - 256 a is kept), and
 * SMLAD of SXTB16(word ror 8) sums row r1 alone into a. */
#define TL_PAIR(m, a, w, xp)                                                                                  \
    m = __smlad(w, xp, m);                                                                                    \
    a = __smlad(sxtb16_ror8(w), xp, a)
#if defined(__GNUC__)
/* the four words of a group in one LDMIA (GCC keeps them in r4..r7 for it) */
#define TL_LOAD4(w, w0, w1, w2, w3)                                                                           \
    register uint32_t w0 __asm__("r4");                                                                       \
    register uint32_t w1 __asm__("r5");                                                                       \
    register uint32_t w2 __asm__("r6");                                                                       \
    register uint32_t w3 __asm__("r7");                                                                       \
    __asm__("ldmia %4!, {r4-r7}" : "=r"(w0), "=r"(w1), "=r"(w2), "=r"(w3), "+r"(w) : "m"(*(const uint32_t(*)[4])w))
#else
#define TL_LOAD4(w, w0, w1, w2, w3)                                                                           \
    uint32_t w0 = (w)[0], w1 = (w)[1], w2 = (w)[2], w3 = (w)[3];                                              \
    (w) += 4
#endif
#define TL_GROUP()                                                                                            \
    do {                                                                                                      \
        uint32_t x01 = ld_pair(x), x23 = ld_pair(x + 2);                                                      \
        TL_LOAD4(w, w0, w1, w2, w3);                                                                          \
        TL_PAIR(m01, a1, w0, x01);                                                                            \
        TL_PAIR(m01, a1, w1, x23);                                                                            \
        TL_PAIR(m23, a3, w2, x01);                                                                            \
        TL_PAIR(m23, a3, w3, x23);                                                                            \
        x += 4;                                                                                               \
    } while (0)
#if defined(__GNUC__) && defined(__OPTIMIZE__)
/* The same group as one asm string (x and w post-incremented, the four words in r4..r7, one input pair at a
 * time), for the loop below: written out because GCC keeps too few registers free in it (it spilled the loop end
 * and reloaded it per pass, plus a pointer increment and a branch).
 * xa is early-clobbered: it must not share a register with the loop end's address. */
#define TL_GROUP_ASM                                                                                          \
    "ldmia %[w]!, {r4-r7}\n\t"                                                                                \
    "ldr %[xa], [%[x]], #4\n\t"                                                                               \
    "smlad %[m01], r4, %[xa], %[m01]\n\t"                                                                     \
    "smlad %[m23], r6, %[xa], %[m23]\n\t"                                                                     \
    "sxtb16 r4, r4, ror #8\n\t"                                                                               \
    "sxtb16 r6, r6, ror #8\n\t"                                                                               \
    "smlad %[a1], r4, %[xa], %[a1]\n\t"                                                                       \
    "smlad %[a3], r6, %[xa], %[a3]\n\t"                                                                       \
    "ldr %[xa], [%[x]], #4\n\t"                                                                               \
    "smlad %[m01], r5, %[xa], %[m01]\n\t"                                                                     \
    "smlad %[m23], r7, %[xa], %[m23]\n\t"                                                                     \
    "sxtb16 r5, r5, ror #8\n\t"                                                                               \
    "sxtb16 r7, r7, ror #8\n\t"                                                                               \
    "smlad %[a1], r5, %[xa], %[a1]\n\t"                                                                       \
    "smlad %[a3], r7, %[xa], %[a3]\n\t"
#define TL_GROUP_OPS                                                                                          \
    [m01] "+r"(m01), [m23] "+r"(m23), [a1] "+r"(a1), [a3] "+r"(a3), [w] "+r"(w), [x] "+r"(x), [xa] "=&r"(xa)
#define TL_GROUP_CLOBBERS "r4", "r5", "r6", "r7", "memory"
#endif
#endif

/* The zero-point correction of the offset bytes u = w + 128: -128 * sum of the grouped inputs x[0 .. 4 ng), the same
 * for every block of one pass (dot4's zc). */
TL_INLINE int32_t tl_zc(const int16_t *x, int ng)
{
    int32_t s = 0;
#ifdef TL_SIMD
    const int16_t *xend = x + 4 * ng;
    for (; x != xend; x += 4) {
        s = __smlad(ld_pair(x), 0x00010001u, s);
        s = __smlad(ld_pair(x + 2), 0x00010001u, s);
    }
    s *= -128;
#else
    (void)x;
    (void)ng;
#endif
    return s;
}

TL_INLINE tl_acc4 dot4(const uint32_t **pw, const int16_t *x, int hd, int ng, int32_t zc)
{
    tl_acc4 r;
    const uint32_t *w = *pw; /* the groups' words, then the head's (w runs straight through the block) */
    const int16_t *xh = x;
    x += hd;
#ifdef TL_SIMD
    {
        int32_t m01 = zc, m23 = zc, a1 = 0, a3 = 0;
#ifdef TL_GROUP_ASM
        uint32_t xa;
        const int16_t *xend;
        /* the odd group, then two groups per iteration (half the loop overhead); the loop end is read from memory
         * (into the free input register) so that the asm needs 11 registers: GCC at -Og cannot find 12 here */
        if (ng & 1) {
            __asm__(TL_GROUP_ASM : TL_GROUP_OPS : : TL_GROUP_CLOBBERS);
        }
        xend = x + 8 * (ng >> 1);
        if (x != xend) {
            __asm__("1:\n\t" TL_GROUP_ASM TL_GROUP_ASM "ldr %[xa], %[end]\n\tcmp %[x], %[xa]\n\tbne 1b"
                    : TL_GROUP_OPS
                    : [end] "m"(xend)
                    : TL_GROUP_CLOBBERS, "cc");
        }
#else
        const int16_t *xend;
        /* two groups per iteration (half the loop overhead), then the odd one */
        for (xend = x + 8 * (ng >> 1); x != xend;) {
            TL_GROUP();
            TL_GROUP();
        }
        if (ng & 1) {
            TL_GROUP();
        }
#endif
        /* rows 0 and 2: m - 256 a (mod 2^32; the true sum fits in int32) */
        r.a0 = (int32_t)((uint32_t)m01 - ((uint32_t)a1 << 8));
        r.a1 = a1;
        r.a2 = (int32_t)((uint32_t)m23 - ((uint32_t)a3 << 8));
        r.a3 = a3;
    }
    if (hd) { /* guarded do-while: no set-up and one test less per block */
        const uint32_t *wend = w + hd;
        do {
            uint32_t W = *w++;
            int32_t xe = *xh++, lo = (int32_t)__sxtb16(W), hi = (int32_t)sxtb16_ror8(W);
            r.a0 = __smlabb(lo, xe, r.a0);
            r.a2 = __smlatb(lo, xe, r.a2);
            r.a1 = __smlabb(hi, xe, r.a1);
            r.a3 = __smlatb(hi, xe, r.a3);
        } while (w != wend);
    }
#else
    {
        int g;
        (void)zc;
        r.a0 = r.a1 = r.a2 = r.a3 = 0;
        for (g = 0; g < ng; ++g) {
            const int8_t *b = (const int8_t *)w;
            int32_t x0 = x[0], x1 = x[1], x2 = x[2], x3 = x[3];
#define TL_U(k) ((int32_t)(uint8_t)b[k] - 128)
            r.a0 += TL_U(0) * x0 + TL_U(2) * x1 + TL_U(4) * x2 + TL_U(6) * x3;
            r.a1 += b[1] * x0 + b[3] * x1 + b[5] * x2 + b[7] * x3;
            r.a2 += TL_U(8) * x0 + TL_U(10) * x1 + TL_U(12) * x2 + TL_U(14) * x3;
            r.a3 += b[9] * x0 + b[11] * x1 + b[13] * x2 + b[15] * x3;
#undef TL_U
            x += 4;
            w += 4;
        }
    }
    for (int e = 0; e < hd; ++e) {
        const int8_t *b = (const int8_t *)(w++);
        int32_t xe = xh[e];
        r.a0 += xe * b[0];
        r.a1 += xe * b[1];
        r.a2 += xe * b[2];
        r.a3 += xe * b[3];
    }
#endif
    *pw = w;
    return r;
}

/* The words after a block's weights (export: requant_words): LSTM unit: the multiplier, then the biases of i, f,
 * c, o (int16 pairs in two words, or four int32 words); read through the weight pointer, advanced past them. */
#define TL_LSTM_Q_WORDS (sizeof(TL_LSTM_BIAS_T) == 2 ? 3 : 5)
TL_INLINE int32_t tl_bias(const uint32_t *q, int r)
{
    if (sizeof(TL_LSTM_BIAS_T) == 2) {
        uint32_t wd = q[1 + (r >> 1)];
        return (r & 1) ? (int32_t)wd >> 16 : (int32_t)(int16_t)(wd & 0xFFFFu);
    }
    return (int32_t)q[1 + r];
}

/* One LSTM time step in Q12 (x, h, z, c) with Q15 gates; gate order i, f, c, o (Keras). v: the layer's input
 * (n_in values) followed by its h (H values); hn: the new h until every unit is done. w: the layer's weight stream,
 * per unit its four rows' weights, multiplier and biases. */
static void lstm_step(const uint32_t *w, int sh, int n_in, int H, int16_t *v, int32_t *c, int16_t *hn)
{
    int K = n_in + H;
    const int16_t *T = tanh_mid();
    int32_t zc = tl_zc(v + (K & 3), K >> 2);
    int32_t *cend = c + H;
    int16_t *hp = hn;
    do {
        tl_acc4 a = dot4(&w, v, K & 3, K >> 2, zc);
        int32_t mj = (int32_t)w[0];
        int32_t i = sigmoid_q16(T, requant(a.a0, mj, sh, tl_bias(w, 0)), TL_SH);
        int32_t f = sigmoid_q16(T, requant(a.a1, mj, sh, tl_bias(w, 1)), TL_SH);
        int32_t g = tanh_q15t(T, requant(a.a2, mj, sh, tl_bias(w, 2)), TL_SH);
        int32_t o = sigmoid_q16(T, requant(a.a3, mj, sh, tl_bias(w, 3)), TL_SH);
        /* c = rnd(f c >> 16) + rnd(i g >> 19), h = rnd(o tanh(c) >> 19) (Q16 gates, Q15 tanh, Q12 c and h), each
         * product the rounded high word of (gate << (32 - s)) * x (f: << 15 with 2c) - exact: gates < 2^16 */
        int32_t cj = mul_hi_round(f << 15, *c * 2) + mul_hi_round(i << (32 - TL_GS), g);
        w += TL_LSTM_Q_WORDS;
        *c++ = cj;
        *hp++ = (int16_t)mul_hi_round(o << (32 - TL_GS), tanh_q15t(T, cj, TL_SH));
    } while (c != cend);
    memcpy(v + n_in, hn, (size_t)H * sizeof *hn);
}

/* y = act(requant(x.W) + b) in blocks of four rows; hidden outputs (y) saturate to the int16 range (never
 * reached: worst-case formats); the last layer's outputs go to out (int32, unsaturated). */
static void dense(const uint32_t *w, int sh, int n_in, int n_out, const int16_t *x, int16_t *y, int32_t *out,
                  int relu, int last)
{
    int j, r;
    int32_t zc = tl_zc(x + (n_in & 3), n_in >> 2);
    for (j = 0; j < n_out; j += 4) {
        tl_acc4 a = dot4(&w, x, n_in & 3, n_in >> 2, zc);
        int32_t acc[4];
        acc[0] = a.a0;
        acc[1] = a.a1;
        acc[2] = a.a2;
        acc[3] = a.a3;
        /* the last layer's rows apart (fewer flags reloaded per row) */
        if (last) {
            for (r = 0; r < 4 && j + r < n_out; ++r) {
                out[j + r] = requant(acc[r], (int32_t)w[2 * r], sh, (int32_t)w[2 * r + 1]);
            }
        } else {
            for (r = 0; r < 4 && j + r < n_out; ++r) {
                int32_t v = requant(acc[r], (int32_t)w[2 * r], sh, (int32_t)w[2 * r + 1]);
#ifdef TL_SIMD
                if (relu) {
                    y[j + r] = (int16_t)__usat(v, 15); /* relu and the int16 bound in one */
                    continue;
                }
#endif
                if (relu && v < 0) v = 0;
                if (v > 32767) v = 32767;
                if (v < -32767) v = -32767;
                y[j + r] = (int16_t)v;
            }
        }
        w += 8;
    }
}

/* One LSTM layer's step; `in` ends as the last LSTM layer's h (the dense head's input). */
#define TL_LSTM_STEP(k, n_in, H, voff, coff, sh)                                                              \
    lstm_step(lstm##k##_w.w, (sh), (n_in), (H), s->v + (voff), s->c + (coff), hn);
#define TL_LAST_H(k, n_in, H, voff, coff, sh) in = s->v + (voff) + (n_in);
#define TL_DENSE(k, n_in, n_out, relu, last, off, sh)                                                         \
    dense(dense##k##_w.w, (sh), (n_in), (n_out), in, d + (off), q, (relu), (last));                         \
    in = d + (off);

/* One time step of every LSTM layer: raw inputs x[F] to Q12 with scaler row `row` (feature_per_step: one row per
 * step; window layout: one row per feature column). Not inlined: tinylstm_predict_q and tinylstm_step_q share it
 * (about 250 B of flash for one call per step). */
#if defined(__GNUC__)
__attribute__((noinline))
#endif
static void tl_lstm_layers(tinylstm_state *s, const float *x, int row)
{
    int16_t hn[TINYLSTM_HN_SIZE];
    int f;
    for (f = 0; f < TINYLSTM_STEP_INPUTS; ++f) {
        /* float in: t = raw - mean, p = t * k (no multiply-add pair: FMA contraction cannot change the bits) */
        float dd = x[f] - x_mean[row * TINYLSTM_STEP_INPUTS + f];
        float p = dd * x_k[row * TINYLSTM_STEP_INPUTS + f];
        int32_t v;
        if (!(p >= -1073741824.0f)) p = -1073741824.0f; /* also NaN */
        if (p > 1073741824.0f) p = 1073741824.0f;
        v = rshift_round((int32_t)p, TL_INPUT_EXTRA_BITS);
        if (v > 32767) v = 32767;
        if (v < -32767) v = -32767;
        s->v[f] = (int16_t)v;
    }
    TINYLSTM_LSTM_LAYERS(TL_LSTM_STEP)
}

/* The dense head on the last LSTM layer's h: the K int32 network outputs (Q TINYLSTM_OUTPUT_FRAC_BITS). */
static void tl_head_q(const tinylstm_state *s, int32_t q[TINYLSTM_NUM_OUTPUTS])
{
    int16_t d[TINYLSTM_D_SIZE];
    const int16_t *in = s->v;
    TINYLSTM_LSTM_LAYERS(TL_LAST_H)
    TINYLSTM_DENSE_LAYERS(TL_DENSE)
    (void)in;
}

/* int32 outputs -> user units: the target (regression) or softmax probabilities (float32, tl_act.h's exp; the
 * golden model mirrors every operation: tinylstm.intgolden.outputs). */
static void tl_outputs(const int32_t q[TINYLSTM_NUM_OUTPUTS], float y[TINYLSTM_NUM_OUTPUTS])
{
    int k;
#if TINYLSTM_IS_CLASSIFIER
    int32_t m = q[0];
    float sum = 0.0f;
    for (k = 1; k < TINYLSTM_NUM_OUTPUTS; ++k) {
        m = q[k] > m ? q[k] : m;
    }
    for (k = 0; k < TINYLSTM_NUM_OUTPUTS; ++k) {
        y[k] = tl_exp((float)(q[k] - m) * TL_Q_UNIT); /* q - m <= 0, exact scaling by 2^-frac */
        sum += y[k];
    }
    for (k = 0; k < TINYLSTM_NUM_OUTPUTS; ++k) {
        y[k] = y[k] / sum;
    }
#else
    for (k = 0; k < TINYLSTM_NUM_OUTPUTS; ++k) {
        float v = (float)q[k] * TL_Y_K;
        y[k] = v + TL_Y_MEAN;
    }
#endif
}

void tinylstm_reset(tinylstm_state *s)
{
    memset(s, 0, sizeof *s); /* v, c and steps (all-zero bits are 0 for integers): one memset call */
}

int tinylstm_predict_q(const float x[TINYLSTM_NUM_INPUTS], int32_t q[TINYLSTM_NUM_OUTPUTS])
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
    tl_head_q(&s, q);
    return 0;
}

int tinylstm_step_q(tinylstm_state *s, const float x[TINYLSTM_STEP_INPUTS], int32_t q[TINYLSTM_NUM_OUTPUTS])
{
    if (tl_nonfinite(x, TINYLSTM_STEP_INPUTS)) {
        return -1;
    }
    tl_lstm_layers(s, x, TINYLSTM_SCALER_ROWS == 1 ? 0 : (int)(s->steps % TINYLSTM_SCALER_ROWS));
    if (s->steps < 0xFFFFFFFFu) {
        s->steps += 1;
    }
    tl_head_q(s, q);
    return 0;
}

int tinylstm_predict(const float x[TINYLSTM_NUM_INPUTS], float y[TINYLSTM_NUM_OUTPUTS])
{
    int32_t q[TINYLSTM_NUM_OUTPUTS];
    int rc = tinylstm_predict_q(x, q);
    if (rc == 0) {
        tl_outputs(q, y);
    }
    return rc;
}

int tinylstm_step(tinylstm_state *s, const float x[TINYLSTM_STEP_INPUTS], float y[TINYLSTM_NUM_OUTPUTS])
{
    int32_t q[TINYLSTM_NUM_OUTPUTS];
    int rc = tinylstm_step_q(s, x, q);
    if (rc == 0) {
        tl_outputs(q, y);
    }
    return rc;
}

int tinylstm_argmax(const float y[TINYLSTM_NUM_OUTPUTS])
{
    int k, best = 0;
    for (k = 1; k < TINYLSTM_NUM_OUTPUTS; ++k) {
        best = y[k] > y[best] ? k : best;
    }
    return best;
}
