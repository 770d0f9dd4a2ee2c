/*
 * test_csrc.c - C unit tests of the hand-written engine sources in tinylstm/csrc (as emlearn's test/test_net.c).
 *
 * Built by tests/test_csrc.py with -std=c99 -Wall -Wextra -Werror -pedantic against a library that
 * `tinylstm export c` generated for a tiny network, once per engine:
 *   (default)        the float engine (tinylstm_float.c, tl_act.h): activations, the four-row kernel, dense, one
 *                    LSTM step
 *   -DTL_TEST_INT8   the int8 engine (tinylstm_int8.c): rounding shifts, requantisation, tanh/sigmoid table, the
 *                    four-row kernel over packed weights
 * (on the host: the portable C paths; the Cortex-M4 paths are held to the same results by tests/test_c_engine.py)
 * The engine source is included, so its static kernels are testable directly.
 *
 *   test_csrc NAME     run one test (exit 0: pass, 1: fail, 2: unknown name)
 *   test_csrc          run all
 *   test_csrc dump-act print "x y_exp y_sigmoid y_tanh" as float bits (hex) over a sweep (float build only)
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#ifdef TL_TEST_INT8
#include "tinylstm_int8.c"
#else
#include "tinylstm_float.c"
#endif

#define CHECK(cond)                                                                                           \
    do {                                                                                                      \
        if (!(cond)) {                                                                                        \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);                          \
            return 1;                                                                                         \
        }                                                                                                     \
    } while (0)

typedef struct {
    const char *name;
    int (*fn)(void);
} test_case;

#ifndef TL_TEST_INT8
/* ---------------------------------------------------------------------------------------- float engine */
#define EXP_MAX_REL 1.2e-7   /* ~1 ulp: relative error of tl_exp against double exp over [-87, 88] */
#define ACT_MAX_ABS 3e-7     /* sigmoid/tanh against double libm over [-20, 20] (stated in docs/cengine.md) */

static int test_exp_relative_error(void)
{
    double worst = 0.0;
    long k;
    for (k = -87000; k <= 88000; ++k) {
        float x = (float)((double)k * 1e-3); /* >= -87 exactly: below it the clamp is the answer */
        double want = exp((double)x);
        double rel = fabs((double)tl_exp(x) - want) / want;
        worst = rel > worst ? rel : worst;
    }
    CHECK(worst <= EXP_MAX_REL);
    CHECK(tl_exp(0.0f) == 1.0f);
    CHECK(tl_exp(1000.0f) == tl_exp(88.0f)); /* clamped */
    CHECK(tl_exp(-1000.0f) == tl_exp(-87.0f));
    CHECK(tl_exp(-87.0f) > 0.0f); /* still a normal number: no flush to zero */
    return 0;
}

static int test_sigmoid_tanh_vs_libm(void)
{
    double ws = 0.0, wt = 0.0, es_eng = 0.0, et_eng = 0.0;
    long k;
    for (k = -200000; k <= 200000; ++k) {
        float x = (float)k * 1e-4f;
        double s_want = 1.0 / (1.0 + exp(-(double)x)), t_want = tanh((double)x);
        double es = fabs((double)tl_sigmoid(x) - s_want);
        double et = fabs((double)tl_tanh(x) - t_want);
        ws = es > ws ? es : ws;
        wt = et > wt ? et : wt;
        if (tl_tanh(-x) != -tl_tanh(x)) return 1; /* odd, exactly */
        /* and the engine's own (f_sigmoid, f_tanh: fused multiply-adds, saturated exponent, no clamp) */
        es = fabs((double)f_sigmoid(x) - s_want);
        et = fabs((double)f_tanh(x) - t_want);
        es_eng = es > es_eng ? es : es_eng;
        et_eng = et > et_eng ? et : et_eng;
    }
    CHECK(ws <= ACT_MAX_ABS);
    CHECK(wt <= ACT_MAX_ABS);
    CHECK(es_eng <= ACT_MAX_ABS);
    CHECK(et_eng <= ACT_MAX_ABS);
    CHECK(tl_sigmoid(0.0f) == 0.5f && f_sigmoid(0.0f) == 0.5f);
    CHECK(tl_tanh(0.0f) == 0.0f && f_tanh(0.0f) == 0.0f);
    CHECK(tl_tanh(50.0f) == 1.0f && tl_sigmoid(-100.0f) >= 0.0f && tl_sigmoid(100.0f) == 1.0f);
    CHECK(f_tanh(50.0f) == 1.0f && f_sigmoid(-100.0f) == 0.0f && f_sigmoid(100.0f) == 1.0f);
    CHECK(f_sigmoid(-1e9f) == 0.0f && f_sigmoid(1e9f) == 1.0f && f_tanh(-1e9f) == -1.0f); /* saturated exponent */
    return 0;
}

static int test_matvec_known(void)
{
    /* z_j = b_j + x0 W0j + x1 W1j + h0 U0j + h1 U1j: exact in float. Kernel layout (pack_float_rows): the block's
     * four biases (row 3: padding), then per input [x0, x1, h0, h1] the four weights. */
    static const float P[4 + 4 * 4] = {0.5f, -1, 0, 0, /* biases */
                                       1, 2, 3, 0, 4, 5, 6, 0,         /* W */
                                       -1, 0.5f, 2, 0, 3, -2, 1, 0};   /* U */
    static const float P2[4 + 2 * 4] = {0.5f, -1, 0, 0, 1, 2, 3, 0, 4, 5, 6, 0};
    const float v[4] = {1, 2, 2, 1}; /* x, then h */
    const float *w = P;
    tl_f4 z = dot4f(&w, v, 4);
    CHECK(z.a0 == 10.5f && z.a1 == 10.0f && z.a2 == 20.0f && z.a3 == 0.0f);
    CHECK(w == P + 4 + 4 * 4); /* advanced past the block */
    w = P2;
    z = dot4f(&w, v, 2); /* no recurrent part (odd and even input counts both run) */
    CHECK(z.a0 == 9.5f && z.a1 == 11.0f && z.a2 == 15.0f);
    w = P2;
    z = dot4f(&w, v, 1);
    CHECK(z.a0 == 1.5f && z.a1 == 1.0f && z.a2 == 3.0f);
    return 0;
}

static int test_dense_relu(void)
{
    static const float P[8] = {0, 1.5f, 0, 0, 1, -1, 0, 0}; /* biases {0, 1.5}, W = {1, -1} (padded to 4 rows) */
    const float x[1] = {2};
    float y[4];
    CHECK(dense(P, 1, 2, x, y, 1) == 2.0f);
    CHECK(y[0] == 2.0f && y[1] == 0.0f);
    dense(P, 1, 2, x, y, 0);
    CHECK(y[1] == -0.5f);
    return 0;
}

static int test_lstm_step_one_unit(void)
{
    /* H = 1, no weights: the gates are the activations of the bias; c = f c + i g, h = o tanh(c) */
    static const float P[4 + 2 * 4] = {0.7f, -0.4f, 0.9f, 1.3f, 0, 0, 0, 0, 0, 0, 0, 0};
    float v[2] = {0, 0}, c[1] = {0.5f}, hn[1];
    double si = 1 / (1 + exp(-0.7)), sf = 1 / (1 + exp(0.4)), g = tanh(0.9), so = 1 / (1 + exp(-1.3));
    double c_want = sf * 0.5 + si * g;
    lstm_step(P, 1, 1, v, c, hn);
    CHECK(fabs(c[0] - c_want) < 1e-6);
    CHECK(fabs(v[1] - so * tanh(c_want)) < 1e-6); /* the new h, copied behind the input */
    return 0;
}

static int test_fmaf_exact(void)
{
    /* tl_fmaf (the engine's fused multiply-add: hardware, or the exact emulation) == libm's correctly rounded fmaf,
     * over random operands whose product and addend cancel (the hard cases for double rounding) and plain ones */
    uint32_t st = 12345u;
    long k;
    for (k = 0; k < 2000000; ++k) {
        float a, b, c;
        uint32_t u;
        st = st * 1664525u + 1013904223u;
        u = (st & 0x807FFFFFu) | (0x3E000000u + ((st >> 8) & 0x01800000u)); /* |a| in [2^-3, 2^1) */
        memcpy(&a, &u, sizeof a);
        st = st * 1664525u + 1013904223u;
        u = (st & 0x807FFFFFu) | 0x3F000000u;
        memcpy(&b, &u, sizeof b);
        st = st * 1664525u + 1013904223u;
        c = (k & 1) ? -a * b * (1.0f + (float)(st >> 20) * 1e-7f) : (float)(int32_t)st * 1e-9f;
        if (tl_fmaf(a, b, c) != fmaf(a, b, c)) return 1;
    }
    CHECK(tl_fmaf(0.1f, 10.0f, -1.0f) == fmaf(0.1f, 10.0f, -1.0f));
    {
        /* a double-rounding trap: (1 - 2^-23)(2^-24 (1 + 2^-23)) + (1 + 2^-23) = 1 + 2^-23 + 2^-24 - 2^-70 lies just
         * below a float midpoint; rounded to double first it lands on it and ties-to-even goes up */
        const float a = 1.0f - 1.0f / 8388608.0f, b = (1.0f + 1.0f / 8388608.0f) / 16777216.0f;
        const float c = 1.0f + 1.0f / 8388608.0f;
        CHECK(fmaf(a, b, c) == c);
        CHECK(tl_fmaf(a, b, c) == c && tl_fmaf(-a, b, -c) == -c && tl_fmaf(a, -b, -c) == -c);
    }
    return 0;
}

static void dump_act(void)
{
    long k;
    for (k = -100000; k <= 100000; ++k) {
        float x = (float)k * 1e-3f, v[4];
        uint32_t u[4];
        int j;
        v[0] = x;
        v[1] = tl_exp(x);
        v[2] = tl_sigmoid(x);
        v[3] = tl_tanh(x);
        for (j = 0; j < 4; ++j) memcpy(&u[j], &v[j], sizeof u[j]);
        printf("%08lx %08lx %08lx %08lx\n", (unsigned long)u[0], (unsigned long)u[1], (unsigned long)u[2],
               (unsigned long)u[3]);
    }
}

static const test_case tests[] = {
    {"exp_relative_error", test_exp_relative_error},
    {"sigmoid_tanh_vs_libm", test_sigmoid_tanh_vs_libm},
    {"matvec_known", test_matvec_known},
    {"dense_relu", test_dense_relu},
    {"lstm_step_one_unit", test_lstm_step_one_unit},
    {"fmaf_exact", test_fmaf_exact},
};
#else
/* ----------------------------------------------------------------------------------------- int8 engine */
static int test_rshift_round(void)
{
    CHECK(rshift_round(5, 1) == 3 && rshift_round(4, 1) == 2);
    CHECK(rshift_round(-5, 1) == -2 && rshift_round(-3, 1) == -1); /* half rounds up */
    CHECK(rshift_round(1000, 4) == 63);
    CHECK(rshift_round64((int64_t)3 << 40, 40) == 3);
    return 0;
}

static int test_requant(void)
{
    CHECK(requant(1000, (int32_t)1 << 29, 30, 7) == 507); /* (1000 * 2^29 + 2^29) >> 30 = 500, + 7 */
    CHECK(requant(-1000, (int32_t)1 << 29, 30, 0) == -500);
    CHECK(requant(1 << 30, 1 << 30, 1, 3) == (1 << 30) + 3); /* clamped to 2^30 before the bias */
    CHECK(requant(-(1 << 30), 1 << 30, 1, 0) == -(1 << 30));
    /* shift 32 (SMMLAR on a Cortex-M4): the rounded high word of acc * m, plus the bias */
    CHECK(requant(1001, (int32_t)1 << 30, 32, 7) == 257); /* 250.25 -> 250 */
    CHECK(requant(1002, (int32_t)1 << 30, 32, 7) == 258); /* 250.5 rounds up */
    CHECK(requant(-1002, (int32_t)1 << 30, 32, 0) == -250);
    CHECK(requant(INT32_MAX, INT32_MAX, 32, 0) == (1 << 30) - 1); /* cannot leave +-2^30: no clamp needed */
    return 0;
}

/* the tests name the Q format (frac) of the argument, the engine the table shift (frac - TL_LUT_STEP_BITS) */
#define TQ(a, frac) tanh_q15((a), (frac)-TL_LUT_STEP_BITS)
#define SQ(z, frac) sigmoid_q15((z), (frac)-TL_LUT_STEP_BITS)

static int test_tanh_table_interpolation(void)
{
    CHECK(TQ(0, 12) == 0);
    CHECK(TQ(4096, 12) == 24956 && TQ(-4096, 12) == -24956); /* table[16] = round(32768 tanh 1) (step 1/16) */
    CHECK(TQ(8192, 13) == 24956);                            /* the same 1.0 in Q13 */
    CHECK(TQ(128, 12) == 1023);   /* halfway between table[0] = 0 and table[1] = 2045 (1022.5 rounds up) */
    CHECK(TQ(2050, 12) == 15155); /* idx 8, fraction 2/256: 15143 + 1563 * 2 / 256 */
    CHECK(TQ(2085, 12) == 15369); /* idx 8, fraction 37/256: interpolation rounds half up (truncation: 15368) */
    CHECK(TQ(6 * 4096, 12) == 32767 && TQ(100000, 12) == 32767 && TQ(-100000, 12) == -32767);
    CHECK(TQ(-128, 12) == -1022); /* from the entry below (floor index): table[-1] = -2045 .. table[0] = 0 */
    return 0;
}

static int test_sigmoid_q15(void)
{
    CHECK(SQ(0, 12) == 16384);
    CHECK(SQ(4096, 12) == 23955 && SQ(-4096, 12) == 8812);
    CHECK(sigmoid_q16(tanh_mid(), 0, TL_SH) == 32768 && sigmoid_q16(tanh_mid(), 4096, TL_SH) == 47911);
    return 0;
}

static int test_matvec_q_known(void)
{
    /* acc_r = sum_k v_k W[k][r] over v = [x0, x1, h0, h1] = {100, -3, 7, -2}; W = {1, -2, 3}, {4, 5, -6} (x),
     * U = {-1, 2, 0}, {3, -1, 4} (h). Kernel layout (pack_rows): K = 4 is one group of four words, rows (0, 1) x
     * inputs (k0, k1), (0, 1) x (k2, k3), (2, 3) x (k0, k1), (2, 3) x (k2, k3), each with the bytes u(ra, ka),
     * w(rb, ka), u(ra, kb), w(rb, kb), u = w + 128 as a byte (129 -> -127); row 3 is padding (u = 128 -> -128). */
    static const union {
        int8_t b[16];
        uint32_t w[4];
    } G = {{-127, -2, -124, 5, 127, 2, -125, -1, -125, 0, 122, 0, -128, 0, -124, 0}};
    /* K = 2 (no recurrent part): two head inputs, one word each with the bytes of rows 0..3 */
    static const union {
        int8_t b[8];
        uint32_t w[2];
    } Hd = {{1, -2, 3, 0, 4, 5, -6, 0}};
    const int16_t v[4] = {100, -3, 7, -2};
    const uint32_t *w = G.w;
    tl_acc4 a = dot4(&w, v, 0, 1, tl_zc(v, 1));
    CHECK(a.a0 == 75 && a.a1 == -199 && a.a2 == 310 && a.a3 == 0);
    CHECK(w == G.w + 4);
    w = Hd.w;
    a = dot4(&w, v, 2, 0, tl_zc(v + 2, 0));
    CHECK(a.a0 == 88 && a.a1 == -215 && a.a2 == 318);
    return 0;
}

static const test_case tests[] = {
    {"rshift_round", test_rshift_round},
    {"requant", test_requant},
    {"tanh_table_interpolation", test_tanh_table_interpolation},
    {"sigmoid_q15", test_sigmoid_q15},
    {"matvec_q_known", test_matvec_q_known},
};
#endif

int main(int argc, char **argv)
{
    size_t k, n = sizeof tests / sizeof tests[0];
    int failed = 0;
#ifndef TL_TEST_INT8
    if (argc == 2 && strcmp(argv[1], "dump-act") == 0) {
        dump_act();
        return 0;
    }
#endif
    for (k = 0; k < n; ++k) {
        if (argc == 2 && strcmp(argv[1], tests[k].name) != 0) continue;
        if (tests[k].fn() != 0) {
            printf("FAIL %s\n", tests[k].name);
            failed = 1;
        } else {
            printf("PASS %s\n", tests[k].name);
        }
        if (argc == 2) return failed;
    }
    if (argc == 2) {
        fprintf(stderr, "unknown test %s\n", argv[1]);
        return 2;
    }
    return failed;
}
