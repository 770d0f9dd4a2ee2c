/*
 * startup.c - minimal Cortex-M4F start-up for the tinylstm engine under QEMU mps2-an386 (no vendor code).
 *
 * Vector table (initial stack pointer, reset and fault handlers), .data copy, .bss clear, FPU enable (CPACR),
 * then main(). Faults report through semihosting exit when the program is built with it (TINYLSTM_SEMIHOST_EXIT),
 * otherwise they spin.
 */
#include <stdint.h>

extern uint32_t _stack_top, _data_load, _data_start, _data_end, _bss_start, _bss_end;
int main(void);
void Reset_Handler(void);
void Fault_Handler(void);

/* Semihosting SYS_EXIT with ADP_Stopped_ApplicationExit (0x20026) or RunTimeErrorUnknown (0x20023). */
void tinylstm_semihost_exit(int ok)
{
    register uint32_t r0 __asm__("r0") = 0x18u;
    register uint32_t r1 __asm__("r1") = ok ? 0x20026u : 0x20023u;
    __asm__ volatile("bkpt 0xab" : : "r"(r0), "r"(r1) : "memory");
    for (;;) {
    }
}

void Fault_Handler(void)
{
#ifdef TINYLSTM_SEMIHOST_EXIT
    tinylstm_semihost_exit(0);
#endif
    for (;;) {
    }
}

__attribute__((section(".vectors"), used)) static void (*const vectors[16])(void) = {
    (void (*)(void))(&_stack_top), Reset_Handler, Fault_Handler, Fault_Handler, Fault_Handler, Fault_Handler,
    Fault_Handler, 0, 0, 0, 0, Fault_Handler, Fault_Handler, 0, Fault_Handler, Fault_Handler,
};

void Reset_Handler(void)
{
    uint32_t *src = &_data_load, *dst = &_data_start;
    while (dst < &_data_end) {
        *dst++ = *src++;
    }
    for (dst = &_bss_start; dst < &_bss_end; ++dst) {
        *dst = 0;
    }
    /* CPACR: full access to CP10/CP11 (the FPU), before any float instruction runs. */
    *(volatile uint32_t *)0xE000ED88u |= (0xFu << 20);
    __asm__ volatile("dsb\n\tisb" ::: "memory");
    main();
    for (;;) {
    }
}

/* newlib with -nostartfiles references these; nothing to run. */
void _init(void) {}
void _fini(void) {}
