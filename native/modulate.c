/* Binary oversampling: each uint8 pixel becomes F bits, written straight into
 * the bit-sliced rows the LUT kernel reads (sample = frame * F + subframe).
 * The bit rules are documented in docs/modulation.md and mirrored bit for bit
 * by lutrun.modulate (numpy) and the RTL modulator. */
#include <stdlib.h>
#include <string.h>
#include "internal.h"

/* lowbias32 (C. Wellons): a 32-bit integer hash that RTL can also compute. */
static inline uint32_t lr_mix32(uint32_t x)
{
    x ^= x >> 16;
    x *= 0x7feb352dU;
    x ^= x >> 15;
    x *= 0x846ca68bU;
    x ^= x >> 16;
    return x;
}

/* A pixel value's offset into the range: a = clip(v, lo, hi) - lo. */
static inline int64_t lr_offset(const lr_modulator *m, int v)
{
    return (v < m->lo ? m->lo : v > m->hi ? m->hi : v) - m->lo;
}

/* The stochastic bit of pixel p with value v, hs = mix32(mix32(seed ^ n) ^ f). */
static inline int lr_stochastic_bit(const lr_modulator *m, uint8_t v, uint32_t hs, int32_t p)
{
    const uint64_t a = (uint64_t)lr_offset(m, v);
    const uint64_t t = lr_mix32(hs ^ (uint32_t)p) >> 8;
    return (a << 24) > t * (uint64_t)(m->hi - m->lo);
}

/* Sub-frame f of a pixel at offset a = clip(v, lo, hi) - lo, d = hi - lo. */
static int lr_thermometer_bit(int64_t a, int64_t d, int64_t f, int64_t frames)
{
    return (2 * f + 1) * d < 2 * frames * a;
}

void lr_modulator_free(lr_modulator *mod)
{
    if (mod) {
        free(mod->patterns);
        free(mod->steps);
        free(mod->ones);
        free(mod);
    }
}

/* For the deterministic methods the F bits depend on the pixel value only:
 * precompute them for all 256 values. */
static void lr_fill_patterns(lr_modulator *m)
{
    const int64_t d = m->hi - m->lo;
    for (int v = 0; v < 256; v++) {
        uint64_t *pat = m->patterns + (int64_t)v * m->pattern_words;
        const int64_t a = lr_offset(m, v);
        int64_t err = 0;
        for (int64_t f = 0; f < m->frames; f++) {
            int bit;
            if (m->method == LR_MOD_THERMOMETER) {
                bit = lr_thermometer_bit(a, d, f, m->frames);
            } else { /* sigma-delta, in units of 1 / (2d) */
                const int64_t s = err + 2 * a;
                bit = s >= d;
                err = s - 2 * d * bit;
            }
            pat[f >> 6] |= (uint64_t)bit << (f & 63);
        }
    }
}

/* Bit f of a value's pattern (value-only rules). */
static inline int lr_pattern_bit(const lr_modulator *m, int32_t v, int32_t f)
{
    return (int)(m->patterns[(int64_t)v * m->pattern_words + (f >> 6)] >> (f & 63)) & 1;
}

#ifdef LR_X86_GCC
/* The CPUs that take lr_modulate_ones_avx512. */
static int lr_has_avx512vbmi(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vbmi");
}
#endif

int lr_modulator_new(int32_t method, int32_t frames, uint32_t seed, int32_t lo,
                     int32_t hi, int32_t n_pixels, lr_modulator **out)
{
    if (!out || method < LR_MOD_THERMOMETER || method > LR_MOD_SIGMA_DELTA || frames < 1 ||
        lo < 0 || hi > 255 || lo >= hi || n_pixels < 1)
        return LR_EINVAL;
    *out = NULL;
    lr_modulator *m = calloc(1, sizeof *m);
    if (!m)
        return LR_ENOMEM;
    m->method = method;
    m->frames = frames;
    m->seed = seed;
    m->lo = lo;
    m->hi = hi;
    m->n_pixels = n_pixels;
    m->pattern_words = lr_ceil_div(frames, 64);
    if (method != LR_MOD_STOCHASTIC) {
        m->patterns = calloc((size_t)256 * m->pattern_words, sizeof(uint64_t));
        if (!m->patterns) {
            free(m);
            return LR_ENOMEM;
        }
        lr_fill_patterns(m);
    }
    if (m->patterns && !(m->steps = malloc(sizeof(int16_t) * (size_t)frames))) {
        lr_modulator_free(m);
        return LR_ENOMEM;
    }
    for (int32_t f = 0; m->steps && f < frames; f++) { /* is sub-frame f's bit a step of the value? */
        int32_t v = 0, w;
        while (v < 256 && !lr_pattern_bit(m, v, f))
            v++;
        for (w = v; w < 256 && lr_pattern_bit(m, w, f); w++)
            ;
        if (w < 256) { /* not a step (sigma-delta's middle sub-frames): the general path */
            free(m->steps);
            m->steps = NULL;
        } else {
            m->steps[f] = (int16_t)v;
        }
    }
#ifdef LR_X86_GCC
    if (m->steps && frames <= 64 && lr_has_avx512vbmi()) { /* thermometer: each pattern is the low ones[v] bits */
        if (!(m->ones = malloc(256))) {
            lr_modulator_free(m);
            return LR_ENOMEM;
        }
        for (int v = 0; v < 256 && m->ones; v++) {
            const int n = __builtin_popcountll(m->patterns[v]);
            if (m->patterns[v] != (n == 64 ? ~0ULL : (1ULL << n) - 1)) {
                free(m->ones);
                m->ones = NULL;
            } else {
                m->ones[v] = (uint8_t)n;
            }
        }
    }
#endif
    *out = m;
    return LR_OK;
}

/* The word a row is written in: on a 32-bit core a 64-bit variable shift costs a dozen
 * instructions, so there the (little-endian) uint64 rows are written as 32-bit halves. */
#if UINTPTR_MAX == 0xFFFFFFFFu && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
typedef uint32_t lr_word;
#else
typedef uint64_t lr_word;
#endif
enum { LR_WORD_BITS = 8 * sizeof(lr_word), LR_WORDS_PER_ROW_WORD = 64 / LR_WORD_BITS };

/* Appends runs of bits to one packed row, a word at a time. */
typedef struct {
    lr_word *row, acc;
    int64_t word;
    int bit;
} lr_writer;

static inline lr_writer lr_writer_at(uint64_t *row)
{
    return (lr_writer){(lr_word *)row, 0, 0, 0};
}

/* n <= LR_WORD_BITS bits of v (none above them). */
static inline void lr_append(lr_writer *w, lr_word v, int n)
{
    w->acc |= v << w->bit;
    if (w->bit + n >= LR_WORD_BITS) {
        w->row[w->word++] = w->acc;
        w->acc = w->bit ? v >> (LR_WORD_BITS - w->bit) : 0;
        w->bit = w->bit + n - LR_WORD_BITS;
    } else {
        w->bit += n;
    }
}

/* n <= 64 bits of v, in words. */
static inline void lr_append64(lr_writer *w, uint64_t v, int n)
{
    for (; n > LR_WORD_BITS; n -= LR_WORD_BITS, v = v >> (LR_WORD_BITS - 1) >> 1)
        lr_append(w, (lr_word)v, LR_WORD_BITS);
    lr_append(w, (lr_word)v, n);
}

/* The last bits, and zeros to the end of the row word they fall in. */
static inline void lr_finish(lr_writer *w)
{
    if (w->bit)
        w->row[w->word++] = w->acc;
    while (w->word % LR_WORDS_PER_ROW_WORD)
        w->row[w->word++] = 0;
}

/* F <= LR_WORD_BITS: four pixel rows at a time, so that the CPU overlaps four
 * independent append chains instead of waiting on one.  Returns the first
 * pixel it did not write. */
static int32_t lr_modulate_short_by_four(const lr_modulator *m, const uint8_t *pixels,
                                         int64_t n_frames, uint64_t *out, int64_t stride)
{
    const int32_t np = m->n_pixels;
    int32_t p = 0;
    for (; p + 4 <= np; p += 4) {
        lr_writer w[4];
        for (int r = 0; r < 4; r++)
            w[r] = lr_writer_at(out + (int64_t)(p + r) * stride);
        const uint8_t *px = pixels + p;
        for (int64_t i = 0; i < n_frames; i++, px += np)
            for (int r = 0; r < 4; r++)
                lr_append(&w[r], (lr_word)m->patterns[px[r]], m->frames);
        for (int r = 0; r < 4; r++)
            lr_finish(&w[r]);
    }
    return p;
}

#if defined(__SSE2__)
#include <emmintrin.h>

/* Transposes a 64 x 64 bit matrix in place: bit j of row i <-> bit i of row j. */
static void lr_transpose64(uint64_t a[64])
{
    uint64_t mask = 0x00000000FFFFFFFFULL;
    for (int j = 32; j; j >>= 1, mask ^= mask << j)
        for (int k = 0; k < 64; k = (k + j + 1) & ~j) {
            const uint64_t t = ((a[k] >> j) ^ a[k + j]) & mask;
            a[k] ^= t << j;
            a[k + j] ^= t;
        }
}

#ifdef LR_X86_GCC
#include <immintrin.h>
/* The compare path with 64-pixel compares and a vector bit-matrix transpose (x86 with AVX-512 BW, VBMI
 * and GFNI).  Per 64 samples x 64 pixels: one compare per sample gives its 64 pixel bits; each 8 x 8
 * block of bits is gathered into a qword (one byte permute per 8 samples) and transposed (gf2p8affine),
 * then the eight 8-sample byte-planes are interleaved into one word per pixel (three rounds of two-source
 * byte permutes), where the portable path spends ~1,100 shifts and masks per block. */
static struct {
    uint8_t blocks[64];     /* byte 8b + 7 - j <- byte 8j + b: block b of the eight samples' masks */
    uint8_t merge[3][2][64]; /* round r, low/high half: interleave groups of 2^r bytes of two vectors */
    int cpu;
} lr_steps512;

__attribute__((constructor)) static void lr_steps512_init(void)
{
    for (int b = 0; b < 8; b++)
        for (int j = 0; j < 8; j++)
            lr_steps512.blocks[8 * b + 7 - j] = (uint8_t)(8 * j + b);
    for (int r = 0; r < 3; r++) {
        const int g = 1 << r, per = 32 / g; /* bytes per group, groups taken from each vector per half */
        for (int half = 0; half < 2; half++)
            for (int q = 0; q < per; q++)
                for (int t = 0; t < 2 * g; t++)
                    lr_steps512.merge[r][half][2 * g * q + t] =
                        (uint8_t)((t < g ? 0 : 64) + g * (q + half * per) + t % g);
    }
    __builtin_cpu_init();
    lr_steps512.cpu = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                      __builtin_cpu_supports("avx512vbmi") && __builtin_cpu_supports("gfni");
}

/* Rows of 64 pixels (from px) for samples s0 .. s0 + 63, of which ns exist and npx pixels. */
__attribute__((target("avx512f,avx512bw,avx512vbmi,gfni"))) static void
lr_step_rows_avx512(const lr_modulator *m, const uint8_t *px, int64_t s0, int64_t ns, int32_t npx, uint64_t *rows)
{
    const __m512i blocks = _mm512_loadu_si512(lr_steps512.blocks);
    const __m512i onehot = _mm512_set1_epi64((long long)0x8040201008040201ULL);
    const __mmask64 all = npx == 64 ? ~0ULL : (1ULL << npx) - 1;
    uint64_t masks[64] __attribute__((aligned(64)));
    for (int64_t i = 0; i < 64; i++) {
        const int32_t step = i < ns ? m->steps[(s0 + i) % m->frames] : 256;
        const uint8_t *frame = px + (s0 + i) / m->frames * m->n_pixels;
        masks[i] = step == 0 ? all : step > 255 ? 0
                 : _mm512_cmpge_epu8_mask(_mm512_maskz_loadu_epi8(all, frame), _mm512_set1_epi8((char)step));
    }
    /* v[b] byte p: pixel p's bits of samples 8o .. 8o + 7, o = b bit-reversed: the three rounds below
     * interleave vectors b and b + 4, which lays the octets out bit-reversed, back in order. */
    static const int octet[8] = {0, 4, 2, 6, 1, 5, 3, 7};
    __m512i v[8];
    for (int b = 0; b < 8; b++)
        v[b] = _mm512_gf2p8affine_epi64_epi8(
            onehot, _mm512_permutexvar_epi8(blocks, _mm512_load_si512(masks + 8 * octet[b])), 0);
    for (int r = 0; r < 3; r++) { /* groups of 2^r bytes of vectors b and b + 4 interleaved */
        const __m512i lo = _mm512_loadu_si512(lr_steps512.merge[r][0]);
        const __m512i hi = _mm512_loadu_si512(lr_steps512.merge[r][1]);
        __m512i w[8];
        for (int k = 0; k < 4; k++) {
            w[2 * k] = _mm512_permutex2var_epi8(v[k], lo, v[k + 4]);
            w[2 * k + 1] = _mm512_permutex2var_epi8(v[k], hi, v[k + 4]);
        }
        for (int k = 0; k < 8; k++)
            v[k] = w[k];
    }
    for (int b = 0; b < 8; b++)
        _mm512_store_si512(rows + 8 * b, v[b]);
}
#endif

#define LR_STEPS_MAX_FRAMES 3
#ifdef LR_X86_GCC
#define LR_STEPS_WIDE lr_steps512.cpu
#define LR_STEPS512_MAX_FRAMES 4
#else
#define LR_STEPS_WIDE 0
#endif

/* The portable rows of the compare path: 16 pixels per compare against steps[f], then a 64 x 64
 * bit-matrix transpose.  Same contract as lr_step_rows_avx512. */
static void lr_step_rows(const lr_modulator *m, const uint8_t *px, int64_t s0, int64_t ns, int32_t npx, uint64_t *rows)
{
    const __m128i bias = _mm_set1_epi8((char)0x80);
    const uint64_t all = npx == 64 ? ~0ULL : (1ULL << npx) - 1;
    for (int64_t i = 0; i < 64; i++) {
        uint64_t bits = 0;
        const int32_t step = i < ns ? m->steps[(s0 + i) % m->frames] : 256;
        if (step == 0) {
            bits = all;
        } else if (step < 256) {
            const uint8_t *frame = px + (s0 + i) / m->frames * m->n_pixels;
            const __m128i below = _mm_set1_epi8((char)((step - 1) ^ 0x80));
            int32_t j = 0;
            for (; j + 16 <= npx; j += 16) { /* unsigned v > step - 1, as a signed compare */
                const __m128i v = _mm_xor_si128(_mm_loadu_si128((const __m128i *)(frame + j)), bias);
                bits |= (uint64_t)(uint32_t)_mm_movemask_epi8(_mm_cmpgt_epi8(v, below)) << j;
            }
            for (; j < npx; j++)
                bits |= (uint64_t)(frame[j] >= step) << j;
        }
        rows[i] = bits;
    }
    lr_transpose64(rows);
}

/* Every sub-frame a step of the value: per 64 samples x 64 pixels, compares against steps[f] and a
 * bit-matrix transpose, straight into rows. */
static void lr_modulate_steps(const lr_modulator *m, const uint8_t *pixels, int64_t n_frames, uint64_t *out,
                              int64_t stride)
{
    void (*const rows_of)(const lr_modulator *, const uint8_t *, int64_t, int64_t, int32_t, uint64_t *) =
#ifdef LR_X86_GCC
        lr_steps512.cpu ? lr_step_rows_avx512 :
#endif
        lr_step_rows;
    const int32_t np = m->n_pixels;
    const int64_t samples = n_frames * m->frames;
    uint64_t rows[64] __attribute__((aligned(64)));
    for (int64_t s0 = 0, word = 0; s0 < samples; s0 += 64, word++)
        for (int32_t p0 = 0; p0 < np; p0 += 64) {
            const int32_t npx = np - p0 < 64 ? np - p0 : 64;
            rows_of(m, pixels + p0, s0, samples - s0 < 64 ? samples - s0 : 64, npx, rows);
            for (int32_t j = 0; j < npx; j++)
                out[(int64_t)(p0 + j) * stride + word] = rows[j];
        }
}
#endif

#ifdef LR_X86_GCC

/* Thermometer patterns, 64 pixel rows at a time: the pixels' bit counts are looked up 64 at once
 * (two 128-entry byte permutes), each count n becomes its pattern (1 << n) - 1 by a variable shift
 * and is appended to its row's word, kept in `acc` until the word fills.  One group of 64 rows at a
 * time down all the frames: the group's rows (64 x the call's words) stay in L1 while their words
 * fill, where frame by frame every row written would be a miss (fused chunk at F = 15: 414 -> 290 ns
 * a frame, docs/performance.md). */
__attribute__((target("avx512f,avx512bw,avx512vbmi"))) static void
lr_modulate_ones_avx512(const lr_modulator *m, const uint8_t *pixels, int64_t n_frames, uint64_t *out,
                        int64_t stride)
{
    const int32_t np = m->n_pixels, F = m->frames, groups = (np + 63) / 64;
    uint64_t acc[64] __attribute__((aligned(64)));
    const __m512i lo = _mm512_loadu_si512(m->ones), hi = _mm512_loadu_si512(m->ones + 64);
    const __m512i lo2 = _mm512_loadu_si512(m->ones + 128), hi2 = _mm512_loadu_si512(m->ones + 192);
    const __m512i one = _mm512_set1_epi64(1);
    const __mmask64 last = np % 64 ? (1ULL << (np % 64)) - 1 : ~0ULL;
    uint8_t counts[64] __attribute__((aligned(64)));
    for (int32_t k = 0; k < groups; k++) {
        const int32_t rows = np - 64 * k < 64 ? np - 64 * k : 64;
        uint64_t *dst = out + 64 * k * stride;
        memset(acc, 0, sizeof acc);
        int bit = 0;
        int64_t word = 0;
        for (int64_t i = 0; i < n_frames; i++) {
            const __m128i shift = _mm_cvtsi32_si128(bit), back = _mm_cvtsi32_si128(64 - bit);
            const int full = bit + F >= 64;
            const __m512i v = _mm512_maskz_loadu_epi8(k == groups - 1 ? last : ~0ULL, pixels + i * np + 64 * k);
            const __m512i low = _mm512_permutex2var_epi8(lo, v, hi), high = _mm512_permutex2var_epi8(lo2, v, hi2);
            _mm512_store_si512(counts, _mm512_mask_blend_epi8(_mm512_movepi8_mask(v), low, high));
            for (int g = 0; g < 8; g++) {
                const __m512i n = _mm512_cvtepu8_epi64(_mm_loadl_epi64((const __m128i *)(counts + 8 * g)));
                const __m512i pattern = _mm512_sub_epi64(_mm512_sllv_epi64(one, n), one); /* n = 64: all ones */
                _mm512_store_si512(acc + 8 * g, _mm512_or_si512(_mm512_load_si512(acc + 8 * g),
                                                                _mm512_sll_epi64(pattern, shift)));
                if (full) {
                    for (int32_t r = 8 * g; r < 8 * g + 8 && r < rows; r++)
                        dst[r * stride + word] = acc[r];
                    /* the bits past the word; a count of 64 gives 0: nothing carries */
                    _mm512_store_si512(acc + 8 * g, _mm512_srl_epi64(pattern, back));
                }
            }
            word += full;
            bit = (bit + F) & 63;
        }
        if (bit)
            for (int32_t r = 0; r < rows; r++)
                dst[r * stride + word] = acc[r];
    }
}
#endif

static void lr_modulate_patterns(const lr_modulator *m, const uint8_t *pixels,
                                 int64_t n_frames, uint64_t *out, int64_t stride)
{
    if (n_frames == 1 && m->pattern_words == 1) { /* a single frame: each row's word is its pixel's pattern */
        for (int32_t p = 0; p < m->n_pixels; p++)
            out[(int64_t)p * stride] = m->patterns[pixels[p]];
        return;
    }
#if defined(__SSE2__)
    /* Compares cost per sub-frame, patterns per frame, and a transpose is worth it for a full word of
     * samples: measured, compares win up to F = 3 from 64 samples on, and at F = 1 over the AVX-512
     * thermometer path as well; with 64-pixel compares and the vector transpose, up to F = 4 over it
     * (docs/performance.md). */
    const int wide = LR_STEPS_WIDE;
    if (m->steps && m->frames <= (wide ? LR_STEPS512_MAX_FRAMES : m->ones ? 1 : LR_STEPS_MAX_FRAMES) &&
        n_frames * m->frames >= 64) {
        lr_modulate_steps(m, pixels, n_frames, out, stride);
        return;
    }
#endif
#ifdef LR_X86_GCC
    if (m->ones && n_frames * m->frames >= 64) {
        lr_modulate_ones_avx512(m, pixels, n_frames, out, stride);
        return;
    }
#endif
    const int32_t first = m->frames <= LR_WORD_BITS ? lr_modulate_short_by_four(m, pixels, n_frames, out, stride) : 0;
    const int tail = m->frames - 64 * (m->pattern_words - 1);
    for (int32_t p = first; p < m->n_pixels; p++) {
        lr_writer w = lr_writer_at(out + (int64_t)p * stride);
        for (int64_t i = 0; i < n_frames; i++) {
            const uint64_t *pat = m->patterns + (int64_t)pixels[i * m->n_pixels + p] * m->pattern_words;
            for (int k = 0; k < m->pattern_words - 1; k++)
                lr_append64(&w, pat[k], 64);
            lr_append64(&w, pat[m->pattern_words - 1], tail);
        }
        lr_finish(&w);
    }
}

static void lr_modulate_stochastic(const lr_modulator *m, const uint8_t *pixels,
                                   int64_t n_frames, uint32_t frame0, uint64_t *out,
                                   int64_t stride)
{
    const int64_t words = lr_ceil_div(n_frames * m->frames, 64);
    for (int32_t p = 0; p < m->n_pixels; p++)
        memset(out + (int64_t)p * stride, 0, sizeof(uint64_t) * (size_t)words);
    for (int64_t i = 0; i < n_frames; i++) {
        const uint32_t hf = lr_mix32(m->seed ^ (uint32_t)(frame0 + (uint32_t)i));
        const uint8_t *frame = pixels + i * m->n_pixels;
        for (int64_t f = 0; f < m->frames; f++) {
            const uint32_t hs = lr_mix32(hf ^ (uint32_t)f);
            const int64_t s = i * m->frames + f;
            uint64_t *word = out + (s >> 6);
            const uint64_t bit = 1ULL << (s & 63);
            for (int32_t p = 0; p < m->n_pixels; p++)
                if (lr_stochastic_bit(m, frame[p], hs, p))
                    word[(int64_t)p * stride] |= bit;
        }
    }
}

int lr_modulate(const lr_modulator *mod, const uint8_t *pixels, int64_t n_frames,
                uint32_t frame0, uint64_t *out, int64_t stride)
{
    if (!mod || !pixels || !out || n_frames < 0 || stride * 64 < n_frames * mod->frames)
        return LR_EINVAL;
    if (mod->method == LR_MOD_STOCHASTIC)
        lr_modulate_stochastic(mod, pixels, n_frames, frame0, out, stride);
    else
        lr_modulate_patterns(mod, pixels, n_frames, out, stride);
    return LR_OK;
}

/* Bit f of one pixel's F bits, by the model's rule for sub-frame f. */
static inline int lr_pixel_bit(const lr_modulator *m, uint8_t v, uint32_t hs, int32_t p, int64_t f)
{
    if (m->method == LR_MOD_STOCHASTIC)
        return lr_stochastic_bit(m, v, hs, p);
    return lr_pattern_bit(m, v, (int32_t)f);
}

int lr_modulate_temporal(const lr_modulator *mod, const uint8_t *pixels, int64_t n_frames,
                         uint32_t frame0, uint64_t *out, int64_t stride)
{
    if (!mod || !pixels || !out || n_frames < 0 || stride * 64 < n_frames)
        return LR_EINVAL;
    const int64_t words = lr_ceil_div(n_frames, 64);
    for (int32_t p = 0; p < mod->n_pixels; p++)
        memset(out + (int64_t)p * stride, 0, sizeof(uint64_t) * (size_t)words);
    for (int64_t i = 0; i < n_frames; i++) {
        const uint32_t counter = frame0 + (uint32_t)i;
        const int64_t f = counter % (uint32_t)mod->frames;
        const uint32_t hs = lr_mix32(lr_mix32(mod->seed ^ counter) ^ (uint32_t)f);
        const uint8_t *frame = pixels + i * mod->n_pixels;
        uint64_t *word = out + (i >> 6);
        const int shift = (int)(i & 63);
        for (int32_t p = 0; p < mod->n_pixels; p++)
            word[(int64_t)p * stride] |= (uint64_t)lr_pixel_bit(mod, frame[p], hs, p, f) << shift;
    }
    return LR_OK;
}
