/*
 * softfloat_check.c - host program: lx106_rt.c (compiled with -DLX106_RT_PREFIX=rt_) against the host's FPU (SSE2:
 * single and double precision, conversions) and 64-bit multiply, bit for bit (NaNs: NaN-ness only). Run by tests/test_xtensa.py; hand-written, not generated.
 * Usage: softfloat_check N  -> N pseudo-random operand pairs (an xorshift stream, seed fixed) drawn so that every
 * class (zero, subnormal, normal, near-overflow, infinity, NaN) and every exponent gap occurs, plus edge cases;
 * prints "checked <count> mismatches <count>" and the first mismatches, exit status 0 when none.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

float rt_addsf3(float a, float b);
float rt_subsf3(float a, float b);
float rt_mulsf3(float a, float b);
float rt_floatsisf(int32_t a);
int64_t rt_muldi3(int64_t a, int64_t b);
double rt_adddf3(double a, double b);
double rt_subdf3(double a, double b);
double rt_muldf3(double a, double b);
double rt_extendsfdf2(float a);
float rt_truncdfsf2(double a);

static uint64_t state = 0x9E3779B97F4A7C15ull;

static uint64_t next(void)
{
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
}

static uint32_t bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static float flt(uint32_t u)
{
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* A float bit pattern: an exponent picked from a few classes, a fraction with runs of ones/zeros. */
static uint32_t operand(void)
{
    uint64_t r = next();
    uint32_t sign = (uint32_t)(r & 1) << 31, exp, frac = (uint32_t)(r >> 8) & 0x7FFFFF;
    switch ((r >> 1) & 7) {
    case 0: exp = 0; break;                                  /* zero / subnormal */
    case 1: exp = 0xFF; break;                               /* inf / NaN */
    case 2: exp = 0xFE - ((r >> 40) & 3); break;             /* near overflow */
    case 3: exp = 1 + ((r >> 40) & 3); break;                /* near underflow */
    default: exp = 100 + (uint32_t)((r >> 40) % 56); break;  /* ordinary, gaps 0..55 */
    }
    if (((r >> 4) & 3) == 0) frac &= 0x7F0000;               /* short fractions: exact and tie cases */
    if (((r >> 6) & 3) == 0) frac |= 0x00FFFF;
    if (((r >> 50) & 15) == 0) frac = 0;
    return sign | exp << 23 | frac;
}

/* A double bit pattern, drawn like operand(): classes of exponents, fractions with runs. */
static uint64_t operand64(void)
{
    uint64_t r = next(), sign = (r & 1) << 63, exp, frac = next() & 0x000FFFFFFFFFFFFFull;
    switch ((r >> 1) & 7) {
    case 0: exp = 0; break;
    case 1: exp = 0x7FF; break;
    case 2: exp = 0x7FE - ((r >> 40) & 3); break;
    case 3: exp = 1 + ((r >> 40) & 3); break;
    case 4: exp = 0x380 - (r >> 40) % 60; break;                /* float's subnormal range and below */
    default: exp = 990 + (uint64_t)((r >> 40) % 70); break;     /* ordinary, gaps 0..69 */
    }
    if (((r >> 4) & 3) == 0) frac &= 0x000FFFFFE0000000ull;     /* exact in float / tie cases */
    if (((r >> 6) & 3) == 0) frac |= 0x000000001FFFFFFFull;
    if (((r >> 8) & 7) == 0) frac = (frac & 0x000FFFFFE0000000ull) | 0x0000000010000000ull; /* float ties */
    if (((r >> 50) & 15) == 0) frac = 0;
    return sign | exp << 52 | frac;
}

static uint64_t bits64(double d)
{
    uint64_t u;
    memcpy(&u, &d, 8);
    return u;
}

static double dbl(uint64_t u)
{
    double d;
    memcpy(&d, &u, 8);
    return d;
}

static long mismatches;

static void expect64(const char *op, uint64_t a, uint64_t b, uint64_t got, uint64_t want)
{
    int got_nan = (got & ~(1ull << 63)) > 0x7FF0000000000000ull, want_nan = (want & ~(1ull << 63)) > 0x7FF0000000000000ull;
    if (got_nan && want_nan) return;
    if (got != want) {
        if (mismatches < 10) printf("%s %016llx %016llx: got %016llx want %016llx\n", op, (unsigned long long)a,
                                    (unsigned long long)b, (unsigned long long)got, (unsigned long long)want);
        ++mismatches;
    }
}

static void check_pair64(uint64_t a, uint64_t b)
{
    volatile double da = dbl(a), db = dbl(b);
    expect64("dadd", a, b, bits64(rt_adddf3(da, db)), bits64(da + db));
    expect64("dsub", a, b, bits64(rt_subdf3(da, db)), bits64(da - db));
    expect64("dmul", a, b, bits64(rt_muldf3(da, db)), bits64(da * db));
}

static void expect(const char *op, uint32_t a, uint32_t b, uint32_t got, uint32_t want)
{
    int got_nan = (got & 0x7FFFFFFF) > 0x7F800000, want_nan = (want & 0x7FFFFFFF) > 0x7F800000;
    if (got_nan && want_nan) return;
    if (got != want) {
        if (mismatches < 10) printf("%s %08x %08x: got %08x want %08x\n", op, a, b, got, want);
        ++mismatches;
    }
}

static void check_pair(uint32_t a, uint32_t b)
{
    volatile float fa = flt(a), fb = flt(b);
    expect("add", a, b, bits(rt_addsf3(fa, fb)), bits(fa + fb));
    expect("sub", a, b, bits(rt_subsf3(fa, fb)), bits(fa - fb));
    expect("mul", a, b, bits(rt_mulsf3(fa, fb)), bits(fa * fb));
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 1000000, i, checked = 0;
    static const uint32_t edge[] = {0x00000000, 0x80000000, 0x00000001, 0x80000001, 0x007FFFFF, 0x00800000,
                                    0x3F800000, 0xBF800000, 0x3F800001, 0x3FFFFFFF, 0x7F7FFFFF, 0xFF7FFFFF,
                                    0x7F800000, 0xFF800000, 0x7FC00000, 0x7F800001, 0x33800000, 0x34000000,
                                    0x4B000000, 0x4B7FFFFF, 0x00400000, 0x3F000000};
    size_t ne = sizeof edge / sizeof edge[0], x, y;
    for (x = 0; x < ne; ++x) {
        for (y = 0; y < ne; ++y) {
            check_pair(edge[x], edge[y]);
            ++checked;
        }
    }
    for (i = 0; i < n; ++i) {
        uint32_t a = operand(), b = operand();
        check_pair(a, b);
        if ((i & 3) == 0) { /* same exponent or one apart: cancellation */
            b = (b & 0x807FFFFF) | (a & 0x7F800000);
            check_pair(a, b ^ 0x80000000u);
            check_pair(a, (b ^ 0x80000000u) + 0x00800000u);
        }
        {
            volatile int32_t k = (int32_t)(uint32_t)next();
            volatile int32_t s = k >> (next() & 31);
            expect("i2f", (uint32_t)k, 0, bits(rt_floatsisf(k)), bits((float)k));
            expect("i2f", (uint32_t)s, 0, bits(rt_floatsisf(s)), bits((float)s));
        }
        {
            volatile int64_t p = (int64_t)next(), q = (int64_t)next() >> (next() & 63);
            int64_t want = (int64_t)((uint64_t)p * (uint64_t)q), got = rt_muldi3(p, q);
            if (got != want) {
                if (mismatches < 10) printf("muldi3 %016llx %016llx\n", (unsigned long long)p, (unsigned long long)q);
                ++mismatches;
            }
        }
        {
            uint64_t a = operand64(), b = operand64();
            volatile float f = flt(operand());
            volatile double d = dbl(a);
            check_pair64(a, b);
            if ((i & 3) == 0) {
                b = (b & 0x800FFFFFFFFFFFFFull) | (a & 0x7FF0000000000000ull);
                check_pair64(a, b ^ (1ull << 63));
            }
            expect64("f2d", bits(f), 0, bits64(rt_extendsfdf2(f)), bits64((double)f));
            expect("d2f", (uint32_t)(a >> 32), (uint32_t)a, bits(rt_truncdfsf2(d)), bits((float)d));
        }
        ++checked;
    }
    expect("i2f", 0x80000000u, 0, bits(rt_floatsisf(INT32_MIN)), bits((float)INT32_MIN));
    expect("i2f", 0x7FFFFFFFu, 0, bits(rt_floatsisf(INT32_MAX)), bits((float)INT32_MAX));
    printf("checked %ld mismatches %ld\n", checked, mismatches);
    return mismatches != 0;
}
