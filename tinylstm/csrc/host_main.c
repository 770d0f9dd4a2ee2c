/*
 * host_main.c - host test program for the tinylstm C engine (either variant), built by tinylstm/export/_cbuild.py.
 *
 * stdin: one raw window per line ("a,b,c", TINYLSTM_NUM_INPUTS values, step-major); stdout per window:
 *   "<float bits hex of y[0]>,<y[1]>,... <int32 q[0]>,<q[1]>,...|- <%.9g y[0]> a=<tinylstm_argmax(y)>"
 * (q: tinylstm_predict_q, int8 only), or "err <status>" when tinylstm_predict fails.
 * A line "bench N" instead times N inferences over the rows read so far and prints ns per inference
 * (thread CPU time: robust on a shared machine).
 *
 * "engine --stream": each line is one time step (TINYLSTM_STEP_INPUTS values) through tinylstm_step (int8: and
 * tinylstm_step_q on a twin state), answered with the same result line; a line "reset" resets the state(s)
 * and prints "reset".
 *
 * "engine --batch": binary request/response for tinylstm predict. Each request is a native uint32 row count n
 * followed by n rows of TINYLSTM_NUM_INPUTS native float32; the answer is n x TINYLSTM_NUM_OUTPUTS native float32
 * outputs (NaN where tinylstm_predict fails), written after the whole request is read (so the caller may write
 * a request, then read, without deadlock). n = 0 or end of input ends the program. Built with -DTINYLSTM_BATCH
 * (and tinylstm_int8_batch.c), a request goes through tinylstm_predict_batch in one call (the same bits).
 */
#define _POSIX_C_SOURCE 199309L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tinylstm_model.h"

#define MAX_ROWS 100000

#ifdef TINYLSTM_BATCH
long tinylstm_predict_batch(const float *x, float *y, long n);
#endif

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
        int k;
        if (fread(&n, sizeof n, 1, stdin) != 1 || n == 0) break;
        if (n > cap) {
            float *in2 = (float *)realloc(in, (size_t)n * TINYLSTM_NUM_INPUTS * sizeof(float));
            float *out2;
            if (!in2) return 4;
            in = in2;
            out2 = (float *)realloc(out, (size_t)n * TINYLSTM_NUM_OUTPUTS * sizeof(float));
            if (!out2) return 4;
            out = out2;
            cap = n;
        }
        if (fread(in, sizeof(float) * TINYLSTM_NUM_INPUTS, n, stdin) != n) return 5;
#ifdef TINYLSTM_BATCH
        (void)i;
        (void)k;
        (void)tinylstm_predict_batch(in, out, (long)n); /* NaN outputs where an input is not finite */
#else
        for (i = 0; i < n; ++i) {
            float *y = out + i * TINYLSTM_NUM_OUTPUTS;
            if (tinylstm_predict(in + i * TINYLSTM_NUM_INPUTS, y) != 0) {
                for (k = 0; k < TINYLSTM_NUM_OUTPUTS; ++k) y[k] = (float)strtod("nan", NULL);
            }
        }
#endif
        if (fwrite(out, sizeof(float) * TINYLSTM_NUM_OUTPUTS, n, stdout) != n || fflush(stdout) != 0) return 6;
    }
    free(in);
    free(out);
    return 0;
}

static void print_result(int rc, const float *y, const long *q)
{
    int k;
    union {
        float f;
        unsigned int u;
    } bits;
    if (rc != 0) {
        printf("err %d\n", rc);
        return;
    }
    for (k = 0; k < TINYLSTM_NUM_OUTPUTS; ++k) {
        bits.f = y[k];
        printf(k ? ",%08x" : "%08x", bits.u);
    }
    if (q) {
        for (k = 0; k < TINYLSTM_NUM_OUTPUTS; ++k) printf(k ? ",%ld" : " %ld", q[k]);
    } else {
        printf(" -");
    }
    printf(" %.9g a=%d\n", (double)y[0], tinylstm_argmax(y));
}

static void parse(const char *line, float *x, int n)
{
    char *p = (char *)line;
    int k;
    for (k = 0; k < n; ++k) {
        x[k] = strtof(p, &p);
        while (*p == ',' || *p == ' ') ++p;
    }
}

static int stream_main(void)
{
    char line[65536];
    tinylstm_state s;
#ifdef TINYLSTM_VARIANT_INT8
    tinylstm_state sq;
    tinylstm_reset(&sq);
#endif
    tinylstm_reset(&s);
    while (fgets(line, sizeof line, stdin)) {
        float x[TINYLSTM_STEP_INPUTS], y[TINYLSTM_NUM_OUTPUTS];
        int rc;
        if (strncmp(line, "reset", 5) == 0) {
            tinylstm_reset(&s);
#ifdef TINYLSTM_VARIANT_INT8
            tinylstm_reset(&sq);
#endif
            printf("reset\n");
            continue;
        }
        parse(line, x, TINYLSTM_STEP_INPUTS);
        rc = tinylstm_step(&s, x, y);
#ifdef TINYLSTM_VARIANT_INT8
        {
            int32_t q[TINYLSTM_NUM_OUTPUTS];
            long ql[TINYLSTM_NUM_OUTPUTS];
            int k;
            if (tinylstm_step_q(&sq, x, q) != rc) return 7;
            for (k = 0; k < TINYLSTM_NUM_OUTPUTS; ++k) ql[k] = (long)q[k];
            print_result(rc, y, ql);
        }
#else
        print_result(rc, y, NULL);
#endif
    }
    return 0;
}

int main(int argc, char **argv)
{
    static char line[1 << 20];
    int n = 0;
    if (argc > 1 && strcmp(argv[1], "--batch") == 0) return batch_main();
    if (argc > 1 && strcmp(argv[1], "--stream") == 0) return stream_main();
    while (fgets(line, sizeof line, stdin)) {
        float x[TINYLSTM_NUM_INPUTS], y[TINYLSTM_NUM_OUTPUTS];
        int rc;
        if (strncmp(line, "bench ", 6) == 0) {
            long iters = strtol(line + 6, NULL, 10), it;
            volatile float sink = 0.0f;
            double t0;
            if (n == 0 || iters <= 0) return 3;
            t0 = now_ns();
            for (it = 0; it < iters; ++it) {
                (void)tinylstm_predict(rows[it % n], y);
                sink += y[0];
            }
            printf("%.3f\n", (now_ns() - t0) / (double)iters);
            (void)sink;
            continue;
        }
        parse(line, x, TINYLSTM_NUM_INPUTS);
        if (n < MAX_ROWS) {
            memcpy(rows[n++], x, sizeof x);
        }
        rc = tinylstm_predict(x, y);
#ifdef TINYLSTM_VARIANT_INT8
        {
            int32_t q[TINYLSTM_NUM_OUTPUTS];
            long ql[TINYLSTM_NUM_OUTPUTS];
            int k;
            if (tinylstm_predict_q(x, q) != rc) return 7;
            for (k = 0; k < TINYLSTM_NUM_OUTPUTS; ++k) ql[k] = (long)q[k];
            print_result(rc, y, ql);
        }
#else
        print_result(rc, y, NULL);
#endif
    }
    return 0;
}
