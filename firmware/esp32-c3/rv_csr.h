/*
 * rv_csr.h - retired-instruction counter of an RV32 core (the ESP32-C3 is one: RV32IMC, no FPU).
 * Under `qemu-system-riscv32 -icount shift=0` minstret counts retired instructions exactly.
 */
#ifndef TINYLSTM_RV_CSR_H
#define TINYLSTM_RV_CSR_H

#include <stdint.h>

static inline uint32_t rv_minstret(void)
{
    uint32_t v;
    /* Zicsr is named here only, so the rest of the program builds with plain -march=rv32imc (GCC 12 splits
     * Zicsr out of "i" and picks the rv32im multilib only for -march=rv32imc). */
    __asm__ volatile(".option push\n.option arch, +zicsr\ncsrr %0, minstret\n.option pop" : "=r"(v));
    return v;
}

#endif /* TINYLSTM_RV_CSR_H */
