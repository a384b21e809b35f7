/* Definitions shared by the native sources, not part of the ABI. */
#ifndef LUTRUN_INTERNAL_H
#define LUTRUN_INTERNAL_H
#include "lutrun.h"

#define LR_MAX_FAN_IN 6

/* Every LUT is stored as a 6-input LUT: unused inputs repeat input 0 and the
 * table is replicated over them, so the result cannot depend on them. */
struct lr_net {
    int32_t n_inputs;
    int32_t n_layers;
    int32_t max_width;
    int32_t *width;    /* [n_layers] */
    int32_t *fan_in;   /* [n_layers] */
    int64_t *offset;   /* [n_layers] first LUT of each layer */
    int32_t *inputs;   /* [total LUTs x 6] */
    uint64_t *tables;  /* [total LUTs], expanded to 64 bits */
    lr_kernel_fn kernel; /* model-specialised evaluator, or NULL */
};

struct lr_modulator {
    int32_t method, frames, lo, hi, n_pixels, pattern_words;
    int16_t *steps; /* [frames] when every sub-frame's bit is a step of the value (v >= steps[f], 0..256), else NULL */
    uint32_t seed;
    uint64_t *patterns; /* [256 x pattern_words] when the bits depend on the value only */
    uint8_t *ones;      /* [256] when every pattern is its value's count of low bits (thermometer), else NULL */
};

#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__)) && !defined(__clang__)
#define LR_X86_GCC 1
/* popcnt is not in the x86-64 baseline: let the loader pick a clone. */
#define LR_POPCNT_CLONES __attribute__((target_clones("popcnt", "default")))
/* Vector code with popcounts: AVX-512, AVX2 (both with popcnt) or the baseline. */
#define LR_VOTE_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
/* Plain byte arithmetic, twice as wide with AVX2 (AVX-512 gains nothing on these memory-bound loops). */
#define LR_AVX2_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define LR_POPCNT_CLONES
#define LR_VOTE_CLONES
#define LR_AVX2_CLONES
#endif

/* The output rows of each class, class by class: rows[first[c] .. first[c + 1]) vote for class c. */
typedef struct {
    int32_t *first; /* [n_classes + 1] */
    int32_t *rows;  /* [outputs that vote] */
} lr_vote_rows;
/* `classes` already checked (-1 or a class, per output). */
int lr_vote_rows_new(const int32_t *classes, int32_t n_out, int32_t n_classes, lr_vote_rows *out);
void lr_vote_rows_free(lr_vote_rows *v);
/* lr_votes with its checks done and its grouping built once (the session's per-call path). */
void lr_votes_by_rows(const uint64_t *out, int64_t stride, const lr_vote_rows *v, int32_t n_classes,
                      int32_t frames, int64_t n_frames, int32_t *scores);

/* One word of up to LR_LANES_MAX_SAMPLES samples (`bits`), eight LUTs a vector (native/lanes.c); rows one
 * word apart.  LR_EINVAL where this CPU lacks the instructions (lr_lanes_name() is then "") or bits exceed it. */
int lr_eval_lanes(const lr_net *net, const uint64_t *in, uint64_t *out, int bits, uint64_t *scratch);

static inline int lr_ceil_div(int64_t a, int64_t b) { return (int)((a + b - 1) / b); }

#endif
