// Cortex-M4 (QEMU) driver of the firmware application (src/app.cpp) with the TFLM engine: what main.cpp does on
// the ESP32, with printf instead of Serial and a fixed list of received lines.
#include <stdio.h>

#include "app.h"

class StdoutOutput : public AppOutput {
public:
    void write(const char *text) override { fputs(text, stdout); }
};

static unsigned long fake_micros(void) {
    static unsigned long t = 0;
    return t += 7;
}

static const char *const lines[] = {
    "2.0,4,196\n", "5.9,8,423\r\n", " 1.6 , 4 , 205 \n", "abc\n", "1,2\n", "1,2,3,4\n", ",,\n",
    "1.5,4,1e999\n", "0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789\n",
    "3.0,6,290\n",
};

int main(void) {
    static StdoutOutput out;
    static App app(out, fake_micros);
    app.begin();
    for (const char *line : lines)
        for (const char *p = line; *p; ++p) app.handle_byte(*p);
    return 0;
}
