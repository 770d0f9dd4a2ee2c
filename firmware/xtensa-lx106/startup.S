/*
 * startup.S - reset code of the tinylstm test programs on the Xtensa LX106 (ESP8266's core) in
 * `qemu-system-xtensa -M sim -cpu lx106 -semihosting` (hand-written, not generated; built by tinylstm/crossbuild.py).
 * QEMU's ELF loader puts the image where link.ld says and starts at _start with no stack. This sets the stack
 * pointer (a1, call0 ABI: the LX106 has no register windows), copies .data from its load address, zeroes .bss,
 * calls main() and ends the emulation with main's return value as QEMU's exit status (xt_exit, xt_sim.c).
 *
 * How _start is reached: QEMU 7.2's sim machine loads the ELF but its CPU reset then puts the PC at the lx106
 * reset vector, 0x50000000, which QEMU's lx106 memory map leaves unmapped (it reads as 0, the ILL instruction).
 * The illegal-instruction exception, taken with PS.EXCM = 1 (the reset state), goes to the double-exception
 * vector VECBASE + 0x70 = 0x40000070 in instruction RAM 0: link.ld puts the jump to _start there.
 */
    .section .vectors.lit, "a"
    .align 4
.Lstart_addr:
    .word   _start

    .section .vectors.text, "ax"
    .global _xt_double_exception_vector
_xt_double_exception_vector:
    l32r    a0, .Lstart_addr
    jx      a0

    .section .text.start, "ax"
    .literal_position
    .global _start
    .type _start, @function
    .align 4
_start:
    movi    a1, __stack
    movi    a2, __data_start
    movi    a3, __data_end
    movi    a4, __data_load
1:  bgeu    a2, a3, 2f          /* .data: word copy (link.ld aligns both ends to 4 bytes) */
    l32i    a5, a4, 0
    s32i    a5, a2, 0
    addi    a2, a2, 4
    addi    a4, a4, 4
    j       1b
2:  movi    a2, __bss_start
    movi    a3, __bss_end
    movi    a5, 0
3:  bgeu    a2, a3, 4f          /* .bss: word fill with zero */
    s32i    a5, a2, 0
    addi    a2, a2, 4
    j       3b
4:  movi    a0, main
    callx0  a0
    movi    a0, xt_exit         /* xt_exit(main's return value): does not return */
    callx0  a0
5:  j       5b
    .size _start, . - _start
