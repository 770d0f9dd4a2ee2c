/*
 * count_main.c - instruction counting under QEMU: TINYLSTM_COUNT_RUNS inferences on fixed rows, then a
 * semihosting exit (no printf). The bench traces it with -singlestep -d exec,nochain and counts executed
 * instructions inside the engine's functions (arm-none-eabi-nm -S), divided by the number of runs.
 */
#include "tinylstm_model.h"
#include "run_rows.h"

#ifndef TINYLSTM_COUNT_RUNS
#define TINYLSTM_COUNT_RUNS RUN_NUM_ROWS
#endif

void tinylstm_semihost_exit(int ok);
volatile float tinylstm_count_out;

int main(void)
{
    int k;
    for (k = 0; k < TINYLSTM_COUNT_RUNS; ++k) {
        float y[TINYLSTM_NUM_OUTPUTS];
        (void)tinylstm_predict(run_rows[k % RUN_NUM_ROWS], y);
        tinylstm_count_out = y[0];
    }
    tinylstm_semihost_exit(1);
    return 0;
}
