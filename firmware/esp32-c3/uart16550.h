/*
 * uart16550.h - polled driver for the 16550 UART of `qemu-system-riscv32 -M virt` (serial0 at 0x10000000,
 * byte-wide registers). Replaces Arduino's Serial for the firmware app on the emulated RV32IMC core: with
 * `-serial pty` QEMU connects it to a pseudo-terminal that `tinylstm monitor --port` opens like a board's port.
 */
#ifndef TINYLSTM_UART16550_H
#define TINYLSTM_UART16550_H

#ifdef __cplusplus
extern "C" {
#endif

void uart_init(void);
void uart_putc(char c);
void uart_puts(const char *s);
/* The next received byte, or -1 when none is waiting. */
int uart_getc(void);
/* Microseconds since reset from the virt machine's CLINT mtime (10 MHz). */
unsigned long board_micros(void);

#ifdef __cplusplus
}
#endif

#endif /* TINYLSTM_UART16550_H */
