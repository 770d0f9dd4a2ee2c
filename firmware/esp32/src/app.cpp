/*
 * app.cpp - see app.h. Line protocol 2 (one line per message, '\n' terminated; all device lines are ASCII):
 *
 *   device at boot / on "info":  tinylstm ready engine=<name> inputs=<W*F> protocol=2 max_line=<n> outputs=<K>
 *                                [classes=<c0>,<c1>,...] [step_inputs=<F>]   (step_inputs: stream mode available)
 *   self-check (boot / "selfcheck"): selfcheck <k> PASS|FAIL got=<y> expected=<e> tol=<t> [output=<j>]
 *                                    selfcheck done pass=<p> fail=<f>
 *   batch request:  <x1>,<x2>,...,<xn>    W*F raw values, step-major, separated by commas and/or spaces
 *   reply:          ok <prediction> us=<us>                    regression (target units)
 *                   ok <class> p=<p1>,...,<pK> us=<us>         classifier
 *   "stream" -> "ok stream" (state reset), then each line carries F raw values, answered as above after that
 *   step (the state carries on); "reset" -> "ok reset" (state cleared); "batch" -> "ok batch" (leaves stream mode).
 *   errors:         err <reason>   empty line, wrong count, not a number, too long, engine failure, ...
 * A rejected line changes nothing (no step is taken). "info" and "selfcheck" leave the stream state alone.
 */
#include "app.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"

App::App(AppOutput &out, AppMicros micros)
    : out_(out), micros_(micros), len_(0), max_line_(APP_MIN_LINE), overflow_(false), ready_(false), stream_(false)
{
    line_[0] = '\0';
}

void App::reply(const char *text)
{
    out_.write(text);
    out_.write("\n");
}

void App::banner()
{
    char buf[160];
    snprintf(buf, sizeof buf, "tinylstm ready engine=%s inputs=%d protocol=%d max_line=%d outputs=%d",
             engine_name(), engine_num_inputs(), TINYLSTM_PROTOCOL_VERSION, max_line_, engine_num_outputs());
    out_.write(buf);
    if (engine_is_classifier()) {
        out_.write(" classes=");
        for (int k = 0; k < engine_num_outputs(); ++k) {
            if (k) out_.write(",");
            out_.write(engine_class_name(k));
        }
    }
    if (engine_can_stream()) {
        snprintf(buf, sizeof buf, " step_inputs=%d", engine_step_inputs());
        out_.write(buf);
    }
    out_.write("\n");
}

int App::selfcheck()
{
    char buf[200];
    int pass = 0, fail = 0;
    const int K = engine_num_outputs();
    for (int k = 0; k < engine_num_vectors(); ++k) {
        const float *x = 0;
        const float *expected = 0;
        float tol = 0.0f;
        for (int j = 0; j < K; ++j) y_[j] = 0.0f;
        engine_vector(k, &x, &expected, &tol);
        int rc = engine_predict(x, y_);
        bool ok = rc == 0;
        int worst = 0;
        float worst_d = -1.0f;
        for (int j = 0; j < K; ++j) {
            float d = y_[j] - expected[j];
            if (d < 0) d = -d;
            if (!(d <= tol)) ok = false; /* NaN fails */
            if (!(d <= worst_d)) { /* the largest deviation, NaN first */
                worst_d = d;
                worst = j;
            }
        }
        if (ok) {
            ++pass;
        } else {
            ++fail;
        }
        int n = snprintf(buf, sizeof buf, "selfcheck %d %s got=%.9g expected=%.9g tol=%.3g", k, ok ? "PASS" : "FAIL",
                         (double)y_[worst], (double)expected[worst], (double)tol);
        if (K > 1 && n > 0 && (size_t)n < sizeof buf) snprintf(buf + n, sizeof buf - (size_t)n, " output=%d", worst);
        reply(buf);
    }
    snprintf(buf, sizeof buf, "selfcheck done pass=%d fail=%d", pass, fail);
    reply(buf);
    return fail;
}

int App::begin()
{
    char buf[120];
    int rc = engine_init();
    if (rc != 0) {
        snprintf(buf, sizeof buf, "err engine_init failed code=%d", rc);
        reply(buf);
        ready_ = false;
        return -1;
    }
    if (engine_num_inputs() > APP_MAX_INPUTS || engine_num_outputs() > APP_MAX_OUTPUTS
        || engine_step_inputs() > engine_num_inputs() || engine_num_outputs() < 1) {
        snprintf(buf, sizeof buf, "err model has %d inputs and %d outputs, the app holds at most %d and %d",
                 engine_num_inputs(), engine_num_outputs(), APP_MAX_INPUTS, APP_MAX_OUTPUTS);
        reply(buf);
        ready_ = false;
        return -1;
    }
    long need = (long)APP_CHARS_PER_VALUE * engine_num_inputs();
    if (need < APP_MIN_LINE) need = APP_MIN_LINE;
    if (need > APP_LINE_CAPACITY) need = APP_LINE_CAPACITY;
    max_line_ = (int)need;
    ready_ = true;
    stream_ = false;
    banner();
    return selfcheck();
}

void App::handle_byte(int c)
{
    if (c < 0) {
        return;
    }
    if (c == '\r') {
        return;
    }
    if (c == '\n') {
        if (overflow_) {
            char buf[64];
            snprintf(buf, sizeof buf, "err line too long (max %d characters)", max_line_);
            reply(buf);
        } else {
            line_[len_] = '\0';
            handle_line(line_);
        }
        len_ = 0;
        overflow_ = false;
        return;
    }
    if (len_ >= (size_t)max_line_) {
        overflow_ = true; /* keep discarding until the newline */
        return;
    }
    line_[len_++] = (char)c;
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t';
}

/* Parse one decimal number spanning [s, e) exactly; false for anything else (also nan/inf/overflow). */
static bool parse_number(const char *s, const char *e, float *value)
{
    while (s < e && is_space(*s)) ++s;
    while (e > s && is_space(e[-1])) --e;
    if (s == e || e - s > 40) return false;
    char tmp[48];
    memcpy(tmp, s, (size_t)(e - s));
    tmp[e - s] = '\0';
    for (const char *p = tmp; *p; ++p) {
        if (!((*p >= '0' && *p <= '9') || *p == '.' || *p == '-' || *p == '+' || *p == 'e' || *p == 'E')) {
            return false; /* rejects nan, inf, hex floats */
        }
    }
    char *end = 0;
    errno = 0;
    double v = strtod(tmp, &end);
    if (end != tmp + (e - s) || errno == ERANGE || v > 3.0e38 || v < -3.0e38) return false;
    *value = (float)v;
    return true;
}

/* Values are separated by a comma (spaces around it allowed) or by spaces alone; an empty field between two
 * commas (or before/after one) is a value that is not a number. */
bool App::parse_values(const char *line, int want)
{
    char buf[64];
    int count = 0;
    const char *p = line;
    for (;;) {
        const char *comma = strchr(p, ',');
        const char *field_end = comma ? comma : p + strlen(p);
        /* the comma-separated field [p, field_end) may hold several space-separated values */
        const char *s = p;
        while (s < field_end && is_space(*s)) ++s;
        if (s == field_end) { /* empty field: one value that is not a number */
            if (count < want) {
                snprintf(buf, sizeof buf, "err value %d is not a number", count + 1);
                reply(buf);
                return false;
            }
            ++count;
        }
        while (s < field_end) {
            const char *e = s;
            while (e < field_end && !is_space(*e)) ++e;
            if (count < want && !parse_number(s, e, &x_[count])) {
                snprintf(buf, sizeof buf, "err value %d is not a number", count + 1);
                reply(buf);
                return false;
            }
            ++count;
            s = e;
            while (s < field_end && is_space(*s)) ++s;
        }
        if (!comma) break;
        p = comma + 1;
    }
    if (count != want) {
        snprintf(buf, sizeof buf, "err expected %d values, got %d", want, count);
        reply(buf);
        return false;
    }
    return true;
}

void App::reply_outputs(const float *y, unsigned long us)
{
    char buf[48];
    const int K = engine_num_outputs();
    out_.write("ok ");
    if (engine_is_classifier()) {
        out_.write(engine_class_name(engine_argmax(y)));
        out_.write(" p=");
    }
    for (int j = 0; j < K; ++j) {
        snprintf(buf, sizeof buf, j ? ",%.9g" : "%.9g", (double)y[j]);
        out_.write(buf);
    }
    snprintf(buf, sizeof buf, " us=%lu", us);
    out_.write(buf);
    out_.write("\n");
}

void App::handle_line(const char *line)
{
    char buf[96];
    const char *p = line;
    while (is_space(*p)) ++p;
    if (*p == '\0') {
        reply("err empty line");
        return;
    }
    if (strcmp(p, "info") == 0) {
        banner();
        return;
    }
    if (strcmp(p, "selfcheck") == 0) {
        selfcheck();
        return;
    }
    if (!ready_) {
        reply("err engine not ready");
        return;
    }
    if (strcmp(p, "stream") == 0) {
        if (!engine_can_stream()) {
            snprintf(buf, sizeof buf, "err %s", engine_stream_error());
            reply(buf);
            return;
        }
        engine_reset();
        stream_ = true;
        reply("ok stream");
        return;
    }
    if (strcmp(p, "reset") == 0) {
        if (engine_can_stream()) engine_reset();
        reply("ok reset");
        return;
    }
    if (strcmp(p, "batch") == 0) {
        stream_ = false;
        reply("ok batch");
        return;
    }
    const int want = stream_ ? engine_step_inputs() : engine_num_inputs();
    if (!parse_values(line, want)) return;
    unsigned long t0 = micros_();
    int rc = stream_ ? engine_step(x_, y_) : engine_predict(x_, y_);
    unsigned long us = micros_() - t0;
    if (rc != 0) {
        snprintf(buf, sizeof buf, "err %s failed code=%d", stream_ ? "engine_step" : "engine_predict", rc);
        reply(buf);
        return;
    }
    reply_outputs(y_, us);
}
