/* The camera path's one reduction: a crop of any size to the model's input, read in place. */

#include "internal.h"

/* Whole source rows summed at once in uint16 before one multiply: 257 * 255 = 65535. */
#define LR_ROWS_PER_SUM 257

/* Runs body for c in [0, cols) with in = row[c * step]; step 1 (grey) and 2 (the luma of packed YUV) get
 * loops of their own, which the compiler vectorises (64-bit indices: with Python's -fwrapv, 32-bit ones
 * would stop it). */
#define LR_COLUMNS(row, step, cols, body)                                                                   \
    do {                                                                                                    \
        if ((step) == 1) {                                                                                  \
            for (int64_t c = 0; c < (cols); c++) { const uint32_t in = (row)[c]; body; }                    \
        } else if ((step) == 2) {                                                                           \
            for (int64_t c = 0; c < (cols); c++) { const uint32_t in = (row)[2 * c]; body; }                \
        } else {                                                                                            \
            for (int64_t c = 0; c < (cols); c++) { const uint32_t in = (row)[c * (step)]; body; }           \
        }                                                                                                   \
    } while (0)

/* acc = w_first * row first + w_inner * (rows first + 1 .. last - 1) + w_last * row last (last > first), or
 * w_first * row first alone (last == first): the weighted column sums of one output row. */
LR_AVX2_CLONES static void sum_rows(uint32_t *restrict acc, uint16_t *restrict sums, const uint8_t *src,
                                    int64_t row_stride, int64_t step, int64_t cols, int64_t first, int64_t last,
                                    uint32_t w_first, uint32_t w_inner, uint32_t w_last)
{
    const uint8_t *row = src + first * row_stride;
    LR_COLUMNS(row, step, cols, acc[c] = w_first * in);
    if (last == first)
        return;
    for (int64_t r = first + 1; r < last; r += LR_ROWS_PER_SUM) {
        const int64_t end = r + LR_ROWS_PER_SUM < last ? r + LR_ROWS_PER_SUM : last;
        row = src + r * row_stride;
        LR_COLUMNS(row, step, cols, sums[c] = (uint16_t)in);
        for (int64_t k = r + 1; k < end; k++) {
            row = src + k * row_stride;
            LR_COLUMNS(row, step, cols, sums[c] = (uint16_t)(sums[c] + in));
        }
        for (int64_t c = 0; c < cols; c++)
            acc[c] += w_inner * sums[c];
    }
    row = src + last * row_stride;
    LR_COLUMNS(row, step, cols, acc[c] += w_last * in);
}

/* Walks the cells of an output axis of n over a source axis of m (units of lr_area_u8: cell i spans
 * [i * m, (i + 1) * m) = [q * n + r, ...)) without a division per cell, which would cost more than all of a
 * small image's sums.  32-bit throughout (m, n <= LR_AREA_MAX_PIXELS): the boards' A9 is a 32-bit core. */
struct axis {
    int32_t n, m, step_q, step_r, q, r;
};

static struct axis axis_start(int32_t n, int32_t m)
{
    return (struct axis){.n = n, .m = m, .step_q = m / n, .step_r = m % n};
}

/* The next cell's first and last source elements and the overlaps of those two with it (w_first = m when
 * the cell lies within one element). */
static void axis_next(struct axis *a, int32_t *first, int32_t *last, uint32_t *w_first, uint32_t *w_last)
{
    *first = a->q;
    const int32_t r = a->r;
    a->q += a->step_q;
    a->r += a->step_r;
    if (a->r >= a->n) {
        a->r -= a->n;
        a->q++;
    }
    *last = a->r > 0 ? a->q : a->q - 1;
    *w_first = (uint32_t)(*last == *first ? a->m : a->n - r);
    *w_last = (uint32_t)(a->r > 0 ? a->r : a->n);
}

/* (sum + area / 2) / area, a mean of uint8: a division per output pixel would cost more than all of a
 * small image's sums, so a floating multiply estimates it (from two uint32 conversions, which 32-bit ARM
 * does in one instruction each and a uint64 would take a library call), off by at most one, and integers
 * correct it. */
static inline uint8_t rounded_mean(uint32_t sum, uint32_t area, double inverse)
{
    const uint64_t n = (uint64_t)sum + area / 2;
    uint32_t q = (uint32_t)(((double)sum + (double)(area / 2)) * inverse);
    if ((uint64_t)q * area > n)
        q--;
    else if ((uint64_t)(q + 1) * area <= n)
        q++;
    return (uint8_t)q;
}

int lr_area_u8(const uint8_t *src, int64_t row_stride, int64_t step, int32_t rows, int32_t cols,
               uint8_t *dst, int32_t out_rows, int32_t out_cols, uint32_t *acc)
{
    if (!src || !dst || !acc || rows < 1 || cols < 1 || out_rows < 1 || out_cols < 1 || out_rows > rows
        || out_cols > cols || step < 1 || row_stride < step * cols
        || (int64_t)rows * cols > LR_AREA_MAX_PIXELS)
        return LR_EINVAL;
    /* In units where source row r spans [r * out_rows, (r + 1) * out_rows) and output row y spans
     * [y * rows, (y + 1) * rows), a source row's weight in an output row is their overlap (out_rows for a
     * row inside it): whole integers, so the mean is exact.  Columns likewise.  A cell's sum is at most
     * 255 * rows * cols: within uint32 (LR_AREA_MAX_PIXELS). */
    uint16_t *sums = (uint16_t *)(acc + cols);
    const uint32_t area = (uint32_t)rows * (uint32_t)cols;
    const double inverse = 1.0 / (double)area;
    struct axis down = axis_start(out_rows, rows);
    for (int32_t y = 0; y < out_rows; y++) {
        int32_t first, last;
        uint32_t w_first, w_last;
        axis_next(&down, &first, &last, &w_first, &w_last);
        sum_rows(acc, sums, src, row_stride, step, cols, first, last, w_first, (uint32_t)out_rows, w_last);
        struct axis across = axis_start(out_cols, cols);
        for (int32_t x = 0; x < out_cols; x++) {
            int32_t c0, c1;
            uint32_t wl, wr;
            axis_next(&across, &c0, &c1, &wl, &wr);
            uint32_t sum = wl * acc[c0];
            if (c1 > c0) {
                uint32_t inner = 0;
                for (int32_t c = c0 + 1; c < c1; c++)
                    inner += acc[c];
                sum += (uint32_t)out_cols * inner + wr * acc[c1];
            }
            dst[(int64_t)y * out_cols + x] = rounded_mean(sum, area, inverse);
        }
    }
    return LR_OK;
}
