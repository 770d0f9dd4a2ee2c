/*
 * Interface stand-in for EloquentTinyML 3.0.1 (eloquentarduino/EloquentTinyML, commit 5d3636f,
 * src/eloquent_tinyml/tf.h): the names and types a sketch uses, so the tutorial's sketch can be compiled against
 * model.h with -Wall -Wextra -Werror (host g++ and arm-none-eabi-g++). It runs nothing: tests/test_eloquent.py
 * drives the same calls through TFLite Micro with the library's semantics, quoted there line by line.
 *   tf.h 22-36: template<uint8_t numOps, size_t tensorArenaSize> class Sequential { MicroMutableOpResolver<numOps>
 *               resolver; ... uint8_t arena[tensorArenaSize]; ... float *outputs; }
 *   tf.h 81:    Exception& begin(const unsigned char *data)
 *   tf.h 163:   Exception& predict(float *x)
 */
#ifndef TINYLSTM_STANDIN_ELOQUENT_TINYML_H
#define TINYLSTM_STANDIN_ELOQUENT_TINYML_H
#ifndef ELOQUENT_TFLM
#error "You must include either <tflm_esp32.h> or <tflm_cortexm.h>"
#endif
#include <stddef.h>
#include <stdint.h>

namespace Eloquent {
namespace Error {
class Exception {
public:
    bool isOk() const { return ok; }
    const char *toString() const { return ok ? "OK" : "error"; }
    bool ok = true;
};
}  // namespace Error
namespace TF {
/* MicroMutableOpResolver<numOps>: Add<Op>() registers one op; more than numOps fails (kTfLiteError in TFLM). */
template <uint8_t numOps> struct Resolver {
    uint8_t count = 0;
    bool add() { return count < numOps ? (++count, true) : false; }
    bool AddQuantize() { return add(); }
    bool AddDequantize() { return add(); }
    bool AddMul() { return add(); }
    bool AddAdd() { return add(); }
    bool AddFullyConnected() { return add(); }
    bool AddUnidirectionalSequenceLSTM() { return add(); }
    bool AddStridedSlice() { return add(); }
};
template <uint8_t numOps, size_t tensorArenaSize> class Sequential {
public:
    Resolver<numOps> resolver;
    Error::Exception exception;
    uint8_t arena[tensorArenaSize];
    uint16_t numInputs = 0;
    uint16_t numOutputs = 0;
    float outputStorage[16] = {0};
    float *outputs = outputStorage;
    void setNumInputs(uint16_t n) { numInputs = n; }
    void setNumOutputs(uint16_t n) { numOutputs = n; }
    Error::Exception &begin(const unsigned char *data) {
        exception.ok = data != nullptr && resolver.count == numOps;
        return exception;
    }
    Error::Exception &predict(float *x) {
        exception.ok = x != nullptr;
        return exception;
    }
};
}  // namespace TF
}  // namespace Eloquent
#endif
