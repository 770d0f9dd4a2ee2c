#include <stdint.h>
#include <string.h>
#include <stdlib.h>
extern uint32_t _sidata, _sdata, _edata, _sbss, _ebss, _estack;
extern int main(void);
extern void __libc_init_array(void);
extern void initialise_monitor_handles(void);
void *__dso_handle = 0; /* C++ static destructors register against it; no crtbegin with -nostartfiles */
void _init(void) {}
void _fini(void) {}
void Reset_Handler(void) {
    memcpy(&_sdata, &_sidata, (size_t)((char *)&_edata - (char *)&_sdata));
    memset(&_sbss, 0, (size_t)((char *)&_ebss - (char *)&_sbss));
    *(volatile uint32_t *)0xE000ED88 |= (0xFu << 20); /* CPACR: enable CP10/CP11 (FPU) */
    __asm volatile("dsb; isb");
    initialise_monitor_handles();
    __libc_init_array();
    exit(main());
}
static void Fault_Handler(void) { exit(3); }
__attribute__((section(".vectors"), used)) static void (*const vectors[16])(void) = {
    (void (*)(void))&_estack, Reset_Handler, Fault_Handler, Fault_Handler, Fault_Handler, Fault_Handler,
    Fault_Handler, 0, 0, 0, 0, Fault_Handler, Fault_Handler, 0, Fault_Handler, Fault_Handler};
