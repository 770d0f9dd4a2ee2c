/*
 * test_main.c - the C engine (either variant) on an emulated RV32 core (ESP32-C3: -march=rv32imc -mabi=ilp32,
 * soft float), rows compiled in (run_rows.h). Per row, on the semihosting console:
 *   "<float bits hex of y[0]> <int32 output q[0]|-> i=<retired instructions of one tinylstm_predict call>"
 * then "TINYLSTM-RV DONE <rows>". Counts are exact under `qemu-system-riscv32 -icount shift=0` (minstret), and
 * include everything the engine calls (libgcc soft-float helpers, memset/memcpy). Built by tinylstm/crossbuild.py.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rv_csr.h"
#include "run_rows.h"
#include "tinylstm_model.h"

int main(void)
{
    int k;
    uint32_t c0 = rv_minstret();
    uint32_t overhead = rv_minstret() - c0; /* the counter read itself, subtracted below */
    for (k = 0; k < RUN_NUM_ROWS; ++k) {
        uint32_t t0, t1, bits;
        long q = 0;
        float y[TINYLSTM_NUM_OUTPUTS];
        t0 = rv_minstret();
        (void)tinylstm_predict(run_rows[k], y);
        t1 = rv_minstret();
        memcpy(&bits, &y[0], sizeof bits);
#ifdef TINYLSTM_VARIANT_INT8
        {
            int32_t qs[TINYLSTM_NUM_OUTPUTS];
            (void)tinylstm_predict_q(run_rows[k], qs);
            q = (long)qs[0];
        }
        printf("%08lx %ld i=%lu\n", (unsigned long)bits, q, (unsigned long)(t1 - t0 - overhead));
#else
        (void)q;
        printf("%08lx - i=%lu\n", (unsigned long)bits, (unsigned long)(t1 - t0 - overhead));
#endif
    }
    printf("TINYLSTM-RV DONE %d\n", RUN_NUM_ROWS);
    exit(0);
}
