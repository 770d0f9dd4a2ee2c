/*
 * uart16550.c - see uart16550.h. Register map of the 16550 (QEMU hw/char/serial.c): RBR/THR 0, IER 1, FCR 2,
 * LCR 3, LSR 5 (bit 0 data ready, bit 5 transmit holding register empty).
 */
#include "uart16550.h"

#include <stdint.h>

#define UART_BASE 0x10000000u
#define CLINT_MTIME 0x0200bff8u
#define REG(off) (*(volatile uint8_t *)(UART_BASE + (off)))
#define LSR_DR 0x01u
#define LSR_THRE 0x20u

void uart_init(void)
{
    REG(1) = 0x00; /* no interrupts: polled */
    REG(3) = 0x80; /* DLAB: divisor for 115200 baud at 1.8432 MHz (QEMU ignores it; real 16550s do not) */
    REG(0) = 0x01;
    REG(1) = 0x00;
    REG(3) = 0x03; /* 8N1 */
    REG(2) = 0x07; /* FIFOs on and cleared */
}

void uart_putc(char c)
{
    while ((REG(5) & LSR_THRE) == 0) {
    }
    REG(0) = (uint8_t)c;
}

void uart_puts(const char *s)
{
    while (*s) {
        uart_putc(*s++);
    }
}

int uart_getc(void)
{
    if ((REG(5) & LSR_DR) == 0) {
        return -1;
    }
    return REG(0);
}

unsigned long board_micros(void)
{
    volatile uint32_t *mtime = (volatile uint32_t *)CLINT_MTIME;
    uint32_t hi, lo;
    do {
        hi = mtime[1];
        lo = mtime[0];
    } while (hi != mtime[1]);
    return (unsigned long)((((uint64_t)hi << 32) | lo) / 10u);
}
