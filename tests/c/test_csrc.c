/*
 * test_csrc.c - C unit tests of the hand-written engine sources in tinylstm/csrc (as emlearn's test/test_net.c).
 *
 * Built by tests/test_csrc.py with -std=c99 -Wall -Wextra -Werror -pedantic against a library that
 * `tinylstm export c` generated for a tiny network, once per engine:
 *   (default)        the float engine (tinylstm_float.c, tl_act.h): activations, matvec, dense, one LSTM step
 *   -DTL_TEST_INT8   the int8 engine (tinylstm_int8.c): rounding shifts, requantisation, tanh/sigmoid table, matvec
 * The engine source is included, so its static kernels are testable directly.
 *
 *   test_csrc NAME     run one test (exit 0: pass, 1: fail, 2: unknown name)
 *   test_csrc          run all
 *   test_csrc dump-act print "x y_exp y_sigmoid y_tanh" as float bits (hex) over a sweep (float build only)
 */
#include <math.h>
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
    double ws = 0.0, wt = 0.0;
    long k;
    for (k = -200000; k <= 200000; ++k) {
        float x = (float)k * 1e-4f;
        double es = fabs((double)tl_sigmoid(x) - 1.0 / (1.0 + exp(-(double)x)));
        double et = fabs((double)tl_tanh(x) - tanh((double)x));
        ws = es > ws ? es : ws;
        wt = et > wt ? et : wt;
        if (tl_tanh(-x) != -tl_tanh(x)) return 1; /* odd, exactly */
    }
    CHECK(ws <= ACT_MAX_ABS);
    CHECK(wt <= ACT_MAX_ABS);
    CHECK(tl_sigmoid(0.0f) == 0.5f);
    CHECK(tl_tanh(0.0f) == 0.0f);
    CHECK(tl_tanh(50.0f) == 1.0f && tl_sigmoid(-100.0f) >= 0.0f && tl_sigmoid(100.0f) == 1.0f);
    return 0;
}

static int test_matvec_known(void)
{
    /* z_j = b_j + x0 W0j + x1 W1j + h0 U0j + h1 U1j: exact in float */
    static const float W[6] = {1, 2, 3, 4, 5, 6};
    static const float U[6] = {-1, 0.5f, 2, 3, -2, 1};
    static const float b[3] = {0.5f, -1, 0};
    const float x[2] = {1, 2}, h[2] = {2, 1};
    float z[3];
    matvec(W, U, b, 2, 2, 3, x, h, z);
    CHECK(z[0] == 10.5f && z[1] == 10.0f && z[2] == 20.0f);
    matvec(W, 0, b, 2, 0, 3, x, 0, z); /* no recurrent part */
    CHECK(z[0] == 9.5f && z[1] == 11.0f && z[2] == 15.0f);
    return 0;
}

static int test_dense_relu(void)
{
    static const float W[2] = {1, -1};
    static const float b[2] = {0, 1.5f};
    const float x[1] = {2};
    float y[2];
    dense(W, b, 1, 2, x, y, 1);
    CHECK(y[0] == 2.0f && y[1] == 0.0f);
    dense(W, b, 1, 2, x, y, 0);
    CHECK(y[1] == -0.5f);
    return 0;
}

static int test_lstm_step_one_unit(void)
{
    /* H = 1, no weights: the gates are the activations of the bias; c = f c + i g, h = o tanh(c) */
    static const float W[4] = {0, 0, 0, 0}, U[4] = {0, 0, 0, 0};
    static const float b[4] = {0.7f, -0.4f, 0.9f, 1.3f};
    const float x[1] = {0};
    float h[1] = {0}, c[1] = {0.5f}, z[4];
    double si = 1 / (1 + exp(-0.7)), sf = 1 / (1 + exp(0.4)), g = tanh(0.9), so = 1 / (1 + exp(-1.3));
    double c_want = sf * 0.5 + si * g;
    lstm_step(W, U, b, 1, 1, x, h, c, z);
    CHECK(fabs(c[0] - c_want) < 1e-6);
    CHECK(fabs(h[0] - so * tanh(c_want)) < 1e-6);
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
    return 0;
}

static int test_tanh_table_interpolation(void)
{
    CHECK(tanh_q15(0, 12) == 0);
    CHECK(tanh_q15(4096, 12) == 24956 && tanh_q15(-4096, 12) == -24956); /* table[32] = round(32768 tanh 1) */
    CHECK(tanh_q15(8192, 13) == 24956);                                  /* the same 1.0 in Q13 */
    CHECK(tanh_q15(64, 12) == 512);     /* halfway between table[0] = 0 and table[1] = 1024 */
    CHECK(tanh_q15(2085, 12) == 15372); /* idx 16, fraction 37/128: interpolated */
    CHECK(tanh_q15(2003, 12) == 14856); /* interpolation rounds half up (truncation: 14855) */
    CHECK(tanh_q15(6 * 4096, 12) == 32767 && tanh_q15(100000, 12) == 32767 && tanh_q15(-100000, 12) == -32767);
    return 0;
}

static int test_sigmoid_q15(void)
{
    CHECK(sigmoid_q15(0, 12) == 16384);
    CHECK(sigmoid_q15(4096, 12) == 23955 && sigmoid_q15(-4096, 12) == 8812);
    return 0;
}

static int test_matvec_q_known(void)
{
    static const int8_t W[6] = {1, -2, 3, 4, 5, -6};
    static const int8_t U[6] = {-1, 2, 0, 3, -1, 4};
    const int32_t x[2] = {100, -3}, h[2] = {7, -2};
    int32_t acc[3];
    matvec_q(W, U, 2, 2, 3, x, h, acc);
    CHECK(acc[0] == 75 && acc[1] == -199 && acc[2] == 310);
    matvec_q(W, 0, 2, 0, 3, x, 0, acc);
    CHECK(acc[0] == 88 && acc[1] == -215 && acc[2] == 318);
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
