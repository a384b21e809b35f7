/* lutrun native ABI: the one declaration of every C entry point.
 *
 * The cffi build script feeds this file (minus preprocessor lines) to cdef, so
 * keep it to plain typedefs, enums and prototypes.  Every entry point returns
 * an LR_* status; the Python side turns non-zero codes into exceptions.
 *
 * Bit-sliced layout ("packed"): a set of samples is stored feature-major, one
 * row of `stride` uint64 words per feature; sample s lives in bit (s % 64) of
 * word (s / 64) of every row.  For frames, sample s = frame * F + subframe.
 */
#ifndef LUTRUN_H
#define LUTRUN_H
#include <stdint.h>
#include "lr_kernel.h" /* lr_kernel_fn, LR_TILE_WORDS: the specialised kernel's contract */

enum {
    LR_OK = 0,
    LR_EINVAL = 1,   /* an argument is out of range or inconsistent */
    LR_ENOMEM = 2    /* an allocation failed */
};

/* Words of samples per chunk of lr_classify (2,048 samples): its rows stay in L2.  bench fused
 * times the stages one such chunk at a time, as the fused call runs them. */
enum { LR_CHUNK_WORDS = 32 };

enum {
    LR_MOD_THERMOMETER = 0,
    LR_MOD_STOCHASTIC = 1,
    LR_MOD_SIGMA_DELTA = 2
};

typedef struct lr_net lr_net;
typedef struct lr_modulator lr_modulator;
typedef struct lr_session lr_session;

/* Name of the SIMD path chosen at run time for the LUT kernel. */
const char *lr_simd_name(void);
/* Name of the LUT-parallel path that lr_classify takes for calls of up to LR_LANES_MAX_SAMPLES
 * samples (a single frame at F <= 16), or "" where this CPU has none and they take the LUT kernel. */
enum { LR_LANES_MAX_SAMPLES = 16 };
const char *lr_lanes_name(void);

/* A LUT network.  `fan_in[l]` inputs per LUT of layer l; `inputs` holds every
 * layer's [width[l] x fan_in[l]] index matrix back to back, `tables` every
 * layer's truth tables (LUT6.INIT convention).  The arrays are copied. */
int lr_net_new(int32_t n_inputs, int32_t n_layers, const int32_t *width,
               const int32_t *fan_in, const int32_t *inputs,
               const uint64_t *tables, lr_net **net);
void lr_net_free(lr_net *net);
/* A model-specialised evaluator (C generated and compiled per model by
 * lutrun.codegen; its contract is lr_kernel.h).  Once set, lr_eval and
 * lr_classify use it; NULL restores the generic kernel. */
int lr_net_set_kernel(lr_net *net, lr_kernel_fn kernel);
/* uint64 words of scratch that lr_eval needs. */
int64_t lr_net_scratch_words(const lr_net *net);

/* Evaluate words [w0, w1) of packed rows: `in` has n_inputs rows, `out` has
 * the last layer's width rows, both with row stride `stride` words. */
int lr_eval(const lr_net *net, const uint64_t *in, uint64_t *out,
            int64_t stride, int64_t w0, int64_t w1, uint64_t *scratch);

/* 0/1 bytes [n_samples x n_features] <-> packed rows [n_features x stride]. */
int lr_pack(const uint8_t *bits, int64_t n_samples, int32_t n_features,
            uint64_t *packed, int64_t stride);
int lr_unpack(const uint64_t *packed, int64_t stride, int64_t n_samples,
              int32_t n_features, uint8_t *bits);

/* The exact area mean of a uint8 image whose rows are row_stride bytes apart and whose columns are step
 * bytes apart (the luma of packed YUV: 2), reduced to contiguous dst [out_rows][out_cols] (no larger than
 * the image), rounded half up: OpenCV's INTER_AREA in integers, in one pass over the camera's buffer.
 * At most LR_AREA_MAX_PIXELS source pixels (every sum within uint32: 4096 x 4096 fits).  acc: scratch of
 * cols + (cols + 1) / 2 uint32 (column sums, and whole rows summed in uint16). */
enum { LR_AREA_MAX_PIXELS = 16843009 }; /* UINT32_MAX / 255 */
int lr_area_u8(const uint8_t *src, int64_t row_stride, int64_t step, int32_t rows, int32_t cols,
               uint8_t *dst, int32_t out_rows, int32_t out_cols, uint32_t *acc);

/* Class scores: scores[i][c] = number of set bits of frame i's F samples over
 * the rows whose class is c (classes[o] = -1: no vote). */
int lr_votes(const uint64_t *out, int64_t stride, int32_t n_out,
             const int32_t *classes, int32_t n_classes, int32_t frames,
             int64_t n_frames, int32_t *scores);

/* The class of each of n_frames frames from its scores [n_frames x n_classes]: the first maximum, the lowest
 * class on ties (numpy's argmax, which spends ~40 ns a frame on rows of ten). */
int lr_predict(const int32_t *scores, int64_t n_frames, int32_t n_classes, int64_t *classes);

/* Binary oversampling modulator for frames of n_pixels uint8 values. */
int lr_modulator_new(int32_t method, int32_t frames, uint32_t seed,
                     int32_t lo, int32_t hi, int32_t n_pixels,
                     lr_modulator **mod);
void lr_modulator_free(lr_modulator *mod);
/* Write the F sub-frames of n_frames frames (frame counter starting at
 * frame0) as packed rows [n_pixels x stride]; stride*64 >= n_frames*F. */
int lr_modulate(const lr_modulator *mod, const uint8_t *pixels,
                int64_t n_frames, uint32_t frame0, uint64_t *out,
                int64_t stride);

/* Temporal mode (docs/modulation.md): one sample per frame, sample i being
 * sub-frame ((frame0 + i) mod 2^32) mod F of frame i; stride*64 >= n_frames. */
int lr_modulate_temporal(const lr_modulator *mod, const uint8_t *pixels,
                         int64_t n_frames, uint32_t frame0, uint64_t *out,
                         int64_t stride);

/* Fused frames -> class scores with buffers allocated once.  The session
 * borrows net and mod: free it before them.  One thread at a time. */
int lr_session_new(const lr_net *net, const lr_modulator *mod,
                   const int32_t *classes, int32_t n_classes,
                   lr_session **session);
void lr_session_free(lr_session *session);
int lr_classify(lr_session *session, const uint8_t *frames, int64_t n_frames,
                uint32_t frame0, int32_t *scores);
/* Temporal mode: each frame's one sub-frame votes v, then per class
 * state <- state - (state >> shift) + v (shift in 0..16) and the frame's
 * scores are the new state.  `state` [n_classes] carries across calls. */
int lr_classify_temporal(lr_session *session, const uint8_t *frames,
                         int64_t n_frames, uint32_t frame0, int32_t shift,
                         int64_t *state, int32_t *scores);

#endif
