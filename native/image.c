/* Image reductions for the camera path, before the Preprocessor's OpenCV steps. */
#include "internal.h"

int lr_halve_u8(const uint8_t *src, int64_t row_stride, int64_t step, int32_t rows, int32_t cols,
                uint8_t *dst)
{
    if (!src || !dst || rows < 2 || cols < 2 || step < 1 || row_stride < step * cols)
        return LR_EINVAL;
    const int32_t out_rows = rows / 2, out_cols = cols / 2;
    for (int32_t r = 0; r < out_rows; r++) {
        const uint8_t *a = src + 2 * r * row_stride, *b = a + row_stride;
        uint8_t *o = dst + (int64_t)r * out_cols;
        if (step == 2) { /* the luma of packed YUV: vectorised by the compiler (64-bit indices: with
                          * Python's -fwrapv, 32-bit ones would stop it) */
            for (int64_t c = 0; c < out_cols; c++)
                o[c] = (uint8_t)((uint32_t)(a[4 * c] + a[4 * c + 2] + b[4 * c] + b[4 * c + 2] + 2) >> 2);
        } else {
            for (int32_t c = 0; c < out_cols; c++) {
                const int64_t i = 2 * c * step;
                o[c] = (uint8_t)((a[i] + a[i + step] + b[i] + b[i + step] + 2) >> 2);
            }
        }
    }
    return LR_OK;
}
