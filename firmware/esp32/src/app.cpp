/*
 * app.cpp - see app.h. Line protocol (one line per message, '\n' terminated; all device lines are ASCII):
 *
 *   device at boot / on "info":  tinylstm ready engine=<name> inputs=<n> protocol=1 max_line=96
 *   self-check (boot / "selfcheck"): selfcheck <k> PASS|FAIL got=<y> expected=<e> tol=<t>
 *                                    selfcheck done pass=<p> fail=<f>
 *   request:   <x1>,<x2>,...,<xn>          raw input units, decimal numbers, spaces allowed around values
 *   reply:     ok <prediction> us=<microseconds of engine_predict>
 *   or:        err <reason>                empty line, wrong count, not a number, too long, engine failure
 */
#include "app.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"

#define APP_MAX_INPUTS 16

App::App(AppOutput &out, AppMicros micros)
    : out_(out), micros_(micros), len_(0), overflow_(false), ready_(false)
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
    snprintf(buf, sizeof buf, "tinylstm ready engine=%s inputs=%d protocol=%d max_line=%d",
             engine_name(), engine_num_inputs(), TINYLSTM_PROTOCOL_VERSION, APP_MAX_LINE);
    reply(buf);
}

int App::selfcheck()
{
    char buf[200];
    int pass = 0, fail = 0;
    for (int k = 0; k < engine_num_vectors(); ++k) {
        const float *x = 0;
        float expected = 0.0f, tol = 0.0f, got = 0.0f;
        engine_vector(k, &x, &expected, &tol);
        int rc = engine_predict(x, &got);
        float d = got - expected;
        bool ok = rc == 0 && d <= tol && -d <= tol; /* NaN fails */
        if (ok) {
            ++pass;
        } else {
            ++fail;
        }
        snprintf(buf, sizeof buf, "selfcheck %d %s got=%.9g expected=%.9g tol=%.3g", k, ok ? "PASS" : "FAIL",
                 (double)got, (double)expected, (double)tol);
        reply(buf);
    }
    snprintf(buf, sizeof buf, "selfcheck done pass=%d fail=%d", pass, fail);
    reply(buf);
    return fail;
}

int App::begin()
{
    int rc = engine_init();
    if (rc != 0) {
        char buf[80];
        snprintf(buf, sizeof buf, "err engine_init failed code=%d", rc);
        reply(buf);
        ready_ = false;
        return -1;
    }
    ready_ = true;
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
            snprintf(buf, sizeof buf, "err line too long (max %d characters)", APP_MAX_LINE);
            reply(buf);
        } else {
            line_[len_] = '\0';
            handle_line(line_);
        }
        len_ = 0;
        overflow_ = false;
        return;
    }
    if (len_ >= APP_MAX_LINE) {
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
    int n = engine_num_inputs();
    if (n > APP_MAX_INPUTS) n = APP_MAX_INPUTS;
    float x[APP_MAX_INPUTS];
    int count = 0;
    const char *start = line;
    for (;;) {
        const char *comma = strchr(start, ',');
        const char *end = comma ? comma : start + strlen(start);
        if (count < n && !parse_number(start, end, &x[count])) {
            snprintf(buf, sizeof buf, "err value %d is not a number", count + 1);
            reply(buf);
            return;
        }
        ++count;
        if (!comma) break;
        start = comma + 1;
    }
    if (count != engine_num_inputs()) {
        snprintf(buf, sizeof buf, "err expected %d values, got %d", engine_num_inputs(), count);
        reply(buf);
        return;
    }
    float y = 0.0f;
    unsigned long t0 = micros_();
    int rc = engine_predict(x, &y);
    unsigned long us = micros_() - t0;
    if (rc != 0) {
        snprintf(buf, sizeof buf, "err engine_predict failed code=%d", rc);
        reply(buf);
        return;
    }
    snprintf(buf, sizeof buf, "ok %.9g us=%lu", (double)y, us);
    reply(buf);
}
