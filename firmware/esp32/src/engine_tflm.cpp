/*
 * engine_tflm.cpp - the engine.h interface on TensorFlow Lite Micro ([env:esp32dev], -DTINYLSTM_ENGINE_TFLM).
 *
 * Runs the flatbuffer of include/model.h with exactly the ops the header registers and the arena size it measured.
 * The committed model.h is the lean `tinylstm export header --variant firmware` one (what `tinylstm export firmware`
 * writes): raw inputs are standardised with the header's scaler, quantised with the model's input scale/zero point
 * when the model is int8, and the prediction (the last row of the output tensor, TINYLSTM_OUTPUT_INDEX) is
 * dequantised and mapped back to target units. The fused LSTM keeps its h/c state in variable tensors, so the
 * interpreter is Reset() before every independent inference. A `--variant eloquent` header (TINYLSTM_FLOAT_IO 1:
 * raw float inputs, one float output in target units, state zeroed by the graph) also works here unchanged.
 *
 * Shapes (serial protocol 2): a header that defines TINYLSTM_NUM_INPUTS / TINYLSTM_STEP_INPUTS / TINYLSTM_NUM_OUTPUTS
 * / TINYLSTM_IS_CLASSIFIER + TINYLSTM_CLASS_NAMES (a window model, a classifier) gets W x F inputs and K outputs
 * read from TINYLSTM_OUTPUT_INDEX on (probabilities are not unscaled); without them: the reference model's
 * TINYLSTM_NUM_FEATURES inputs and one output. The scaler is indexed k mod its length (per feature for a window).
 * Stream mode needs the C engine: a one-step flatbuffer (TINYLSTM_HAS_STREAM_TFLITE) is not wired in here yet.
 */
#ifdef TINYLSTM_ENGINE_TFLM

#include <stdint.h>
#include <string.h>

#include "engine.h"
#include "model.h"

#include <tflm_esp32.h>

#if defined(TINYLSTM_FLOAT_IO) && TINYLSTM_FLOAT_IO
#define FLOAT_IO 1
#else
#define FLOAT_IO 0
#endif

#ifdef TINYLSTM_NUM_INPUTS
#define ENGINE_INPUTS TINYLSTM_NUM_INPUTS
#else
#define ENGINE_INPUTS TINYLSTM_NUM_FEATURES
#endif
#ifdef TINYLSTM_STEP_INPUTS
#define ENGINE_STEP_INPUTS TINYLSTM_STEP_INPUTS
#else
#define ENGINE_STEP_INPUTS 1
#endif
#ifdef TINYLSTM_NUM_OUTPUTS
#define ENGINE_OUTPUTS TINYLSTM_NUM_OUTPUTS
#else
#define ENGINE_OUTPUTS 1
#endif
#if defined(TINYLSTM_IS_CLASSIFIER) && TINYLSTM_IS_CLASSIFIER
#define ENGINE_CLASSIFIER 1
#else
#define ENGINE_CLASSIFIER 0
#endif

namespace {

/* registerNetworkOps(tf) calls tf.resolver.Add<Op>() for each op of the flatbuffer (EloquentTinyML style). */
struct OpRegistry {
    tflite::MicroMutableOpResolver<TF_NUM_OPS> resolver;
};

OpRegistry ops;
alignas(16) uint8_t tensor_arena[TF_ARENA_SIZE];
tflite::MicroInterpreter *interpreter = nullptr;
#if ENGINE_CLASSIFIER
const char *const class_names[ENGINE_OUTPUTS] = TINYLSTM_CLASS_NAMES;
#endif

/* The self-check's expected outputs of vector k, whether the header stores one value per vector or K. */
template <int N> const float *expected_row(const float (&a)[N], int k) { return &a[k]; }
template <int N, int K> const float *expected_row(const float (&a)[N][K], int k) { return a[k]; }

}  // namespace

extern "C" int engine_init(void) {
    if (interpreter != nullptr) return 0;
    const tflite::Model *model = tflite::GetModel(tfModel);
    if (model->version() != TFLITE_SCHEMA_VERSION) return 1;
    registerNetworkOps(ops);
    static tflite::MicroInterpreter instance(model, ops.resolver, tensor_arena, sizeof tensor_arena);
    if (instance.AllocateTensors() != kTfLiteOk) return 2; /* arena too small or an op missing */
    TfLiteTensor *in = instance.input(0);
    TfLiteTensor *out = instance.output(0);
    const bool int8_io = TINYLSTM_INT8 && !FLOAT_IO;
    const TfLiteType want = int8_io ? kTfLiteInt8 : kTfLiteFloat32;
    if (in == nullptr || out == nullptr || in->type != want || out->type != want) return 3;
    if (in->bytes / (int8_io ? 1 : sizeof(float)) != TF_NUM_INPUTS) return 4;
    if (out->bytes / (int8_io ? 1 : sizeof(float)) != TF_NUM_OUTPUTS) return 4;
    if (TINYLSTM_OUTPUT_INDEX + ENGINE_OUTPUTS > TF_NUM_OUTPUTS || ENGINE_INPUTS != TF_NUM_INPUTS) return 4;
    interpreter = &instance;
    return 0;
}

extern "C" const char *engine_name(void) { return "tflm-" TINYLSTM_VARIANT; }

extern "C" int engine_num_inputs(void) { return ENGINE_INPUTS; }
extern "C" int engine_step_inputs(void) { return ENGINE_STEP_INPUTS; }
extern "C" int engine_num_outputs(void) { return ENGINE_OUTPUTS; }
extern "C" int engine_is_classifier(void) { return ENGINE_CLASSIFIER; }

extern "C" const char *engine_class_name(int k) {
#if ENGINE_CLASSIFIER
    if (k >= 0 && k < ENGINE_OUTPUTS) return class_names[k];
#else
    (void)k;
#endif
    return "";
}

extern "C" int engine_argmax(const float *outputs) {
    int best = 0;
    for (int j = 1; j < ENGINE_OUTPUTS; ++j) {
        if (outputs[j] > outputs[best]) best = j;
    }
    return best;
}

extern "C" int engine_predict(const float *raw_inputs, float *outputs) {
    if (interpreter == nullptr || raw_inputs == nullptr || outputs == nullptr) return 1;
    if (interpreter->Reset() != kTfLiteOk) return 2; /* independent sample: clear the LSTM state */
    TfLiteTensor *in = interpreter->input(0);
#if FLOAT_IO /* eloquent header: the graph scales, quantises and unscales */
    for (int k = 0; k < ENGINE_INPUTS; ++k) in->data.f[k] = raw_inputs[k];
    if (interpreter->Invoke() != kTfLiteOk) return 3;
    for (int j = 0; j < ENGINE_OUTPUTS; ++j) outputs[j] = interpreter->output(0)->data.f[TINYLSTM_OUTPUT_INDEX + j];
    return 0;
#else
    const int scaler_size = (int)(sizeof tinylstm_x_mean / sizeof tinylstm_x_mean[0]);
    for (int k = 0; k < ENGINE_INPUTS; ++k) {
        const float scaled = tinylstm_scale_input(k % scaler_size, raw_inputs[k]);
#if TINYLSTM_INT8
        in->data.int8[k] = tinylstm_quantize_input(scaled);
#else
        in->data.f[k] = scaled;
#endif
    }
    if (interpreter->Invoke() != kTfLiteOk) return 3;
    const TfLiteTensor *out = interpreter->output(0);
    for (int j = 0; j < ENGINE_OUTPUTS; ++j) {
#if TINYLSTM_INT8
        const float y = tinylstm_dequantize_output(out->data.int8[TINYLSTM_OUTPUT_INDEX + j]);
#else
        const float y = out->data.f[TINYLSTM_OUTPUT_INDEX + j];
#endif
        outputs[j] = ENGINE_CLASSIFIER ? y : tinylstm_unscale_output(y);
    }
    return 0;
#endif
}

extern "C" int engine_can_stream(void) { return 0; }

extern "C" const char *engine_stream_error(void) {
#ifdef TINYLSTM_HAS_STREAM_TFLITE
    return "stream needs the C engine (this app does not run the header's one-step flatbuffer yet)";
#else
    return "stream needs the C engine";
#endif
}

extern "C" void engine_reset(void) {}

extern "C" int engine_step(const float *raw_step, float *outputs) {
    (void)raw_step;
    (void)outputs;
    return 4;
}

extern "C" int engine_num_vectors(void) { return TINYLSTM_NUM_VECTORS; }

extern "C" void engine_vector(int k, const float **raw_inputs, const float **expected, float *tolerance) {
    if (k < 0 || k >= TINYLSTM_NUM_VECTORS) k = 0;
    *raw_inputs = tinylstm_vector_inputs[k];
    *expected = expected_row(tinylstm_vector_expected, k);
    *tolerance = tinylstm_vector_tolerance;
}

#endif /* TINYLSTM_ENGINE_TFLM */
