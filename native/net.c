/* LUT network construction and evaluation, with the SIMD path picked at run
 * time so that one build serves every CPU of its architecture. */
#if defined(__aarch64__) || defined(__arm__)
/* On ARM, GCC's -O3 (the package's flag) makes the table-driven kernel execute up to 3.9x the
 * instructions of -O2 (counted under qemu, apps/arm_instructions.py: aarch64 F = 4, 29,274 -> 7,540
 * per frame); on x86 -O2 halves its speed, so only ARM takes it. */
#pragma GCC optimize("O2")
#endif
#include <stdlib.h>
#include <string.h>
#include "internal.h"
#if defined(__arm__) && defined(__GNUC__) && !defined(__ARM_NEON) && defined(__linux__)
#define LR_ARM32_NEON 1 /* 32-bit ARM built without NEON (Debian's armhf): a NEON instance, picked at run time */
#include <sys/auxv.h>
#ifndef HWCAP_NEON
#define HWCAP_NEON (1 << 12)
#endif
#endif

/* Scalar instance: one word (64 samples) at a time, for small batches and
 * for the tail of a batch that does not fill a wide vector. */
#define LR_V uint64_t
#define LR_VW 1
#define LR_FN(n) n##_w1
#include "kernel.h"
#undef LR_V
#undef LR_VW
#undef LR_FN

typedef uint64_t lr_v8 __attribute__((vector_size(8 * LR_TILE_WORDS)));

/* Portable wide instance: GCC lowers the vector to what the target has
 * (SSE2 on x86-64, NEON on aarch64, scalar words elsewhere). */
#define LR_V lr_v8
#define LR_VW LR_TILE_WORDS
#define LR_FN(n) n##_generic
#include "kernel.h"
#undef LR_FN

#ifdef LR_X86_GCC
#pragma GCC push_options
#pragma GCC target("avx2")
#define LR_FN(n) n##_avx2
#include "kernel.h"
#undef LR_FN
#pragma GCC pop_options

#pragma GCC push_options
#pragma GCC target("avx512f")
#define LR_FN(n) n##_avx512
#include "kernel.h"
#undef LR_FN
#pragma GCC pop_options
#endif

#ifdef LR_ARM32_NEON
#pragma GCC push_options
#pragma GCC target("fpu=neon")
#define LR_FN(n) n##_neon
#include "kernel.h"
#undef LR_FN
#pragma GCC pop_options
#endif
#undef LR_V
#undef LR_VW

typedef void (*lr_eval_fn)(const lr_net *, const uint64_t *, uint64_t *,
                           int64_t, int64_t, int64_t, uint64_t *);

static lr_eval_fn lr_wide_eval(const char **name)
{
#ifdef LR_X86_GCC
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) {
        *name = "avx512";
        return eval_avx512;
    }
    if (__builtin_cpu_supports("avx2")) {
        *name = "avx2";
        return eval_avx2;
    }
#endif
#ifdef LR_ARM32_NEON
    if (getauxval(AT_HWCAP) & HWCAP_NEON) { /* the Cortex-A9 of a PYNQ-Z2 has it */
        *name = "neon";
        return eval_neon;
    }
#endif
#if defined(__aarch64__) || defined(__ARM_NEON)
    *name = "neon"; /* the portable instance is NEON code here: every AArch64 core has it */
#else
    *name = "generic";
#endif
    return eval_generic;
}

const char *lr_simd_name(void)
{
    const char *name;
    lr_wide_eval(&name);
    return name;
}

void lr_net_free(lr_net *net)
{
    if (!net)
        return;
    free(net->width);
    free(net->fan_in);
    free(net->offset);
    free(net->inputs);
    free(net->tables);
    free(net);
}

/* Table of a k-input LUT as a 6-input one that ignores inputs k..5. */
static uint64_t lr_expand_table(uint64_t t, int k)
{
    for (int m = k; m < LR_MAX_FAN_IN; m++)
        t = (t & ((1ULL << (1 << m)) - 1)) | (t << (1 << m));
    return t;
}

int lr_net_new(int32_t n_inputs, int32_t n_layers, const int32_t *width,
               const int32_t *fan_in, const int32_t *inputs,
               const uint64_t *tables, lr_net **out)
{
    if (!out || !width || !fan_in || !inputs || !tables || n_inputs < 1 || n_layers < 1)
        return LR_EINVAL;
    *out = NULL;
    int64_t total = 0;
    int32_t prev = n_inputs, max_width = 0;
    for (int32_t l = 0; l < n_layers; l++) {
        if (width[l] < 1 || fan_in[l] < 1 || fan_in[l] > LR_MAX_FAN_IN)
            return LR_EINVAL;
        total += width[l];
        max_width = width[l] > max_width ? width[l] : max_width;
    }
    lr_net *net = calloc(1, sizeof *net);
    if (!net)
        return LR_ENOMEM;
    net->n_inputs = n_inputs;
    net->n_layers = n_layers;
    net->max_width = max_width;
    net->width = malloc(sizeof(int32_t) * n_layers);
    net->fan_in = malloc(sizeof(int32_t) * n_layers);
    net->offset = malloc(sizeof(int64_t) * n_layers);
    net->inputs = malloc(sizeof(int32_t) * LR_MAX_FAN_IN * total);
    net->tables = malloc(sizeof(uint64_t) * total);
    if (!net->width || !net->fan_in || !net->offset || !net->inputs || !net->tables) {
        lr_net_free(net);
        return LR_ENOMEM;
    }
    int64_t lut = 0;
    const int32_t *src = inputs;
    for (int32_t l = 0; l < n_layers; l++) {
        const int k = fan_in[l];
        net->width[l] = width[l];
        net->fan_in[l] = k;
        net->offset[l] = lut;
        for (int32_t j = 0; j < width[l]; j++, lut++, src += k) {
            int32_t *dst = net->inputs + lut * LR_MAX_FAN_IN;
            for (int m = 0; m < LR_MAX_FAN_IN; m++) {
                const int32_t i = src[m < k ? m : 0];
                if (i < 0 || i >= prev) {
                    lr_net_free(net);
                    return LR_EINVAL;
                }
                dst[m] = i;
            }
            if (k < LR_MAX_FAN_IN && (tables[lut] >> (1 << k)) != 0) {
                lr_net_free(net);
                return LR_EINVAL;
            }
            net->tables[lut] = lr_expand_table(tables[lut], k);
        }
        prev = width[l];
    }
    *out = net;
    return LR_OK;
}

int lr_net_set_kernel(lr_net *net, lr_kernel_fn kernel)
{
    if (!net)
        return LR_EINVAL;
    net->kernel = kernel;
    return LR_OK;
}

int64_t lr_net_scratch_words(const lr_net *net)
{
    /* The layout lr_kernel.h states: two ping-pong layer buffers per tile of a block, then the input rows of a
     * block of tiles. */
    return net ? (2 * (int64_t)LR_BLOCK_TILES * net->max_width + (int64_t)LR_STAGE_TILES * net->n_inputs) *
                     LR_TILE_WORDS
               : 0;
}

int lr_eval(const lr_net *net, const uint64_t *in, uint64_t *out,
            int64_t stride, int64_t w0, int64_t w1, uint64_t *scratch)
{
    if (!net || !in || !out || !scratch || w0 < 0 || w1 < w0 || w1 > stride)
        return LR_EINVAL;
    if (net->kernel) {
        net->kernel(in, out, stride, w0, w1, scratch);
        return LR_OK;
    }
    const char *name;
    const lr_eval_fn wide = lr_wide_eval(&name);
    const int64_t split = w0 + (w1 - w0) / LR_TILE_WORDS * LR_TILE_WORDS;
    wide(net, in, out, stride, w0, split, scratch);
    eval_w1(net, in, out, stride, split, w1, scratch);
    return LR_OK;
}
