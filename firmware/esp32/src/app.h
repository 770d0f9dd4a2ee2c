/*
 * app.h - the tinylstm firmware application: boot banner, self-check, and the serial line protocol
 * (docs/cengine.md, "Serial protocol"). Plain C++ with no Arduino dependency, so the host tests compile it and
 * drive it through a pseudo-terminal exactly as `tinylstm monitor` drives a board.
 *
 * The app uses the engine only through engine.h. main.cpp (Arduino) or host/host_main.cpp (PC) feed it bytes
 * and give it an output sink and a microsecond clock.
 */
#ifndef TINYLSTM_APP_H
#define TINYLSTM_APP_H

#include <stddef.h>

#define TINYLSTM_PROTOCOL_VERSION 2
/* Longest request line accepted (characters before the newline) is max(96, 16 x inputs), capped at
 * APP_LINE_CAPACITY: 16 characters hold any float printed with %.9g plus its separator. */
#define APP_MIN_LINE 96
#define APP_CHARS_PER_VALUE 16
#ifndef APP_LINE_CAPACITY
#define APP_LINE_CAPACITY 1024
#endif
/* Largest model the app takes (raw values per window request, outputs); more is an error at boot. */
#ifndef APP_MAX_INPUTS
#define APP_MAX_INPUTS 256
#endif
#ifndef APP_MAX_OUTPUTS
#define APP_MAX_OUTPUTS 32
#endif

class AppOutput {
public:
    virtual ~AppOutput() {}
    virtual void write(const char *text) = 0;
};

typedef unsigned long (*AppMicros)(void);

class App {
public:
    App(AppOutput &out, AppMicros micros);
    /* Initialise the engine, print the banner and run the self-check; returns the number of failed vectors
     * (or -1 when the engine failed to initialise or the model does not fit the app's buffers). */
    int begin();
    /* Feed one received byte; a complete line ('\n', '\r' ignored) is answered at once. */
    void handle_byte(int c);
    /* Process one request line (without newline). */
    void handle_line(const char *line);
    int selfcheck();
    void banner();
    /* Longest line accepted (the banner's max_line). */
    int max_line() const { return max_line_; }

private:
    void reply(const char *text);
    void reply_outputs(const float *y, unsigned long us);
    /* Parse exactly `want` numbers from `line` into x_; false (and an err reply) otherwise. */
    bool parse_values(const char *line, int want);
    AppOutput &out_;
    AppMicros micros_;
    char line_[APP_LINE_CAPACITY + 1];
    size_t len_;
    int max_line_;
    bool overflow_;
    bool ready_;
    bool stream_;
    float x_[APP_MAX_INPUTS];
    float y_[APP_MAX_OUTPUTS];
};

#endif /* TINYLSTM_APP_H */
