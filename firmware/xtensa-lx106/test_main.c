/*
 * test_main.c - the C engine (either variant) on the Xtensa LX106 (ESP8266's core) in
 * `qemu-system-xtensa -M sim -cpu lx106 -semihosting -icount shift=10`, rows compiled in (run_rows.h). Per row:
 *   "<float bits hex of y[0]> <int32 output q[0]|-> c=<CCOUNT cycles of one tinylstm_predict call>"
 * then "TINYLSTM-XT CAL <cycles of XT_CAL_LOOPS known instructions>" and "TINYLSTM-XT DONE <rows>".
 * Under icount every instruction advances CCOUNT by the same amount, so the calibration line (a loop of known
 * length) turns cycles into retired instructions: tinylstm/crossbuild.py does the division. Start-up, console and
 * exit: startup.S, xt_sim.c; the soft-float helpers libgcc lacks here: lx106_rt.c. Built by tinylstm/crossbuild.py.
 */
#include <stdint.h>
#include <string.h>

#include "run_rows.h"
#include "tinylstm_model.h"
#include "xt_sim.h"

#ifndef XT_CAL_LOOPS
#define XT_CAL_LOOPS 10000
#endif

/* XT_CAL_LOOPS passes of a 2-instruction loop (addi, bnez) plus the 2 CCOUNT reads' framing: the instructions
 * between the two reads are 1 (movi) + 2 * XT_CAL_LOOPS + 1 (the second rsr retires after the read). */
static uint32_t calibrate(void)
{
    uint32_t t0, t1, n = XT_CAL_LOOPS;
    __asm__ volatile("rsr %0, ccount\n"
                     "mov a8, %2\n"
                     "1: addi a8, a8, -1\n"
                     "bnez a8, 1b\n"
                     "rsr %1, ccount\n"
                     : "=&a"(t0), "=&a"(t1)
                     : "a"(n)
                     : "a8");
    return t1 - t0;
}

int main(void)
{
    int k;
    uint32_t c0 = xt_ccount();
    uint32_t overhead = xt_ccount() - c0; /* the counter read itself, subtracted below */
    for (k = 0; k < RUN_NUM_ROWS; ++k) {
        uint32_t t0, t1, bits;
#ifdef TINYLSTM_VARIANT_INT8
        int32_t qs[TINYLSTM_NUM_OUTPUTS];
#endif
        float y[TINYLSTM_NUM_OUTPUTS];
        t0 = xt_ccount();
        (void)tinylstm_predict(run_rows[k], y);
        t1 = xt_ccount();
        memcpy(&bits, &y[0], sizeof bits);
        xt_put_hex32(bits);
#ifdef TINYLSTM_VARIANT_INT8
        (void)tinylstm_predict_q(run_rows[k], qs);
        xt_puts(" ");
        xt_put_i32(qs[0]);
#else
        xt_puts(" -");
#endif
        xt_puts(" c=");
        xt_put_u32(t1 - t0 - overhead);
        xt_puts("\n");
    }
    xt_puts("TINYLSTM-XT CAL ");
    xt_put_u32(calibrate());
    xt_puts("\nTINYLSTM-XT DONE ");
    xt_put_u32((uint32_t)RUN_NUM_ROWS);
    xt_puts("\n");
    return 0;
}
