/*
 * callgrind_main.c - CG_RUNS inferences on the rows of run_rows.h, for valgrind --tool=callgrind
 * --toggle-collect=tinylstm_predict (the cengine bench's host instruction counts).
 */
#include <stdio.h>

#include "tinylstm_model.h"
#include "run_rows.h"

int main(void)
{
    volatile float sink = 0.0f;
    float y[TINYLSTM_NUM_OUTPUTS];
    int k;
    for (k = 0; k < CG_RUNS; ++k) {
        (void)tinylstm_predict(run_rows[k % RUN_NUM_ROWS], y);
        sink += y[0];
    }
    printf("%f\n", (double)sink);
    return 0;
}
