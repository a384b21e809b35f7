/* Vote accumulation, bit-sliced: a class's output rows are summed as binary counters held in
 * bit-planes (plane k is bit k of every sample's count, one bit per sample, as the rows are), a
 * block of LR_VOTE_WORDS words at a time; then each frame's score is the weighted popcount of the
 * planes over its F samples (sum_k 2^k popcount(plane_k & frame)).  The per-row cost is a
 * ripple-carry add over the planes, shared by 512 samples at once, so the cost per frame no
 * longer grows with outputs x samples.  The RTL's vote stage (lutrun.rtl.netlist) sums the same
 * counts per class. */
#include <stdlib.h>
#include <string.h>
#include "internal.h"

#define LR_VOTE_WORDS 8  /* words per block: 512 samples */
#define LR_VOTE_PLANES 32 /* counts up to 2^32 - 1 outputs per class */

typedef uint64_t lr_vv __attribute__((vector_size(8 * LR_VOTE_WORDS)));
typedef lr_vv lr_vvu __attribute__((aligned(8), may_alias));

/* A carry-save adder: (high, low) = a + b + c, bit by bit. */
#define LR_CSA(high, low, a, b, c)            \
    do {                                      \
        const lr_vv u_ = (a) ^ (b);           \
        (high) = ((a) & (b)) | (u_ & (c));    \
        (low) = u_ ^ (c);                     \
    } while (0)

static inline lr_vv lr_vote_load(const uint64_t *row, int full, int64_t words)
{
    lr_vv x = {0};
    if (full)
        x = *(const lr_vvu *)row;
    else
        memcpy(&x, row, 8 * (size_t)words);
    return x;
}

/* Set bits of plane row `p` (LR_VOTE_WORDS words) in [start, start + len), len <= 64 * LR_VOTE_WORDS. */
static inline int64_t lr_plane_count(const uint64_t *p, int64_t start, int64_t len)
{
    int64_t count = 0, w = start >> 6;
    int b = (int)(start & 63);
    while (len > 0) {
        uint64_t v = p[w++] >> b;
        const int64_t take = 64 - b < len ? 64 - b : len;
        if (take < 64)
            v &= (1ULL << take) - 1;
        count += __builtin_popcountll(v);
        len -= take;
        b = 0;
    }
    return count;
}

#ifdef LR_X86_GCC
#include <immintrin.h>

static int lr_votes_vpopcnt; /* set at load: the CPU has AVX-512 VPOPCNTDQ */

__attribute__((constructor)) static void lr_votes_init(void)
{
    __builtin_cpu_init();
    lr_votes_vpopcnt = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vpopcntdq");
}

/* Every frame's score off one block's planes, eight frames at a time (frames <= 64, so that a frame's
 * samples in the block lie in one word or two neighbours): lane i picks frame f0 + i's words out of a
 * plane's eight with a permute, masks them to the frame's samples, popcounts them and adds them at the
 * plane's weight.  The scalar loop below spends a branchy bit-range count per frame and plane. */
__attribute__((target("avx512f,avx512vpopcntdq"))) static void
lr_frame_scores_avx512(const uint64_t (*plane)[LR_VOTE_WORDS], int planes, int64_t b0, int64_t b1,
                       int32_t frames, int32_t c, int32_t n_classes, int32_t *scores)
{
    const __m512i one = _mm512_set1_epi64(1), step = _mm512_set_epi64(7, 6, 5, 4, 3, 2, 1, 0);
    const __m512i starts = _mm512_mullo_epi32(step, _mm512_set1_epi64(frames)); /* small: 32 bits suffice */
    const __m512i lo_b = _mm512_set1_epi64(b0), hi_b = _mm512_set1_epi64(b1);
    for (int64_t f0 = b0 / frames; f0 * frames < b1; f0 += 8) {
        const __m512i start = _mm512_add_epi64(_mm512_set1_epi64(f0 * frames), starts);
        const __mmask8 in = _mm512_cmplt_epi64_mask(start, hi_b);
        const __m512i s0 = _mm512_sub_epi64(_mm512_max_epi64(start, lo_b), lo_b);
        const __m512i s1 = _mm512_sub_epi64(_mm512_min_epi64(_mm512_add_epi64(start, _mm512_set1_epi64(frames)),
                                                             hi_b), lo_b);
        const __m512i len = _mm512_sub_epi64(s1, s0), bit = _mm512_and_si512(s0, _mm512_set1_epi64(63));
        const __m512i word = _mm512_srli_epi64(s0, 6);
        const __m512i next = _mm512_min_epi64(_mm512_add_epi64(word, one), _mm512_set1_epi64(LR_VOTE_WORDS - 1));
        /* (1 << len) - 1 is all ones at len = 64: a shift by 64 gives 0 */
        const __m512i lo = _mm512_maskz_sllv_epi64(in, _mm512_sub_epi64(_mm512_sllv_epi64(one, len), one), bit);
        const __m512i over = _mm512_max_epi64(_mm512_sub_epi64(_mm512_add_epi64(bit, len), _mm512_set1_epi64(64)),
                                              _mm512_setzero_si512());
        const __m512i hi = _mm512_maskz_sub_epi64(in, _mm512_sllv_epi64(one, over), one);
        __m512i sum = _mm512_setzero_si512();
        for (int k = 0; k < planes; k++) {
            const __m512i p = _mm512_loadu_si512(plane[k]);
            const __m512i n = _mm512_add_epi64(_mm512_popcnt_epi64(_mm512_and_si512(_mm512_permutexvar_epi64(word, p), lo)),
                                               _mm512_popcnt_epi64(_mm512_and_si512(_mm512_permutexvar_epi64(next, p), hi)));
            sum = _mm512_add_epi64(sum, _mm512_sll_epi64(n, _mm_cvtsi32_si128(k)));
        }
        int64_t v[8];
        _mm512_storeu_si512(v, sum);
        for (int i = 0; i < 8 && (f0 + i) * frames < b1; i++)
            scores[(f0 + i) * n_classes + c] += (int32_t)v[i];
    }
}
#endif

LR_VOTE_CLONES
static void lr_votes_class(const uint64_t *out, int64_t stride, const int32_t *rows, int32_t n_rows,
                           int32_t c, int32_t n_classes, int32_t frames, int64_t n_frames,
                           int32_t *scores)
{
    int planes = 1;
    while (planes < LR_VOTE_PLANES && ((int64_t)1 << planes) <= n_rows)
        planes++;
    const int64_t samples = n_frames * frames;
    if (samples <= 64) { /* one word (a single frame): plain popcounts, no planes to build and read back */
        const uint64_t frame_mask = frames == 64 ? ~0ULL : (1ULL << frames) - 1;
        for (int64_t f = 0; f < n_frames; f++) {
            const uint64_t mask = frame_mask << (f * frames);
            int64_t v = 0;
            for (int32_t r = 0; r < n_rows; r++)
                v += __builtin_popcountll(out[(int64_t)rows[r] * stride] & mask);
            scores[f * n_classes + c] += (int32_t)v;
        }
        return;
    }
    for (int64_t b0 = 0; b0 < samples; b0 += 64 * LR_VOTE_WORDS) {
        const int64_t w0 = b0 >> 6, words = (samples - b0 + 63) >> 6;
        const int full = words >= LR_VOTE_WORDS;
        lr_vv acc[LR_VOTE_PLANES];
        for (int k = 0; k < planes; k++) /* only the planes in use: all 32 would be 2 KB per block */
            acc[k] = (lr_vv){0};
        int32_t r = 0;
        if (planes >= 4) /* eight rows at a time through carry-save adders into planes 0..2 (Harley-Seal) */
            for (; r + 8 <= n_rows; r += 8) {
                lr_vv x[8], twos_a, twos_b, fours_a, fours_b, eights;
                for (int i = 0; i < 8; i++)
                    x[i] = lr_vote_load(out + (int64_t)rows[r + i] * stride + w0, full, words);
                LR_CSA(twos_a, acc[0], acc[0], x[0], x[1]);
                LR_CSA(twos_b, acc[0], acc[0], x[2], x[3]);
                LR_CSA(fours_a, acc[1], acc[1], twos_a, twos_b);
                LR_CSA(twos_a, acc[0], acc[0], x[4], x[5]);
                LR_CSA(twos_b, acc[0], acc[0], x[6], x[7]);
                LR_CSA(fours_b, acc[1], acc[1], twos_a, twos_b);
                LR_CSA(eights, acc[2], acc[2], fours_a, fours_b);
                for (int k = 3; k < planes; k++) { /* ripple-carry add of the eights */
                    const lr_vv carry = acc[k] & eights;
                    acc[k] ^= eights;
                    eights = carry;
                }
            }
        for (; r < n_rows; r++) {
            lr_vv x = lr_vote_load(out + (int64_t)rows[r] * stride + w0, full, words);
            for (int k = 0; k < planes; k++) { /* ripple-carry add of one bit per sample */
                const lr_vv carry = acc[k] & x;
                acc[k] ^= x;
                x = carry;
            }
        }
        uint64_t plane[LR_VOTE_PLANES][LR_VOTE_WORDS];
        memcpy(plane, acc, sizeof(lr_vv) * (size_t)planes);
        const int64_t b1 = b0 + 64 * LR_VOTE_WORDS < samples ? b0 + 64 * LR_VOTE_WORDS : samples;
        if (frames == 1) { /* a frame per sample: read each sample's count off the planes, 64 at a time */
            for (int64_t w = 0; w * 64 < b1 - b0; w++) {
                uint32_t count[64] = {0};
                for (int k = 0; k < planes; k++) {
                    const uint64_t p = plane[k][w];
                    for (int i = 0; i < 64; i++)
                        count[i] |= (uint32_t)((p >> i) & 1) << k;
                }
                const int64_t s0 = b0 + w * 64, n = b1 - s0 < 64 ? b1 - s0 : 64;
                for (int64_t i = 0; i < n; i++)
                    scores[(s0 + i) * n_classes + c] += (int32_t)count[i];
            }
            continue;
        }
        /* Frames overlapping the block; one straddling two blocks gets its two parts added. */
#ifdef LR_X86_GCC
        if (lr_votes_vpopcnt && frames <= 64) {
            lr_frame_scores_avx512(plane, planes, b0, b1, frames, c, n_classes, scores);
            continue;
        }
#endif
        for (int64_t f = b0 / frames; f * frames < b1; f++) {
            const int64_t s0 = f * frames > b0 ? f * frames : b0;
            const int64_t s1 = (f + 1) * frames < b1 ? (f + 1) * frames : b1;
            int64_t v = 0;
            for (int k = 0; k < planes; k++)
                v += lr_plane_count(plane[k], s0 - b0, s1 - s0) << k;
            scores[f * n_classes + c] += (int32_t)v;
        }
    }
}

int lr_vote_rows_new(const int32_t *classes, int32_t n_out, int32_t n_classes, lr_vote_rows *out)
{
    out->first = calloc((size_t)n_classes + 1, sizeof(int32_t));
    out->rows = malloc(sizeof(int32_t) * (size_t)(n_out ? n_out : 1));
    int32_t *next = malloc(sizeof(int32_t) * (size_t)n_classes);
    if (!out->first || !out->rows || !next) {
        free(next);
        lr_vote_rows_free(out);
        return LR_ENOMEM;
    }
    /* A counting sort of the outputs by class. */
    for (int32_t o = 0; o < n_out; o++)
        if (classes[o] >= 0)
            out->first[classes[o] + 1]++;
    for (int32_t c = 0; c < n_classes; c++)
        out->first[c + 1] += out->first[c];
    memcpy(next, out->first, sizeof(int32_t) * (size_t)n_classes);
    for (int32_t o = 0; o < n_out; o++)
        if (classes[o] >= 0)
            out->rows[next[classes[o]]++] = o;
    free(next);
    return LR_OK;
}

void lr_vote_rows_free(lr_vote_rows *v)
{
    free(v->first);
    free(v->rows);
    v->first = v->rows = NULL;
}

void lr_votes_by_rows(const uint64_t *out, int64_t stride, const lr_vote_rows *v, int32_t n_classes,
                      int32_t frames, int64_t n_frames, int32_t *scores)
{
    memset(scores, 0, sizeof(int32_t) * (size_t)n_frames * (size_t)n_classes);
    for (int32_t c = 0; c < n_classes; c++)
        if (v->first[c + 1] > v->first[c])
            lr_votes_class(out, stride, v->rows + v->first[c], v->first[c + 1] - v->first[c], c, n_classes,
                           frames, n_frames, scores);
}

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
    lr_vote_rows v;
    if (lr_vote_rows_new(classes, n_out, n_classes, &v) != LR_OK)
        return LR_ENOMEM;
    lr_votes_by_rows(out, stride, &v, n_classes, frames, n_frames, scores);
    lr_vote_rows_free(&v);
    return LR_OK;
}

int lr_predict(const int32_t *scores, int64_t n_frames, int32_t n_classes, int64_t *classes)
{
    if (n_classes < 1 || n_frames < 0 || (n_frames > 0 && (!scores || !classes)))
        return LR_EINVAL;
    for (int64_t i = 0; i < n_frames; i++, scores += n_classes) {
        int32_t best = 0;
        for (int32_t c = 1; c < n_classes; c++)
            best = scores[c] > scores[best] ? c : best;
        classes[i] = best;
    }
    return LR_OK;
}
