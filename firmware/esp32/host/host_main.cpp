/*
 * host_main.cpp - the firmware app on a PC: bytes from stdin, replies to stdout, micros() from CLOCK_MONOTONIC.
 * The tests attach it to a pseudo-terminal and run `tinylstm monitor` against it. Exits at end of input.
 * Build (tinylstm/export/_cbuild.py build_host_app, used by tests/test_monitor.py): g++ -std=c++11
 *   -DTINYLSTM_ENGINE_C -Isrc -I<lib> src/app.cpp src/engine_c.cpp host/host_main.cpp + the engine's objects
 *   (<lib>/tinylstm_float.c or tinylstm_int8.c, <lib>/tinylstm_selfcheck.c).
 */
#include <time.h>
#include <unistd.h>

#include <cstring>

#include "app.h"

class StdoutOutput : public AppOutput {
public:
    void write(const char *text) override
    {
        size_t n = std::strlen(text);
        while (n > 0) {
            ssize_t w = ::write(1, text, n);
            if (w <= 0) return;
            text += w;
            n -= (size_t)w;
        }
    }
};

static unsigned long host_micros(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (unsigned long)ts.tv_sec * 1000000UL + (unsigned long)(ts.tv_nsec / 1000);
}

int main()
{
    StdoutOutput out;
    App app(out, host_micros);
    app.begin();
    char buf[256];
    for (;;) {
        ssize_t n = ::read(0, buf, sizeof buf);
        if (n <= 0) break;
        for (ssize_t k = 0; k < n; ++k) {
            app.handle_byte((unsigned char)buf[k]);
        }
    }
    return 0;
}
