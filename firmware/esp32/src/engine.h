/*
 * engine.h - the inference engine interface of the tinylstm ESP32 firmware.
 *
 * The serial protocol and the boot self-check (the app) are written against this interface only; each
 * PlatformIO environment links exactly one implementation:
 *   [env:esp32dev]    engine_tflm.cpp  - TensorFlow Lite Micro running the flatbuffer in include/model.h
 *   [env:esp32dev-c]  engine_c.cpp     - the runtime-free C engine (lib/tinylstm_c/tinylstm_model.{h,c})
 * Host tests compile the app with an engine on the PC (see tests/).
 *
 * Units: inputs are RAW CSV units (e.g. ENGINE SIZE [L], CYLINDERS, COEMISSIONS [g/km]); the output is in
 * target units (e.g. FUEL CONSUMPTION [L/100km]). Scaling/quantisation happen inside the engine.
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

/* Number of raw inputs per inference (3 for the reference model). */
int engine_num_inputs(void);

/* Run one independent inference (state reset first); returns 0 on success. */
int engine_predict(const float *raw_inputs, float *prediction);

/* Self-check vectors generated with the model: raw inputs, the expected output and its tolerance (same units). */
int engine_num_vectors(void);
void engine_vector(int k, const float **raw_inputs, float *expected, float *tolerance);

#ifdef __cplusplus
}
#endif

#endif /* TINYLSTM_ENGINE_H */
