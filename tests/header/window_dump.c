/* Prints what a window model's firmware model.h holds, through its own macros and C helpers, for
 * tests/test_header.py: the shape macros, class names, the streaming section, and per self-check vector the int8
 * inputs the header's helpers make of its raw window (step-major, k % TINYLSTM_STEP_INPUTS scaling) and the
 * expected outputs; then the dequantisation table and the arena. */
#include <stdio.h>

#include "model.h"

int main(void) {
    int k, j;
    printf("macros %d %d %d %d %d %d %d %d %d\n", TINYLSTM_NUM_INPUTS, TINYLSTM_NUM_STEPS, TINYLSTM_STEP_INPUTS,
           TINYLSTM_NUM_OUTPUTS, TINYLSTM_IS_CLASSIFIER, TINYLSTM_OUTPUT_INDEX, TINYLSTM_OUTPUT_ROWS, TF_NUM_INPUTS,
           TF_NUM_OUTPUTS);
#if TINYLSTM_IS_CLASSIFIER
    {
        static const char *const names[TINYLSTM_NUM_OUTPUTS] = TINYLSTM_CLASS_NAMES;
        printf("classes");
        for (k = 0; k < TINYLSTM_NUM_OUTPUTS; ++k) printf(" %s", names[k]);
        printf("\n");
    }
#endif
    printf("stream %d %d %d %d %u\n", TINYLSTM_HAS_STREAM_TFLITE, TINYLSTM_STREAM_ARENA_SIZE,
           TINYLSTM_STREAM_ARENA_MIN_HOST, TINYLSTM_STREAM_OUTPUT_INDEX, (unsigned)sizeof tinylstm_stream_tflite);
    printf("tol %.9g\n", tinylstm_vector_tolerance);
    for (k = 0; k < TINYLSTM_NUM_VECTORS; ++k) {
        printf("vec");
        for (j = 0; j < TINYLSTM_NUM_INPUTS; ++j)
            printf(" %d", (int)tinylstm_quantize_input(tinylstm_scale_input(j, tinylstm_vector_inputs[k][j])));
        printf("\nexp");
#if TINYLSTM_IS_CLASSIFIER
        for (j = 0; j < TINYLSTM_NUM_OUTPUTS; ++j) printf(" %.9g", tinylstm_vector_expected[k][j]);
#else
        printf(" %.9g", tinylstm_vector_expected[k]);
#endif
        printf("\n");
    }
    for (k = 0; k < 256; ++k)
        printf("deq %d %.9g\n", k - 128, tinylstm_unscale_output(tinylstm_dequantize_output((signed char)(k - 128))));
    printf("arena %d %d\n", TF_ARENA_SIZE, TINYLSTM_ARENA_MIN_HOST);
    return 0;
}
