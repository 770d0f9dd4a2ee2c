/*
 * size_main.c - what a product links: the engine called once per input, no printf, no semihosting, no libc.
 * Only for arm-none-eabi-size (the bench subtracts this program's size without the engine); never run.
 */
#include "tinylstm_model.h"

volatile float tinylstm_size_in[TINYLSTM_NUM_INPUTS];
volatile float tinylstm_size_out;

int main(void)
{
    for (;;) {
        float x[TINYLSTM_NUM_INPUTS], y[TINYLSTM_NUM_OUTPUTS];
        int k;
        for (k = 0; k < TINYLSTM_NUM_INPUTS; ++k) {
            x[k] = tinylstm_size_in[k];
        }
#ifndef TINYLSTM_SIZE_BASELINE
        (void)tinylstm_predict(x, y);
        tinylstm_size_out = y[0];
#else
        (void)y;
        tinylstm_size_out = x[0];
#endif
    }
}
