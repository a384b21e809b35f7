/* The bit-sliced LUT kernel, written once and included once per vector width
 * and instruction set.  The includer defines:
 *   LR_V      the vector type (uint64_t, or a GCC vector of LR_VW words)
 *   LR_VW     words per vector
 *   LR_FN(n)  name mangling for this instance
 *
 * A LUT is evaluated as a Shannon tree: the 16 functions of inputs 0 and 1
 * are built once, each 4-bit slice of the table picks one of them, and inputs
 * 2..k-1 drive a mux tree over those picks.
 */
#define LR_MUX(a, b, s) (((a) & ~(s)) | ((b) & (s)))

typedef LR_V LR_FN(uv) __attribute__((aligned(8), may_alias));

static inline __attribute__((always_inline)) LR_V
LR_FN(lut)(const LR_V *x, uint64_t t, const int k)
{
    const LR_V x0 = x[0], x1 = x[1], n0 = ~x0, n1 = ~x1;
    const LR_V zero = x0 & n0;
    LR_V f[16] = {zero,    n0 & n1,       x0 & n1, n1,      n0 & x1, n0,
                  x0 ^ x1, n0 | n1,       x0 & x1, ~(x0 ^ x1), x0,  x0 | n1,
                  x1,      n0 | x1,       x0 | x1, ~zero};
    if (k <= 2)
        return f[t & 15];
    LR_V l[16];
    for (int i = 0; i < (1 << (k - 2)); i++)
        l[i] = f[(t >> (4 * i)) & 15];
    for (int m = 2; m < k; m++) {
        const int half = 1 << (k - 1 - m);
        for (int i = 0; i < half; i++)
            l[i] = LR_MUX(l[2 * i], l[2 * i + 1], x[m]);
    }
    return l[0];
}

/* One layer of LUTs with fan-in K over one vector of samples. */
static inline __attribute__((always_inline)) void
LR_FN(layer_k)(const lr_net *net, int32_t layer, const uint64_t *src,
               int64_t sstride, uint64_t *dst, int64_t dstride, const int k)
{
    const int64_t first = net->offset[layer];
    const int32_t n = net->width[layer];
    const int32_t *idx = net->inputs + first * LR_MAX_FAN_IN;
    const uint64_t *tab = net->tables + first;
    LR_V x[LR_MAX_FAN_IN];
    const int loads = k < 2 ? 2 : k; /* lut() always reads inputs 0 and 1 */
    for (int32_t j = 0; j < n; j++, idx += LR_MAX_FAN_IN) {
        for (int m = 0; m < loads; m++)
            x[m] = *(const LR_FN(uv) *)(src + (int64_t)idx[m] * sstride);
        *(LR_FN(uv) *)(dst + (int64_t)j * dstride) = LR_FN(lut)(x, tab[j], k);
    }
}

static void LR_FN(layer)(const lr_net *net, int32_t layer, const uint64_t *src,
                         int64_t sstride, uint64_t *dst, int64_t dstride)
{
    switch (net->fan_in[layer]) {
    case 1: LR_FN(layer_k)(net, layer, src, sstride, dst, dstride, 1); break;
    case 2: LR_FN(layer_k)(net, layer, src, sstride, dst, dstride, 2); break;
    case 3: LR_FN(layer_k)(net, layer, src, sstride, dst, dstride, 3); break;
    case 4: LR_FN(layer_k)(net, layer, src, sstride, dst, dstride, 4); break;
    case 5: LR_FN(layer_k)(net, layer, src, sstride, dst, dstride, 5); break;
    default: LR_FN(layer_k)(net, layer, src, sstride, dst, dstride, 6); break;
    }
}

/* Words [w0, w1) (a multiple of LR_VW long), all layers per vector so that
 * the intermediate rows stay in cache.  scratch: 2 x max_width x LR_VW words. */
static void LR_FN(eval)(const lr_net *net, const uint64_t *in, uint64_t *out,
                        int64_t stride, int64_t w0, int64_t w1,
                        uint64_t *scratch)
{
    uint64_t *buf[2] = {scratch, scratch + (int64_t)net->max_width * LR_VW};
    for (int64_t w = w0; w < w1; w += LR_VW) {
        const uint64_t *src = in + w;
        int64_t sstride = stride;
        for (int32_t l = 0; l < net->n_layers; l++) {
            const int last = l == net->n_layers - 1;
            uint64_t *dst = last ? out + w : buf[l & 1];
            const int64_t dstride = last ? stride : LR_VW;
            LR_FN(layer)(net, l, src, sstride, dst, dstride);
            src = dst;
            sstride = dstride;
        }
    }
}

#undef LR_MUX
