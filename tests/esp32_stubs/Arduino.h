/*
 * Arduino.h - a compile-only stand-in for the Arduino core API that firmware/esp32/src/main.cpp uses (tests only).
 */
#pragma once

struct SerialStub {
    void begin(unsigned long) {}
    explicit operator bool() const { return true; }
    int available() { return 0; }
    int read() { return -1; }
    void print(const char *) {}
};
extern SerialStub Serial;
unsigned long micros();
unsigned long millis();
void delay(unsigned long);
