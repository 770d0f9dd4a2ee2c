/*
 * Stand-in for tflm_esp32 2.0.0's <tflm_esp32.h> (eloquentarduino/tflm_esp32, commit 5fe67df): compile checks only.
 * The real header pulls in TensorFlow Lite Micro and defines ELOQUENT_TFLM, which EloquentTinyML's tf.h requires
 * (tf.h line 4: `#ifndef ELOQUENT_TFLM` -> #error). The numerics are checked through TFLM itself from Python
 * (tests/test_eloquent.py), not here.
 */
#ifndef TINYLSTM_STANDIN_TFLM_ESP32_H
#define TINYLSTM_STANDIN_TFLM_ESP32_H
#define ELOQUENT_TFLM
#endif
