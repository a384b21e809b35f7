/* LUT-parallel evaluation of one word of up to 16 samples (a single frame at F <= 16): eight LUTs
 * a vector instead of one LUT a register.  The bit-sliced kernels spend ~15 instructions on every
 * LUT whatever the number of samples, and the specialised one is ~480 KB of code for the default
 * model, fetched from L2 on every frame; here each LUT is a table lookup done eight samples at a
 * time by one instruction (AVX-512 BITALG's bit shuffle), in a loop that stays in L1:
 *   gather   the six input rows' low 16 bits of eight LUTs (3 x 16 dwords),
 *   permute  them into one qword per LUT and 8-sample byte, input m at byte 7 - m (VBMI),
 *   transpose each qword as an 8 x 8 bit matrix (GFNI), so that byte s is sample s's 6-bit index,
 *   look up bit `index` of the LUT's 64-bit table for each byte (vpshufbitqmb).
 * The rows keep the bit-sliced layout (one uint64 per row, sample s in bit s); bits 16..63 of the
 * rows it writes are zero. */
#include "internal.h"

#ifdef LR_X86_GCC
#include <immintrin.h>

#define LR_LANES_TARGET "avx512f,avx512bw,avx512vl,avx512vbmi,avx512bitalg,gfni"

static int lr_lanes_cpu(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vbmi") &&
           __builtin_cpu_supports("avx512bitalg") && __builtin_cpu_supports("gfni");
}

/* Byte 8i + 7 - m of the permuted qwords takes input m of LUT i: element E = 6i + m of the gathered
 * dwords, byte `plane` of it; E < 32 comes from the first two gathers (128 bytes), E >= 32 from the
 * third.  Bytes 8i and 8i + 1 (inputs 7 and 6, absent) stay zero.  Filled once, at load. */
static struct {
    uint8_t first[2][64], third[2][64];
    uint64_t from_first[2], from_third[2];
    int cpu;
} lr_lanes;

__attribute__((constructor)) static void lr_lanes_init(void)
{
    for (int plane = 0; plane < 2; plane++)
        for (int i = 0; i < 8; i++)
            for (int m = 0; m < 6; m++) {
                const int byte = 8 * i + 7 - m, e = 6 * i + m;
                if (e < 32) {
                    lr_lanes.first[plane][byte] = (uint8_t)(4 * e + plane);
                    lr_lanes.from_first[plane] |= 1ULL << byte;
                } else {
                    lr_lanes.third[plane][byte] = (uint8_t)(4 * (e - 32) + plane);
                    lr_lanes.from_third[plane] |= 1ULL << byte;
                }
            }
    lr_lanes.cpu = lr_lanes_cpu();
}

/* One layer: rows src[inputs] -> dst[0 .. width), `planes` bytes of samples (1 or 2). */
__attribute__((target(LR_LANES_TARGET))) static void
lr_lanes_layer(const int32_t *inputs, const uint64_t *tables, int32_t width, const uint64_t *src,
               uint64_t *dst, int planes)
{
    /* x.byte[j] = 1 << j: with the permuted qword as the matrix, gf2p8affine transposes it. */
    const __m512i onehot = _mm512_set1_epi64((long long)0x8040201008040201ULL);
    const __m512i first[2] = {_mm512_loadu_si512(lr_lanes.first[0]), _mm512_loadu_si512(lr_lanes.first[1])};
    const __m512i third[2] = {_mm512_loadu_si512(lr_lanes.third[0]), _mm512_loadu_si512(lr_lanes.third[1])};
    for (int32_t j0 = 0; j0 < width; j0 += 8) {
        const int n = width - j0 < 8 ? width - j0 : 8;
        const uint64_t valid = n == 8 ? ~0ULL : (1ULL << (6 * n)) - 1; /* index elements in use */
        const int32_t *idx = inputs + (int64_t)j0 * LR_MAX_FAN_IN;
        __m512i g[3];
        for (int k = 0; k < 3; k++) {
            const __m512i at = _mm512_maskz_loadu_epi32((__mmask16)(valid >> (16 * k)), idx + 16 * k);
            g[k] = _mm512_i32gather_epi32(at, (const void *)src, 8); /* absent lanes read row 0 */
        }
        const __m512i table = _mm512_maskz_loadu_epi64((__mmask8)((1u << n) - 1), tables + j0);
        __mmask64 bits[2] = {0, 0};
        for (int p = 0; p < planes; p++) {
            __m512i q = _mm512_maskz_permutex2var_epi8(lr_lanes.from_first[p], g[0], first[p], g[1]);
            q = _mm512_mask_permutexvar_epi8(q, lr_lanes.from_third[p], third[p], g[2]);
            const __m512i index = _mm512_gf2p8affine_epi64_epi8(onehot, q, 0);
            bits[p] = _mm512_bitshuffle_epi64_mask(table, index);
        }
        /* Mask bit 8i + s of plane p is sample 8p + s of LUT i: interleave the planes' bytes per LUT. */
        const __m128i lo = _mm_cvtsi64_si128((long long)bits[0]), hi = _mm_cvtsi64_si128((long long)bits[1]);
        const __m512i rows = _mm512_cvtepu16_epi64(_mm_unpacklo_epi8(lo, hi));
        _mm512_mask_storeu_epi64(dst + j0, (__mmask8)((1u << n) - 1), rows);
    }
}

const char *lr_lanes_name(void) { return lr_lanes.cpu ? "avx512-bitalg" : ""; }

int lr_eval_lanes(const lr_net *net, const uint64_t *in, uint64_t *out, int bits, uint64_t *scratch)
{
    if (bits < 1 || bits > LR_LANES_MAX_SAMPLES || !lr_lanes.cpu)
        return LR_EINVAL;
    const int planes = bits > 8 ? 2 : 1;
    uint64_t *buf[2] = {scratch, scratch + net->max_width};
    const uint64_t *src = in;
    for (int32_t l = 0; l < net->n_layers; l++) {
        uint64_t *dst = l == net->n_layers - 1 ? out : buf[l & 1];
        const int64_t first = net->offset[l];
        lr_lanes_layer(net->inputs + first * LR_MAX_FAN_IN, net->tables + first, net->width[l], src, dst,
                       planes);
        src = dst;
    }
    return LR_OK;
}

#else

const char *lr_lanes_name(void) { return ""; }

int lr_eval_lanes(const lr_net *net, const uint64_t *in, uint64_t *out, int bits, uint64_t *scratch)
{
    (void)net, (void)in, (void)out, (void)bits, (void)scratch;
    return LR_EINVAL;
}

#endif
