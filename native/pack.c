/* Conversion between 0/1 bytes and the bit-sliced layout. */
#include <string.h>
#include "internal.h"

int lr_pack(const uint8_t *bits, int64_t n_samples, int32_t n_features,
            uint64_t *packed, int64_t stride)
{
    if (!bits || !packed || n_samples < 0 || n_features < 0 || stride * 64 < n_samples)
        return LR_EINVAL;
    memset(packed, 0, sizeof(uint64_t) * (size_t)stride * (size_t)n_features);
    for (int64_t s = 0; s < n_samples; s++) {
        const uint8_t *row = bits + s * n_features;
        const uint64_t bit = 1ULL << (s & 63);
        uint64_t *word = packed + (s >> 6);
        for (int32_t j = 0; j < n_features; j++)
            if (row[j])
                word[(int64_t)j * stride] |= bit;
    }
    return LR_OK;
}

int lr_unpack(const uint64_t *packed, int64_t stride, int64_t n_samples,
              int32_t n_features, uint8_t *bits)
{
    if (!bits || !packed || n_samples < 0 || n_features < 0 || stride * 64 < n_samples)
        return LR_EINVAL;
    for (int64_t s = 0; s < n_samples; s++) {
        uint8_t *row = bits + s * n_features;
        const uint64_t *word = packed + (s >> 6);
        for (int32_t j = 0; j < n_features; j++)
            row[j] = (uint8_t)((word[(int64_t)j * stride] >> (s & 63)) & 1);
    }
    return LR_OK;
}
