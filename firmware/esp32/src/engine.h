/*
 * engine.h - the inference engine interface of the tinylstm ESP32 firmware (serial protocol 2).
 *
 * The serial protocol and the boot self-check (the app) are written against this interface only; each
 * PlatformIO environment links exactly one implementation:
 *   [env:esp32dev]    engine_tflm.cpp  - TensorFlow Lite Micro running the flatbuffer in include/model.h
 *   [env:esp32dev-c]  engine_c.cpp     - the runtime-free C engine (lib/tinylstm_c/tinylstm_model.{h,c})
 * Host tests compile the app with an engine on the PC (see tests/).
 *
 * Shapes: a whole-window request holds engine_num_inputs() = W x F raw values, step-major (x[t * F + f]); a stream
 * step holds engine_step_inputs() = F raw values. The network has engine_num_outputs() = K outputs.
 * Units: inputs are RAW CSV units (e.g. ENGINE SIZE [L], CYLINDERS, COEMISSIONS [g/km]); the outputs are in
 * target units for a regression (e.g. FUEL CONSUMPTION [L/100km]) or the K class probabilities for a classifier.
 * Scaling/quantisation happen inside the engine.
 */
#ifndef TINYLSTM_ENGINE_H
#define TINYLSTM_ENGINE_H

#ifdef __cplusplus
extern "C" {
#endif

/* One-time initialisation; returns 0 on success, non-zero on failure (e.g. arena too small). */
int engine_init(void);

/* Short name for the boot banner, e.g. "tflm-int8" or "c-float". */
const char *engine_name(void);

/* Raw values of one whole-window request: W x F (3 for the reference model). */
int engine_num_inputs(void);

/* Raw values of one time step in stream mode: F (1 for the reference model's feature_per_step layout). */
int engine_step_inputs(void);

/* Network outputs K (1 for a regression). */
int engine_num_outputs(void);

/* 1 when the outputs are class probabilities, 0 for a regression. */
int engine_is_classifier(void);

/* Name of class k (0 <= k < K) of a classifier; "" for a regression or k out of range. */
const char *engine_class_name(int k);

/* Index of the largest of the K outputs (the first one on a tie). */
int engine_argmax(const float *outputs);

/* One independent inference on a whole window (state reset first, the stream state untouched): K outputs;
 * returns 0 on success. */
int engine_predict(const float *raw_inputs, float *outputs);

/* Stream mode: 1 when engine_reset/engine_step work with this engine and model, 0 otherwise (then the app answers
 * "stream" with engine_stream_error()). */
int engine_can_stream(void);
const char *engine_stream_error(void);

/* Clear the stream state (h, c of every layer and the step count). */
void engine_reset(void);

/* One time step of F raw values: the network's K outputs after it (the state carries on); 0 on success. */
int engine_step(const float *raw_step, float *outputs);

/* Self-check vectors generated with the model: raw inputs (W x F), the K expected outputs and their tolerance
 * (same units). */
int engine_num_vectors(void);
void engine_vector(int k, const float **raw_inputs, const float **expected, float *tolerance);

#ifdef __cplusplus
}
#endif

#endif /* TINYLSTM_ENGINE_H */
