/*
 * host_main.c - host test program for the tinylstm C engine (either variant), built by tinylstm/export/_cbuild.py.
 *
 * stdin: one raw row per line ("a,b,c"); stdout per row: "<float bits hex> <int32 output|-> <%.9g value>".
 * A line "bench N" instead times N inferences over the rows read so far and prints ns per inference
 * (thread CPU time: robust on a shared machine).
 *
 * "engine --batch": binary request/response for tinylstm predict. Each request is a native uint32 row count n
 * followed by n rows of TINYLSTM_NUM_INPUTS native float32; the answer is n native float32 outputs, written after
 * the whole request is read (so the caller may write a request, then read, without deadlock). n = 0 or end of
 * input ends the program.
 */
#define _POSIX_C_SOURCE 199309L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tinylstm_model.h"

#define MAX_ROWS 100000

static float rows[MAX_ROWS][TINYLSTM_NUM_INPUTS];

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int batch_main(void)
{
    float *in = NULL, *out = NULL;
    unsigned long cap = 0;
    for (;;) {
        unsigned int n = 0;
        unsigned long i;
        tinylstm_state state;
        if (fread(&n, sizeof n, 1, stdin) != 1 || n == 0) break;
        if (n > cap) {
            float *in2 = (float *)realloc(in, (size_t)n * TINYLSTM_NUM_INPUTS * sizeof(float));
            float *out2;
            if (!in2) return 4;
            in = in2;
            out2 = (float *)realloc(out, (size_t)n * sizeof(float));
            if (!out2) return 4;
            out = out2;
            cap = n;
        }
        if (fread(in, sizeof(float) * TINYLSTM_NUM_INPUTS, n, stdin) != n) return 5;
        for (i = 0; i < n; ++i) {
            out[i] = tinylstm_run(&state, in + i * TINYLSTM_NUM_INPUTS);
        }
        if (fwrite(out, sizeof(float), n, stdout) != n || fflush(stdout) != 0) return 6;
    }
    free(in);
    free(out);
    return 0;
}

int main(int argc, char **argv)
{
    char line[1024];
    int n = 0;
    tinylstm_state state;
    if (argc > 1 && strcmp(argv[1], "--batch") == 0) return batch_main();
    while (fgets(line, sizeof line, stdin)) {
        float x[TINYLSTM_NUM_INPUTS];
        char *p = line;
        int k;
        union {
            float f;
            unsigned int u;
        } bits;
        long q = 0;
        if (strncmp(line, "bench ", 6) == 0) {
            long iters = strtol(line + 6, NULL, 10), it;
            volatile float sink = 0.0f;
            double t0;
            if (n == 0 || iters <= 0) return 3;
            t0 = now_ns();
            for (it = 0; it < iters; ++it) {
                sink += tinylstm_run(&state, rows[it % n]);
            }
            printf("%.3f\n", (now_ns() - t0) / (double)iters);
            (void)sink;
            continue;
        }
        for (k = 0; k < TINYLSTM_NUM_INPUTS; ++k) {
            x[k] = strtof(p, &p);
            if (*p == ',') ++p;
        }
        if (n < MAX_ROWS) {
            memcpy(rows[n++], x, sizeof x);
        }
#ifdef TINYLSTM_VARIANT_INT8
        q = (long)tinylstm_run_q(&state, x);
#endif
        bits.f = tinylstm_run(&state, x);
#ifdef TINYLSTM_VARIANT_INT8
        printf("%08x %ld %.9g\n", bits.u, q, bits.f);
#else
        (void)q;
        printf("%08x - %.9g\n", bits.u, bits.f);
#endif
    }
    return 0;
}
