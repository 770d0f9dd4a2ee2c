/*
 * lx106_rt.c - the libgcc helpers the tinylstm C engines call that Debian's libgcc for xtensa-lx106 leaves out
 * (an ESP8266 has them in its ROM): IEEE-754 single and double precision add, subtract, multiply, int32 -> float
 * and float <-> double with round-to-nearest-even (subnormals, infinities and NaNs included; a NaN result is
 * quiet), and the 64-bit multiply. Hand-written after the algorithms of Berkeley SoftFloat 3 (roundPackToF32 etc.), not generated.
 * Checked against the host's FPU bit for bit by softfloat_check.c (tests/test_xtensa.py).
 *
 * Built for the LX106 the functions carry libgcc's names; with -DLX106_RT_PREFIX=name_ they are name_addsf3 etc.
 * (the host check). Only 32-bit integer operations are used (no 64-bit multiply: that is __muldi3 itself).
 */
#include <stdint.h>
#include <string.h>

#ifdef LX106_RT_PREFIX
#define RT_CAT2(a, b) a##b
#define RT_CAT(a, b) RT_CAT2(a, b)
#define RT(name) RT_CAT(LX106_RT_PREFIX, name)
#else
#define RT(name) __##name
#endif

float RT(addsf3)(float a, float b);
float RT(subsf3)(float a, float b);
float RT(mulsf3)(float a, float b);
float RT(floatsisf)(int32_t a);
int64_t RT(muldi3)(int64_t a, int64_t b);
double RT(adddf3)(double a, double b);
double RT(subdf3)(double a, double b);
double RT(muldf3)(double a, double b);
double RT(extendsfdf2)(float a);
float RT(truncdfsf2)(double a);

static uint32_t bits_of(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static float float_of(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

#define SIGN_BIT 0x80000000u
#define DEFAULT_NAN 0x7FC00000u
#define QUIET_BIT 0x00400000u

static int is_nan(uint32_t u)
{
    return (u & 0x7FFFFFFFu) > 0x7F800000u;
}

/* Leading zeros of a non-zero word (GCC emits NSAU on the LX106). */
static int clz32(uint32_t v)
{
    return __builtin_clz(v);
}

/* v >> dist with every shifted-out bit ORed into bit 0 (the sticky bit of the rounding). */
static uint32_t shift_right_jam(uint32_t v, uint32_t dist)
{
    if (dist == 0) {
        return v;
    }
    return dist < 31 ? (v >> dist) | ((v << (32 - dist)) != 0) : (v != 0);
}

/* Round and pack: sig has its leading one at bit 30 (7 bits below the 23-bit fraction) for a normal result and
 * exp is the biased exponent minus one (the leading one carries into the exponent field); exp 0 with a smaller
 * sig is a subnormal. exp < 0: the value is below the normal range (denormalised here). */
static uint32_t round_pack(uint32_t sign, int32_t exp, uint32_t sig)
{
    uint32_t round_bits = sig & 0x7Fu;
    if ((uint32_t)exp >= 0xFDu) {
        if (exp < 0) {
            sig = shift_right_jam(sig, (uint32_t)-exp);
            exp = 0;
            round_bits = sig & 0x7Fu;
        } else if (exp > 0xFD || sig + 0x40u >= 0x80000000u) {
            return sign | 0x7F800000u; /* overflow: infinity */
        }
    }
    sig = (sig + 0x40u) >> 7;
    if (round_bits == 0x40u) {
        sig &= ~1u; /* a tie: to even */
    }
    if (sig == 0) {
        exp = 0;
    }
    return sign + ((uint32_t)exp << 23) + sig; /* + : a carry out of the fraction raises the exponent */
}

static uint32_t add_bits(uint32_t ua, uint32_t ub)
{
    uint32_t ea = (ua >> 23) & 0xFFu, eb = (ub >> 23) & 0xFFu, ma, mb, sign, m;
    int32_t exp;
    if (ea == 0xFFu || eb == 0xFFu) {
        if (is_nan(ua)) return ua | QUIET_BIT;
        if (is_nan(ub)) return ub | QUIET_BIT;
        if (ea == 0xFFu && eb == 0xFFu && ((ua ^ ub) & SIGN_BIT)) return DEFAULT_NAN; /* inf - inf */
        return ea == 0xFFu ? ua : ub;
    }
    if ((ua & 0x7FFFFFFFu) < (ub & 0x7FFFFFFFu)) { /* |a| >= |b| from here on */
        uint32_t t = ua;
        ua = ub;
        ub = t;
        t = ea;
        ea = eb;
        eb = t;
    }
    sign = ua & SIGN_BIT;
    ma = ua & 0x007FFFFFu;
    mb = ub & 0x007FFFFFu;
    if (ea != 0) ma |= 0x00800000u; else ea = 1; /* a subnormal has the exponent of the smallest normal */
    if (eb != 0) mb |= 0x00800000u; else eb = 1;
    if (ma == 0) { /* both zero: -0 only for -0 + -0 (round to nearest) */
        return ua & ub & SIGN_BIT;
    }
    ma <<= 7;
    mb = shift_right_jam(mb << 7, ea - eb);
    exp = (int32_t)ea - 1;
    if (((ua ^ ub) & SIGN_BIT) == 0) {
        m = ma + mb; /* < 2^32: both < 2^31 */
        if (m >= 0x80000000u) {
            m = shift_right_jam(m, 1);
            exp += 1;
        }
    } else {
        m = ma - mb;
        if (m == 0) {
            return 0; /* x - x = +0 */
        }
        while (m < 0x40000000u && exp > 0) { /* exact: at most one sticky bit, moved up but below bit 6 */
            m <<= 1;
            exp -= 1;
        }
    }
    return round_pack(sign, exp, m);
}

float RT(addsf3)(float a, float b)
{
    return float_of(add_bits(bits_of(a), bits_of(b)));
}

float RT(subsf3)(float a, float b)
{
    return float_of(add_bits(bits_of(a), bits_of(b) ^ SIGN_BIT));
}

/* The 64-bit product of two 32-bit words from four 16 x 16 -> 32 bit products. */
static void mul32x32(uint32_t a, uint32_t b, uint32_t *hi, uint32_t *lo)
{
    uint32_t a0 = a & 0xFFFFu, a1 = a >> 16, b0 = b & 0xFFFFu, b1 = b >> 16;
    uint32_t p00 = a0 * b0, p01 = a0 * b1, p10 = a1 * b0, p11 = a1 * b1;
    uint32_t mid = (p00 >> 16) + (p01 & 0xFFFFu) + (p10 & 0xFFFFu); /* < 3 * 2^16 */
    *lo = (mid << 16) | (p00 & 0xFFFFu);
    *hi = p11 + (p01 >> 16) + (p10 >> 16) + (mid >> 16);
}

float RT(mulsf3)(float a, float b)
{
    uint32_t ua = bits_of(a), ub = bits_of(b);
    uint32_t sign = (ua ^ ub) & SIGN_BIT;
    int32_t ea = (int32_t)((ua >> 23) & 0xFFu), eb = (int32_t)((ub >> 23) & 0xFFu), exp;
    uint32_t ma = ua & 0x007FFFFFu, mb = ub & 0x007FFFFFu, hi, lo, m;
    if (ea == 0xFF || eb == 0xFF) {
        if (is_nan(ua)) return float_of(ua | QUIET_BIT);
        if (is_nan(ub)) return float_of(ub | QUIET_BIT);
        if ((ea == 0 && ma == 0) || (eb == 0 && mb == 0)) return float_of(DEFAULT_NAN); /* inf * 0 */
        return float_of(sign | 0x7F800000u);
    }
    if (ea == 0) {
        int shift;
        if (ma == 0) return float_of(sign);
        shift = clz32(ma) - 8;
        ma <<= shift;
        ea = 1 - shift;
    }
    if (eb == 0) {
        int shift;
        if (mb == 0) return float_of(sign);
        shift = clz32(mb) - 8;
        mb <<= shift;
        eb = 1 - shift;
    }
    exp = ea + eb - 0x7F;
    mul32x32((ma | 0x00800000u) << 7, (mb | 0x00800000u) << 8, &hi, &lo); /* in [2^61, 2^63) */
    m = hi | (lo != 0);
    if (m < 0x40000000u) {
        exp -= 1;
        m <<= 1;
    }
    return float_of(round_pack(sign, exp, m));
}

float RT(floatsisf)(int32_t a)
{
    uint32_t sign = a < 0 ? SIGN_BIT : 0, mag = a < 0 ? 0u - (uint32_t)a : (uint32_t)a;
    int shift;
    int32_t exp;
    if (mag == 0) return float_of(0);
    shift = clz32(mag) - 1; /* leading one to bit 30; 2^31 (INT32_MIN) has shift -1 */
    exp = 0x9C - shift;
    if (shift < 0) return float_of(sign | 0x4F000000u); /* -2^31: exact */
    return float_of(round_pack(sign, exp, mag << shift));
}

int64_t RT(muldi3)(int64_t a, int64_t b)
{
    uint64_t ua = (uint64_t)a, ub = (uint64_t)b;
    uint32_t a0 = (uint32_t)ua, a1 = (uint32_t)(ua >> 32), b0 = (uint32_t)ub, b1 = (uint32_t)(ub >> 32), hi, lo;
    mul32x32(a0, b0, &hi, &lo);
    hi += a0 * b1 + a1 * b0; /* the cross products' low words: the rest is above bit 63 */
    return (int64_t)(((uint64_t)hi << 32) | lo);
}

/* ------------------------------------------------------------------------------------ double precision */
#define SIGN64 0x8000000000000000ull
#define EXP64 0x7FF0000000000000ull
#define FRAC64 0x000FFFFFFFFFFFFFull
#define DEFAULT_NAN64 0x7FF8000000000000ull
#define QUIET64 0x0008000000000000ull

static uint64_t bits64(double d)
{
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    return u;
}

static double double_of(uint64_t u)
{
    double d;
    memcpy(&d, &u, sizeof d);
    return d;
}

static int is_nan64(uint64_t u)
{
    return (u & ~SIGN64) > EXP64;
}

static int clz64(uint64_t v)
{
    uint32_t hi = (uint32_t)(v >> 32);
    return hi != 0 ? clz32(hi) : 32 + clz32((uint32_t)v);
}

static uint64_t shift_right_jam64(uint64_t v, uint32_t dist)
{
    if (dist == 0) {
        return v;
    }
    return dist < 63 ? (v >> dist) | ((v << (64 - dist)) != 0) : (v != 0);
}

/* As round_pack, for binary64: the leading one of sig at bit 62 (10 bits below the 52-bit fraction). */
static uint64_t round_pack64(uint64_t sign, int32_t exp, uint64_t sig)
{
    uint32_t round_bits = (uint32_t)sig & 0x3FFu;
    if ((uint32_t)exp >= 0x7FDu) {
        if (exp < 0) {
            sig = shift_right_jam64(sig, (uint32_t)-exp);
            exp = 0;
            round_bits = (uint32_t)sig & 0x3FFu;
        } else if (exp > 0x7FD || sig + 0x200u >= SIGN64) {
            return sign | EXP64;
        }
    }
    sig = (sig + 0x200u) >> 10;
    if (round_bits == 0x200u) {
        sig &= ~(uint64_t)1;
    }
    if (sig == 0) {
        exp = 0;
    }
    return sign + ((uint64_t)(uint32_t)exp << 52) + sig;
}

static uint64_t add_bits64(uint64_t ua, uint64_t ub)
{
    uint32_t ea = (uint32_t)(ua >> 52) & 0x7FFu, eb = (uint32_t)(ub >> 52) & 0x7FFu;
    uint64_t ma, mb, sign, m;
    int32_t exp;
    if (ea == 0x7FFu || eb == 0x7FFu) {
        if (is_nan64(ua)) return ua | QUIET64;
        if (is_nan64(ub)) return ub | QUIET64;
        if (ea == 0x7FFu && eb == 0x7FFu && ((ua ^ ub) & SIGN64)) return DEFAULT_NAN64;
        return ea == 0x7FFu ? ua : ub;
    }
    if ((ua & ~SIGN64) < (ub & ~SIGN64)) {
        uint64_t t = ua;
        uint32_t e = ea;
        ua = ub;
        ub = t;
        ea = eb;
        eb = e;
    }
    sign = ua & SIGN64;
    ma = ua & FRAC64;
    mb = ub & FRAC64;
    if (ea != 0) ma |= FRAC64 + 1; else ea = 1;
    if (eb != 0) mb |= FRAC64 + 1; else eb = 1;
    if (ma == 0) {
        return ua & ub & SIGN64;
    }
    ma <<= 10;
    mb = shift_right_jam64(mb << 10, ea - eb);
    exp = (int32_t)ea - 1;
    if (((ua ^ ub) & SIGN64) == 0) {
        m = ma + mb;
        if (m >= SIGN64) {
            m = shift_right_jam64(m, 1);
            exp += 1;
        }
    } else {
        m = ma - mb;
        if (m == 0) {
            return 0;
        }
        while (m < ((uint64_t)1 << 62) && exp > 0) {
            m <<= 1;
            exp -= 1;
        }
    }
    return round_pack64(sign, exp, m);
}

double RT(adddf3)(double a, double b)
{
    return double_of(add_bits64(bits64(a), bits64(b)));
}

double RT(subdf3)(double a, double b)
{
    return double_of(add_bits64(bits64(a), bits64(b) ^ SIGN64));
}

/* The 128-bit product of two 64-bit words (hi:lo) from 32 x 32 -> 64 bit products. */
static void mul64x64(uint64_t a, uint64_t b, uint64_t *hi, uint64_t *lo)
{
    uint32_t a0 = (uint32_t)a, a1 = (uint32_t)(a >> 32), b0 = (uint32_t)b, b1 = (uint32_t)(b >> 32), h, l;
    uint64_t p00, p01, p10, p11, mid;
    mul32x32(a0, b0, &h, &l);
    p00 = ((uint64_t)h << 32) | l;
    mul32x32(a0, b1, &h, &l);
    p01 = ((uint64_t)h << 32) | l;
    mul32x32(a1, b0, &h, &l);
    p10 = ((uint64_t)h << 32) | l;
    mul32x32(a1, b1, &h, &l);
    p11 = ((uint64_t)h << 32) | l;
    mid = (p00 >> 32) + (uint32_t)p01 + (uint32_t)p10; /* < 3 * 2^32 */
    *lo = (mid << 32) | (uint32_t)p00;
    *hi = p11 + (p01 >> 32) + (p10 >> 32) + (mid >> 32);
}

double RT(muldf3)(double a, double b)
{
    uint64_t ua = bits64(a), ub = bits64(b), sign = (ua ^ ub) & SIGN64, ma = ua & FRAC64, mb = ub & FRAC64, hi, lo, m;
    int32_t ea = (int32_t)((ua >> 52) & 0x7FFu), eb = (int32_t)((ub >> 52) & 0x7FFu), exp;
    if (ea == 0x7FF || eb == 0x7FF) {
        if (is_nan64(ua)) return double_of(ua | QUIET64);
        if (is_nan64(ub)) return double_of(ub | QUIET64);
        if ((ea == 0 && ma == 0) || (eb == 0 && mb == 0)) return double_of(DEFAULT_NAN64);
        return double_of(sign | EXP64);
    }
    if (ea == 0) {
        int shift;
        if (ma == 0) return double_of(sign);
        shift = clz64(ma) - 11;
        ma <<= shift;
        ea = 1 - shift;
    }
    if (eb == 0) {
        int shift;
        if (mb == 0) return double_of(sign);
        shift = clz64(mb) - 11;
        mb <<= shift;
        eb = 1 - shift;
    }
    exp = ea + eb - 0x3FF;
    mul64x64((ma | (FRAC64 + 1)) << 10, (mb | (FRAC64 + 1)) << 11, &hi, &lo); /* in [2^125, 2^127) */
    m = hi | (lo != 0);
    if (m < ((uint64_t)1 << 62)) {
        exp -= 1;
        m <<= 1;
    }
    return double_of(round_pack64(sign, exp, m));
}

double RT(extendsfdf2)(float a)
{
    uint32_t u = bits_of(a), e = (u >> 23) & 0xFFu, frac = u & 0x007FFFFFu;
    uint64_t sign = (uint64_t)(u & SIGN_BIT) << 32;
    if (e == 0xFFu) {
        if (frac != 0) return double_of(sign | EXP64 | QUIET64 | ((uint64_t)frac << 29));
        return double_of(sign | EXP64);
    }
    if (e == 0) {
        int shift;
        if (frac == 0) return double_of(sign);
        shift = clz32(frac) - 8; /* normalise the subnormal: leading one to bit 23 */
        frac = (frac << shift) & 0x007FFFFFu;
        return double_of(sign | ((uint64_t)(0x381 - shift) << 52) | ((uint64_t)frac << 29));
    }
    return double_of(sign | ((uint64_t)(e + 0x380u) << 52) | ((uint64_t)frac << 29));
}

float RT(truncdfsf2)(double a)
{
    uint64_t u = bits64(a), frac = u & FRAC64;
    uint32_t sign = (uint32_t)(u >> 32) & SIGN_BIT, e = (uint32_t)(u >> 52) & 0x7FFu, f32;
    if (e == 0x7FFu) {
        if (frac != 0) return float_of(sign | 0x7FC00000u | (uint32_t)(frac >> 29));
        return float_of(sign | 0x7F800000u);
    }
    f32 = (uint32_t)(frac >> 22) | ((frac & 0x3FFFFFu) != 0); /* 30 bits, the rest sticky */
    if ((e | f32) == 0) return float_of(sign);
    return float_of(round_pack(sign, (int32_t)e - 0x381, f32 | 0x40000000u));
}
