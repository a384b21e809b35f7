/* Model-specialised LUT evaluator.  This fixed frame includes one generated part
 * of the model, LRX_BODY (the model's LUTs as straight-line code, tables folded in
 * as constants), once per vector width, after lutnet_decl.h (the model's sizes and
 * every part's function names).  lutrun.codegen writes one translation unit per
 * part so that they compile in parallel; the one with LRX_MAIN defines the entry
 * points.  It builds them for the machine that runs them (or cross-compiles them
 * for a board) and caches the library by model digest.  Contract: lr_kernel.h. */
#include <stdint.h>
#include "lr_kernel.h"
/* Parts call each other directly, not through the library's symbol table. */
#define LRX_PART_FN __attribute__((visibility("hidden")))

typedef uint64_t lr_w1;
typedef uint64_t lr_w8 __attribute__((vector_size(8 * LR_TILE_WORDS)));

#define MUX_GENERIC(a, b, s) (((a) & ~(s)) | ((b) & (s)))
#define MUX(a, b, s) MUX_GENERIC(a, b, s)
/* s ? b : a as one 3-input operation whose result takes a's register: a (a subtree) dies here,
 * s (an input of the LUT) is read again. */
#define MUX_TERNARY(a, b, s) T3(0xd8, a, b, s)
/* Any 3-input function as a mux tree over constants; the compiler folds it. */
#define BIT(imm, i) ((((imm) >> (i)) & 1) ? ~z : z)
#define T3_GENERIC(imm, c, b, a)                                                         \
    MUX_GENERIC(MUX_GENERIC(MUX_GENERIC(BIT(imm, 0), BIT(imm, 1), a),                        \
                            MUX_GENERIC(BIT(imm, 2), BIT(imm, 3), a), b),                     \
                MUX_GENERIC(MUX_GENERIC(BIT(imm, 4), BIT(imm, 5), a),                        \
                            MUX_GENERIC(BIT(imm, 6), BIT(imm, 7), a), b), c)

/* The body reads row i of buffer b with LD(b, i) (rows VW words apart) and
 * writes LUT j with ST(b, j, value) into rows VW words apart, or with
 * STO(j, value) into the caller's output rows, `stride` words apart. */
#if defined(__AVX512F__)
#include <immintrin.h>
#endif

/* One word (64 samples): for single frames and batch tails.  With AVX-512VL a
 * 3-input function is one instruction on a 128-bit register holding the word. */
#if defined(__AVX512VL__)
typedef uint64_t lr_w2 __attribute__((vector_size(16)));
#define V lr_w2
/* Loaded and stored straight from and to memory: a word built with {x, 0} goes through a general
 * register, one more instruction, on the port the 3-input operations need. */
static inline lr_w2 lr_load_w1(const uint64_t *p)
{
    lr_w2 v;
    __asm__("vmovq %1, %0" : "=v"(v) : "m"(*p));
    return v;
}
#define LD(b, i) lr_load_w1((b) + (i))
#define ST(b, j, e) _mm_storel_epi64((__m128i *)((b) + (j)), (__m128i)(e))
#define STO(j, e) _mm_storel_epi64((__m128i *)(out + (int64_t)(j) * stride), (__m128i)(e))
#define T3(imm, c, b, a) \
    ((V)__builtin_ia32_pternlogq128_mask((__v2di)(c), (__v2di)(b), (__v2di)(a), (imm), (__mmask8)-1))
#undef MUX
#define MUX MUX_TERNARY
#else
#define V lr_w1
#define LD(b, i) ((b)[(i)])
#define ST(b, j, e) ((b)[(j)] = (e))
#define STO(j, e) (out[(int64_t)(j) * stride] = (e))
#define T3 T3_GENERIC
#endif
#define VW 1
#define FN(n) n##_w1
#include "lutnet_decl.h"
#include LRX_BODY
#undef V
#undef LD
#undef ST
#undef STO
#undef T3
#undef VW
#undef FN
#undef MUX
#define MUX(a, b, s) MUX_GENERIC(a, b, s)

/* A wide vector of LR_TILE_WORDS words (512 samples), unaligned rows allowed. */
typedef lr_w8 lr_w8u __attribute__((aligned(8), may_alias));
#define V lr_w8
#define LD(b, i) (*(const lr_w8u *)((b) + (i) * LR_TILE_WORDS))
#define ST(b, j, e) (*(lr_w8u *)((b) + (j) * LR_TILE_WORDS) = (e))
#define STO(j, e) (*(lr_w8u *)(out + (int64_t)(j) * stride) = (e))
#if defined(__AVX512F__)
/* One instruction per 3-input function: imm bit (c<<2 | b<<1 | a).  The builtin that the intrinsic
 * _mm512_ternarylogic_epi64 wraps, called directly: the same code, but the compiler need not inline an
 * intrinsic function per operation (a sixth of its time on a part of the default model). */
#define T3(imm, c, b, a) \
    ((lr_w8)__builtin_ia32_pternlogq512_mask((__v8di)(c), (__v8di)(b), (__v8di)(a), (imm), (__mmask8)-1))
#undef MUX
#define MUX MUX_TERNARY
#else
#define T3 T3_GENERIC
#endif
#define VW LR_TILE_WORDS
#define FN(n) n##_w8
#include "lutnet_decl.h"
#include LRX_BODY

#ifdef LRX_MAIN
/* Each tile's input rows are copied into scratch so that the body reads them at constant offsets.  Where
 * the caller's rows lie farther apart than a block of LR_STAGE_TILES tiles, the inputs of a whole block are
 * copied at once: a tile alone reads one lone cache line from each of its rows (rows 8 KiB apart in
 * `bench engine`), a block reads a run of lines from each, which the prefetcher follows.  The tiles then
 * run LR_BLOCK_TILES at a time, each generated function over all of them before the next: the second
 * tile reads the function's code from L1 and the decoded-instruction cache, where one tile alone reads
 * the whole kernel (~150 bytes a LUT) from L2. */
void lrx_eval(const uint64_t *in, uint64_t *out, int64_t stride, int64_t w0, int64_t w1,
              uint64_t *scratch)
{
    const int64_t layer = (int64_t)LRX_MAX_WIDTH * LR_TILE_WORDS;
    uint64_t *s0 = scratch, *s1 = s0 + LR_BLOCK_TILES * layer, *rows = s1 + LR_BLOCK_TILES * layer;
    const int64_t stage = stride > LR_STAGE_TILES * LR_TILE_WORDS ? LR_STAGE_TILES : LR_BLOCK_TILES;
    int64_t w = w0;
    while (w + LR_TILE_WORDS <= w1) {
        const int64_t tiles = (w1 - w) / LR_TILE_WORDS < stage ? (w1 - w) / LR_TILE_WORDS : stage;
        for (int64_t i = 0; i < LRX_INPUTS; i++)
            for (int64_t t = 0; t < tiles; t++)
                *(lr_w8u *)(rows + (t * LRX_INPUTS + i) * LR_TILE_WORDS) =
                    *(const lr_w8u *)(in + i * stride + w + t * LR_TILE_WORDS);
        for (int64_t t0 = 0; t0 < tiles; t0 += LR_BLOCK_TILES)
            for (int f = 0; f < LRX_FUNCTIONS; f++)
                for (int64_t t = t0; t < tiles && t < t0 + LR_BLOCK_TILES; t++)
                    functions_w8[f](rows + t * LRX_INPUTS * LR_TILE_WORDS, s0 + (t - t0) * layer,
                                    s1 + (t - t0) * layer, out + w + t * LR_TILE_WORDS, stride);
        w += tiles * LR_TILE_WORDS;
    }
    for (; w < w1; w++) {
        for (int64_t i = 0; i < LRX_INPUTS; i++)
            rows[i] = in[i * stride + w];
        for (int f = 0; f < LRX_FUNCTIONS; f++)
            functions_w1[f](rows, s0, s1, out + w, stride);
    }
}

const char *lrx_net_digest(void) { return LRX_DIGEST; }

int lrx_abi(void) { return LR_KERNEL_ABI; }
#endif
