/*
 * The tutorial's sketch (EloquentTinyML 3.0.1 usage, as in the library's examples/LSTMExample/LSTMExample.ino), with
 * the project's inputs: it must compile against model.h unchanged. Arduino's Serial is replaced by printf.
 * TINYLSTM_SKETCH_ARENA: define ARENA_SIZE before including model.h (the sketch's own value wins, no clash).
 */
#include <stdio.h>
#ifdef TINYLSTM_SKETCH_ARENA
#define ARENA_SIZE TINYLSTM_SKETCH_ARENA
#endif
#include "model.h"
#include <tflm_esp32.h>
#include <eloquent_tinyml.h>

Eloquent::TF::Sequential<TF_NUM_OPS, ARENA_SIZE> tf;

float input[3] = {4.6, 8., 304.};

int main() {
    tf.setNumInputs(TF_NUM_INPUTS);
    tf.setNumOutputs(TF_NUM_OUTPUTS);
    registerNetworkOps(tf);
    if (!tf.begin(tfModel).isOk()) return 1;
    if (!tf.predict(input).isOk()) return 2;
    printf("predicted = %.2f\n", (double)tf.outputs[0]);
    return sizeof tf.arena == ARENA_SIZE ? 0 : 3;
}
