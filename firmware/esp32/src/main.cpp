/*
 * main.cpp - Arduino entry point of the tinylstm ESP32 firmware (both PlatformIO environments): 115200 baud,
 * banner + self-check at boot, then the line protocol of app.cpp. The engine is chosen at build time
 * (engine_tflm.cpp or engine_c.cpp, see engine.h).
 */
#include <Arduino.h>

#include "app.h"

class SerialOutput : public AppOutput {
public:
    void write(const char *text) override { Serial.print(text); }
};

static unsigned long board_micros(void)
{
    return micros();
}

static SerialOutput serial_output;
static App app(serial_output, board_micros);

void setup()
{
    Serial.begin(115200);
    unsigned long t0 = millis();
    while (!Serial && millis() - t0 < 2000) {
        delay(10);
    }
    app.begin();
}

void loop()
{
    while (Serial.available() > 0) {
        app.handle_byte(Serial.read());
    }
}
