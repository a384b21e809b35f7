/* The C engine on its own, against golden values from the numpy reference (tests/test_kernels.py
 * writes the case file and runs this, cross-compiled and static, under qemu-user for the boards' ARM).
 *
 * Case file, little-endian: "LRGC", then int32 n_inputs, n_layers, n_classes, method, frames, lo, hi,
 * uint32 seed; int32 widths[n_layers], fan_in[n_layers]; int32 inputs (each layer's [width x fan_in]);
 * uint64 tables[all LUTs]; int32 classes[last width]; int64 n_frames; uint8 pixels[n_frames x n_inputs];
 * uint64 modulated[n_inputs x words]; uint64 outputs[last width x words]; int32 scores[n_frames x
 * n_classes]; with words = ceil(n_frames * frames / 64).
 * Built with -DLR_GOLDEN_KERNEL, the model's specialised kernel (linked in) is checked as well.
 * Exit status 0 when every modulated bit, output bit and score matches.
 * `golden CASE --classify-only` runs the fused call alone and checks nothing: for counting the
 * instructions a frame costs under an emulator (docs/boards.md).
 * `golden --area ROWS COLS STEP OUT_ROWS OUT_COLS REPEATS` reduces a camera-like image REPEATS times with
 * lr_area_u8 and prints the result in hex: byte b of row r is (131 r + 71 b + (r ^ b)) mod 256, and the image
 * is every STEP-th byte of each row (the luma of YUYV: 2). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "lutrun.h"

static FILE *in;

static void *take(size_t bytes)
{
    void *p = malloc(bytes ? bytes : 1);
    if (!p || fread(p, 1, bytes, in) != bytes) {
        fprintf(stderr, "golden: truncated case file\n");
        exit(2);
    }
    return p;
}

static int compare(const char *what, const uint64_t *got, const uint64_t *want, int64_t rows, int64_t words,
                   int64_t samples)
{
    int64_t bad = 0;
    for (int64_t r = 0; r < rows; r++)
        for (int64_t w = 0; w < words; w++) {
            int64_t valid = samples - w * 64;
            uint64_t mask = valid >= 64 ? ~0ULL : (1ULL << valid) - 1;
            bad += ((got[r * words + w] ^ want[r * words + w]) & mask) != 0;
        }
    if (bad)
        fprintf(stderr, "golden: %s: %lld words differ\n", what, (long long)bad);
    return bad != 0;
}

#ifdef LR_GOLDEN_KERNEL
#include "lr_kernel.h"
#endif

static int area(char **argv)
{
    const int32_t rows = atoi(argv[2]), cols = atoi(argv[3]), step = atoi(argv[4]), out_rows = atoi(argv[5]),
                  out_cols = atoi(argv[6]), repeats = atoi(argv[7]);
    const int64_t stride = (int64_t)cols * step;
    uint8_t *image = malloc((size_t)(rows * stride) + 1), *out = malloc((size_t)out_rows * out_cols + 1);
    uint32_t *acc = malloc(4 * ((size_t)cols + (cols + 1) / 2) + 4);
    if (!image || !out || !acc)
        return 2;
    for (int64_t r = 0; r < rows; r++)
        for (int64_t b = 0; b < stride; b++)
            image[r * stride + b] = (uint8_t)(131 * r + 71 * b + (r ^ b));
    for (int32_t i = 0; i < repeats; i++)
        if (lr_area_u8(image, stride, step, rows, cols, out, out_rows, out_cols, acc) != LR_OK) {
            fprintf(stderr, "golden: lr_area_u8 refused the image\n");
            return 2;
        }
    for (int64_t i = 0; i < (int64_t)out_rows * out_cols; i++)
        printf("%02x", out[i]);
    printf("\n");
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 8 && !strcmp(argv[1], "--area"))
        return area(argv);
    const int classify_only = argc == 3 && !strcmp(argv[2], "--classify-only");
    if ((argc != 2 && !classify_only) || !(in = fopen(argv[1], "rb"))) {
        fprintf(stderr, "usage: golden CASE [--classify-only] | golden --area ROWS COLS STEP OUT_ROWS OUT_COLS REPEATS\n");
        return 2;
    }
    char magic[4];
    if (fread(magic, 1, 4, in) != 4 || memcmp(magic, "LRGC", 4)) {
        fprintf(stderr, "golden: not a case file\n");
        return 2;
    }
    int32_t head[8];
    memcpy(head, take(sizeof head), sizeof head);
    const int32_t n_inputs = head[0], n_layers = head[1], n_classes = head[2], method = head[3], F = head[4];
    const uint32_t seed = (uint32_t)head[7];
    int32_t *width = take(4 * (size_t)n_layers), *fan_in = take(4 * (size_t)n_layers);
    int64_t n_index = 0, n_luts = 0;
    for (int32_t l = 0; l < n_layers; l++) {
        n_index += (int64_t)width[l] * fan_in[l];
        n_luts += width[l];
    }
    int32_t *inputs = take(4 * (size_t)n_index);
    uint64_t *tables = take(8 * (size_t)n_luts);
    const int32_t n_out = width[n_layers - 1];
    int32_t *classes = take(4 * (size_t)n_out);
    int64_t n_frames;
    memcpy(&n_frames, take(8), 8);
    const int64_t samples = n_frames * F, words = (samples + 63) / 64;
    uint8_t *pixels = take((size_t)(n_frames * n_inputs));
    uint64_t *want_mod = take(8 * (size_t)(n_inputs * words)), *want_out = take(8 * (size_t)(n_out * words));
    int32_t *want_scores = take(4 * (size_t)(n_frames * n_classes));

    lr_net *net;
    lr_modulator *mod;
    lr_session *session;
    if (lr_net_new(n_inputs, n_layers, width, fan_in, inputs, tables, &net) ||
        lr_modulator_new(method, F, seed, head[5], head[6], n_inputs, &mod) ||
        lr_session_new(net, mod, classes, n_classes, &session)) {
        fprintf(stderr, "golden: the engine refused the case\n");
        return 2;
    }
#ifdef LR_GOLDEN_KERNEL
    lr_net_set_kernel(net, lrx_eval);
#endif
    uint64_t *mod_rows = calloc((size_t)(n_inputs * words), 8), *out = calloc((size_t)(n_out * words), 8);
    uint64_t *scratch = malloc(8 * (size_t)lr_net_scratch_words(net));
    int32_t *scores = calloc((size_t)(n_frames * n_classes), 4);
    if (classify_only)
        return lr_classify(session, pixels, n_frames, 0, scores) != LR_OK;
    int failed = lr_modulate(mod, pixels, n_frames, 0, mod_rows, words) != LR_OK;
    failed |= compare("modulator", mod_rows, want_mod, n_inputs, words, samples);
    failed |= lr_eval(net, want_mod, out, words, 0, words, scratch) != LR_OK;
    failed |= compare("LUT outputs", out, want_out, n_out, words, samples);
    failed |= lr_classify(session, pixels, n_frames, 0, scores) != LR_OK;
    if (memcmp(scores, want_scores, 4 * (size_t)(n_frames * n_classes))) {
        fprintf(stderr, "golden: scores differ\n");
        failed = 1;
    }
    printf("golden: %s kernel %s, %lld frames x F=%d, %lld LUTs: %s\n", lr_simd_name(),
#ifdef LR_GOLDEN_KERNEL
           "specialised",
#else
           "generic",
#endif
           (long long)n_frames, F, (long long)n_luts, failed ? "MISMATCH" : "exact");
    return failed;
}
