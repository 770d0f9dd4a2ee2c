// Cortex-M4 (QEMU mps2-an386) harness: the firmware's TFLM engine on a 32-bit MCU, plus arena probing.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include "engine.h"
#include "model.h"
#include <tflm_esp32.h>

static int semihost_cmdline(char *buf, int len) {
    struct { char *p; int n; } block = {buf, len};
    register int r0 __asm__("r0") = 0x15;
    register void *r1 __asm__("r1") = &block;
    __asm__ volatile("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
    return r0 == 0 ? block.n : -1;
}

namespace { struct Ops { tflite::MicroMutableOpResolver<TF_NUM_OPS> resolver; }; }
alignas(16) static uint8_t probe_arena[65536];

static int probe(size_t n) {  // 0 = allocates and reproduces every self-check vector
    static Ops ops;
    static bool registered = false;
    if (!registered) { registerNetworkOps(ops); registered = true; }
    const tflite::Model *model = tflite::GetModel(tfModel);
    tflite::MicroInterpreter it(model, ops.resolver, probe_arena, n);
    if (it.AllocateTensors() != kTfLiteOk) return 1;
    printf("arena_used_bytes %u\n", (unsigned)it.arena_used_bytes());
    for (int k = 0; k < TINYLSTM_NUM_VECTORS; ++k) {
        if (it.Reset() != kTfLiteOk) return 2;
        TfLiteTensor *in = it.input(0);
        for (int j = 0; j < TINYLSTM_NUM_FEATURES; ++j) {
            float s = tinylstm_scale_input(j, tinylstm_vector_inputs[k][j]);
#if TINYLSTM_INT8
            in->data.int8[j] = tinylstm_quantize_input(s);
#else
            in->data.f[j] = s;
#endif
        }
        if (it.Invoke() != kTfLiteOk) return 3;
#if TINYLSTM_INT8
        float y = tinylstm_unscale_output(tinylstm_dequantize_output(it.output(0)->data.int8[TINYLSTM_OUTPUT_INDEX]));
#else
        float y = tinylstm_unscale_output(it.output(0)->data.f[TINYLSTM_OUTPUT_INDEX]);
#endif
        if (fabsf(y - tinylstm_vector_expected[k]) > tinylstm_vector_tolerance) return 4;
    }
    return 0;
}

int main(void) {
    char cmd[128] = {0};
    semihost_cmdline(cmd, sizeof cmd);
    const char *arg = strrchr(cmd, ' ');
    if (strstr(cmd, " bench ")) {  // "<prog> bench N": init + N inferences of vector 0 (instruction counting)
        int n = atoi(arg + 1);
        if (engine_init() != 0) return 1;
        const float *x; float expected, tol, y = 0;
        engine_vector(0, &x, &expected, &tol);
        for (int k = 0; k < n; ++k)
            if (engine_predict(x, &y) != 0) return 2;
        return 0;
    }
    if (arg && atoi(arg + 1) > 0) {  // probe mode: "<prog> <arena bytes>"
        int r = probe((size_t)atoi(arg + 1));
        printf("probe %d\n", r);
        return r;
    }
    if (engine_init() != 0) { printf("engine_init failed\n"); return 1; }
    printf("engine %s, %d inputs\n", engine_name(), engine_num_inputs());
    int fails = 0;
    for (int k = 0; k < engine_num_vectors(); ++k) {
        const float *x; float expected, tol, y = 0;
        engine_vector(k, &x, &expected, &tol);
        int rc = engine_predict(x, &y);
        int ok = rc == 0 && fabsf(y - expected) <= tol;
        fails += !ok;
        printf("vector %d: %g,%g,%g -> %.4f expected %.4f tol %.4f %s\n", k, x[0], x[1], x[2], y, expected, tol,
               ok ? "PASS" : "FAIL");
    }
    printf("self-check %s\n", fails ? "FAIL" : "PASS");
    return fails ? 1 : 0;
}
