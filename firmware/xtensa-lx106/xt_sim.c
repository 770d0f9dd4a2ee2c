/*
 * xt_sim.c - simcall-based write/exit for the LX106 in `qemu-system-xtensa -M sim -semihosting` (see xt_sim.h;
 * hand-written, not generated).
 */
#include "xt_sim.h"

#define XT_SYS_EXIT 1
#define XT_SYS_WRITE 4

static int xt_simcall(int nr, int a, int b, int c)
{
    register int a2 __asm__("a2") = nr;
    register int a3 __asm__("a3") = a;
    register int a4 __asm__("a4") = b;
    register int a5 __asm__("a5") = c;
    __asm__ volatile("simcall" : "+r"(a2), "+r"(a3) : "r"(a4), "r"(a5) : "memory");
    return a2;
}

void xt_write(const char *s, unsigned n)
{
    while (n > 0) {
        int done = xt_simcall(XT_SYS_WRITE, 1, (int)(uintptr_t)s, (int)n);
        if (done <= 0) {
            return;
        }
        s += done;
        n -= (unsigned)done;
    }
}

void xt_puts(const char *s)
{
    unsigned n = 0;
    while (s[n] != '\0') {
        ++n;
    }
    xt_write(s, n);
}

void xt_put_u32(uint32_t v)
{
    char buf[10];
    unsigned i = sizeof buf;
    do {
        /* v / 10 without a divide instruction (the LX106 has none; libgcc's __udivsi3 is not in Debian's
         * lx106 build): q = floor(v * 0xCCCCCCCD / 2^35), exact for every 32-bit v, in 16-bit pieces. */
        uint32_t lo = v & 0xFFFFu, hi = v >> 16;
        uint32_t mid = lo * 0xCCCCu + ((lo * 0xCCCDu) >> 16);
        uint32_t p = hi * 0xCCCDu + (mid & 0xFFFFu);
        uint32_t q = (hi * 0xCCCCu + (mid >> 16) + (p >> 16)) >> 3;
        buf[--i] = (char)('0' + (v - q * 10u));
        v = q;
    } while (v != 0);
    xt_write(buf + i, (unsigned)(sizeof buf - i));
}

void xt_put_i32(int32_t v)
{
    if (v < 0) {
        xt_write("-", 1);
        xt_put_u32(0u - (uint32_t)v);
    } else {
        xt_put_u32((uint32_t)v);
    }
}

void xt_put_hex32(uint32_t v)
{
    static const char digits[] = "0123456789abcdef";
    char buf[8];
    int i;
    for (i = 7; i >= 0; --i) {
        buf[i] = digits[v & 15u];
        v >>= 4;
    }
    xt_write(buf, 8);
}

void xt_exit(int code)
{
    (void)xt_simcall(XT_SYS_EXIT, code, 0, 0);
    for (;;) {
    }
}
