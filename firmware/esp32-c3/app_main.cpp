/*
 * app_main.cpp - the tinylstm firmware app (firmware/esp32/src/app.cpp + engine_c.cpp + the C engine) on an
 * emulated RV32IMC core: the ESP32-C3's instruction set in `qemu-system-riscv32 -M virt -serial pty`. Takes the
 * place of firmware/esp32/src/main.cpp (Arduino): bytes from the 16550 UART instead of Serial, micros() from
 * the CLINT timer. Built by tinylstm/crossbuild.py (rv_app); `tinylstm monitor --port /dev/pts/N` talks to it
 * exactly as to a board.
 */
#include "app.h"
#include "uart16550.h"

/* No C++ runtime library is installed for this target (Debian's riscv64-unknown-elf has no libstdc++): the app
 * allocates nothing, so the deleting destructors the virtual AppOutput interface emits never run. */
void operator delete(void *) noexcept {}
void operator delete(void *, unsigned int) noexcept {}
extern "C" void __cxa_pure_virtual() { for (;;) { } }

class UartOutput : public AppOutput {
public:
    void write(const char *text) override { uart_puts(text); }
};

int main()
{
    uart_init();
    UartOutput out;
    App app(out, board_micros);
    app.begin();
    for (;;) {
        int c = uart_getc();
        if (c >= 0) {
            app.handle_byte(c);
        }
    }
}
