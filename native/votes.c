/* Vote accumulation: popcounts over each frame's run of F samples. */
#include <string.h>
#include "internal.h"

/* Number of set bits in bits [start, start + len) of a packed row. */
static inline int64_t lr_count_range(const uint64_t *row, int64_t start, int64_t len)
{
    int64_t count = 0, w = start >> 6;
    int b = (int)(start & 63);
    while (len > 0) {
        uint64_t v = row[w++] >> b;
        const int64_t take = 64 - b < len ? 64 - b : len;
        if (take < 64)
            v &= (1ULL << take) - 1;
        count += __builtin_popcountll(v);
        len -= take;
        b = 0;
    }
    return count;
}

LR_POPCNT_CLONES
int lr_votes(const uint64_t *out, int64_t stride, int32_t n_out,
             const int32_t *classes, int32_t n_classes, int32_t frames,
             int64_t n_frames, int32_t *scores)
{
    if (!out || !classes || !scores || n_classes < 1 || frames < 1 || n_frames < 0 ||
        stride * 64 < n_frames * frames)
        return LR_EINVAL;
    for (int32_t o = 0; o < n_out; o++)
        if (classes[o] < -1 || classes[o] >= n_classes)
            return LR_EINVAL;
    memset(scores, 0, sizeof(int32_t) * (size_t)n_frames * (size_t)n_classes);
    for (int32_t o = 0; o < n_out; o++) {
        const int32_t c = classes[o];
        if (c < 0)
            continue;
        const uint64_t *row = out + (int64_t)o * stride;
        int32_t *score = scores + c;
        if (frames <= 64) { /* a frame's bits span at most two words: one funnel shift */
            const uint64_t mask = frames == 64 ? ~0ULL : (1ULL << frames) - 1;
            for (int64_t i = 0, start = 0; i < n_frames; i++, start += frames, score += n_classes) {
                const int b = (int)(start & 63);
                uint64_t v = row[start >> 6] >> b;
                if (b + frames > 64)
                    v |= row[(start >> 6) + 1] << (64 - b);
                *score += __builtin_popcountll(v & mask);
            }
        } else {
            for (int64_t i = 0; i < n_frames; i++, score += n_classes)
                *score += (int32_t)lr_count_range(row, i * frames, frames);
        }
    }
    return LR_OK;
}
