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

#define TINYLSTM_PROTOCOL_VERSION 1
/* Longest request line accepted (characters before the newline). */
#define APP_MAX_LINE 96

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
     * (or -1 when the engine failed to initialise). */
    int begin();
    /* Feed one received byte; a complete line ('\n', '\r' ignored) is answered at once. */
    void handle_byte(int c);
    /* Process one request line (without newline). */
    void handle_line(const char *line);
    int selfcheck();
    void banner();

private:
    void reply(const char *text);
    AppOutput &out_;
    AppMicros micros_;
    char line_[APP_MAX_LINE + 1];
    size_t len_;
    bool overflow_;
    bool ready_;
};

#endif /* TINYLSTM_APP_H */
