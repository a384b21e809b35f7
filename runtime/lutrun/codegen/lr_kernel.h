/* The contract of a model-specialised LUT kernel, in one place for its three readers: the C engine
 * (native/, which calls it), the generated code's fixed frame (codegen/specialised_kernel.c, which
 * defines it) and lutrun.codegen (whose cffi loader reads these declarations).
 *
 * A kernel evaluates words [w0, w1) of packed rows for one fixed net, with lr_eval's contract
 * (native/lutrun.h).  Its scratch holds, LR_TILE_WORDS words per row, two ping-pong layer buffers
 * of max_width rows for each of LR_BLOCK_TILES tiles and then contiguous copies of the n_inputs input
 * rows of up to LR_STAGE_TILES tiles (read at constant offsets):
 * (2 * LR_BLOCK_TILES * max_width + LR_STAGE_TILES * n_inputs) * LR_TILE_WORDS words in all
 * (lr_net_scratch_words).
 */
#ifndef LR_KERNEL_H
#define LR_KERNEL_H
#include <stdint.h>

enum {
    LR_TILE_WORDS = 8,  /* words per wide vector: 512 samples */
    LR_STAGE_TILES = 4, /* tiles whose inputs a kernel copies at once from rows far apart */
    LR_BLOCK_TILES = 2, /* tiles each generated function runs over before the next (its code then comes from L1) */
    LR_KERNEL_ABI = 3   /* bumped whenever anything in this file changes meaning */
};

typedef void (*lr_kernel_fn)(const uint64_t *in, uint64_t *out, int64_t stride, int64_t w0, int64_t w1,
                             uint64_t *scratch);

/* -- exported by a kernel library (the C engine reads only what is above) -- */
void lrx_eval(const uint64_t *in, uint64_t *out, int64_t stride, int64_t w0, int64_t w1, uint64_t *scratch);
/* The network digest (Model.net_digest) the kernel was generated for, and LR_KERNEL_ABI at its build. */
const char *lrx_net_digest(void);
int lrx_abi(void);

#endif
