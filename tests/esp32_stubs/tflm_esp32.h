/*
 * tflm_esp32.h - a compile-only stand-in for EloquentArduino's tflm_esp32 (TensorFlow Lite Micro for ESP32), used
 * by tests/test_monitor.py to check that firmware/esp32/src/engine_tflm.cpp compiles against the committed
 * include/model.h with strict warnings. Declarations only: nothing here links or runs.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define TFLITE_SCHEMA_VERSION 3

typedef enum { kTfLiteOk = 0, kTfLiteError = 1 } TfLiteStatus;
typedef enum { kTfLiteFloat32 = 1, kTfLiteInt8 = 9 } TfLiteType;

typedef union {
    float *f;
    int8_t *int8;
} TfLitePtrUnion;

struct TfLiteTensor {
    TfLiteType type;
    TfLitePtrUnion data;
    size_t bytes;
};

namespace tflite {

struct Model {
    unsigned version() const;
};
const Model *GetModel(const void *buffer);

template <unsigned int N>
class MicroMutableOpResolver {
public:
    TfLiteStatus AddUnidirectionalSequenceLSTM();
    TfLiteStatus AddFullyConnected();
    TfLiteStatus AddStridedSlice();
    TfLiteStatus AddSoftmax();
    TfLiteStatus AddReshape();
    TfLiteStatus AddQuantize();
    TfLiteStatus AddDequantize();
};

class MicroInterpreter {
public:
    template <class Resolver>
    MicroInterpreter(const Model *model, const Resolver &resolver, uint8_t *arena, size_t arena_bytes);
    TfLiteStatus AllocateTensors();
    TfLiteStatus Invoke();
    TfLiteStatus Reset();
    TfLiteTensor *input(size_t index);
    TfLiteTensor *output(size_t index);
};

}  // namespace tflite
