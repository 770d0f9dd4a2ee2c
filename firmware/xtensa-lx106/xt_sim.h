/*
 * xt_sim.h - console output, exit and the cycle counter of a program on the LX106 in
 * `qemu-system-xtensa -M sim -cpu lx106 -semihosting` (hand-written; Debian's lx106 picolibc has no semihosting
 * library). QEMU's sim machine serves `simcall` with a2 = call number (target/xtensa/xtensa-semi.c:
 * SYS_exit = 1, SYS_write = 4) and a3.. = arguments.
 */
#ifndef TINYLSTM_XT_SIM_H
#define TINYLSTM_XT_SIM_H

#include <stdint.h>

/* Write n bytes to the emulator's stdout (fd 1). */
void xt_write(const char *s, unsigned n);
/* Text helpers on xt_write: a NUL-terminated string, an unsigned / signed decimal, 8 hex digits. */
void xt_puts(const char *s);
void xt_put_u32(uint32_t v);
void xt_put_i32(int32_t v);
void xt_put_hex32(uint32_t v);
/* End the emulation: QEMU exits with status `code`. */
void xt_exit(int code) __attribute__((noreturn));

/* CCOUNT, the core's cycle counter (the LX106 has the timer option). QEMU derives it from its virtual clock:
 * under `-icount shift=S` every instruction is 2^S ns and CCOUNT = ns * clock_freq_khz / 10^6 (rounded down). */
static inline uint32_t xt_ccount(void)
{
    uint32_t v;
    __asm__ volatile("rsr %0, ccount" : "=a"(v));
    return v;
}

#endif /* TINYLSTM_XT_SIM_H */
