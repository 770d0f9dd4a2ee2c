/* tinylstm eSELL engine: types shared by the generated model header (model.h) and esell_lstm.c.
 *
 * Weight matrices are (4H x n), gate rows in the order f, i, c, o, stored in eSELL (see docs/riscv.md):
 * block columns 4 wide, blocks of 8 rows, 2 chunks of 4 rows, fp16 values four per 64-bit word.
 */
#ifndef TINYLSTM_ESELL_ENGINE_H
#define TINYLSTM_ESELL_ENGINE_H

#include <stdint.h>

typedef struct {
    int32_t in;          /* inputs n */
    int32_t in_pad;      /* n rounded up to a multiple of 4 (eSELL block columns) */
    int32_t units;       /* H */
    int32_t units_pad;   /* H rounded up to a multiple of 4 */
    int32_t rows_pad;    /* 4H rounded up to a multiple of 8 (eSELL blocks) */
    int32_t w_word;      /* first word of this layer's W stream in w[] */
    int32_t w_bc;        /* first block-column entry of this layer in w_offset[] (uint16 index) */
    int32_t u_word;      /* same for U in u[] / u_offset[] */
    int32_t u_bc;
    int32_t bias;        /* first fp16 of this layer in bias[] (uint16 index), 4H values f,i,c,o */
    int32_t wd;          /* first fp16 of the dense (4H x n) W copy in wd[] (baseline kernel) */
    int32_t ud;          /* first fp16 of the dense (4H x H) U copy in ud[] */
    int32_t return_sequences;
} tl_lstm_t;

typedef struct {
    int32_t in, out;     /* W is (out x in) row-major fp16 */
    int32_t w, b;        /* first fp16 in head_w[] / head_b[] */
    int32_t act;         /* 0 linear, 1 relu, 2 softmax (the last layer of a classifier only) */
} tl_dense_t;

#endif
