/* The fused call: modulate -> evaluate -> vote over chunks of frames, with
 * every buffer allocated once per session. */
#include <stdlib.h>
#include <string.h>
#include "internal.h"

struct lr_session {
    const lr_net *net;
    const lr_modulator *mod;
    lr_vote_rows votes;
    int32_t n_classes;
    int64_t stride, chunk_frames;
    uint64_t *in, *out, *scratch;
};

/* Zeroed memory on a cache line: the kernel's 64-byte rows would otherwise each straddle two lines
 * (malloc gives 16-byte alignment), which cost the kernel a sixth of its speed. */
static uint64_t *lr_alloc_rows(int64_t words)
{
    const size_t bytes = ((size_t)words * sizeof(uint64_t) + 63) / 64 * 64;
    uint64_t *p = aligned_alloc(64, bytes ? bytes : 64);
    if (p)
        memset(p, 0, bytes);
    return p;
}

void lr_session_free(lr_session *s)
{
    if (!s)
        return;
    lr_vote_rows_free(&s->votes);
    free(s->in);
    free(s->out);
    free(s->scratch);
    free(s);
}

int lr_session_new(const lr_net *net, const lr_modulator *mod, const int32_t *classes,
                   int32_t n_classes, lr_session **out)
{
    if (!out || !net || !mod || !classes || n_classes < 1 || mod->n_pixels != net->n_inputs)
        return LR_EINVAL;
    *out = NULL;
    const int32_t n_out = net->width[net->n_layers - 1];
    for (int32_t o = 0; o < n_out; o++)
        if (classes[o] < -1 || classes[o] >= n_classes)
            return LR_EINVAL;
    lr_session *s = calloc(1, sizeof *s);
    if (!s)
        return LR_ENOMEM;
    s->net = net;
    s->mod = mod;
    s->n_classes = n_classes;
    s->stride = LR_CHUNK_WORDS;
    if (s->stride < mod->pattern_words)
        s->stride = mod->pattern_words;
    s->chunk_frames = s->stride * 64 / mod->frames;
    s->in = lr_alloc_rows(s->stride * net->n_inputs);
    s->out = lr_alloc_rows(s->stride * n_out);
    s->scratch = lr_alloc_rows(lr_net_scratch_words(net));
    if (!s->in || !s->out || !s->scratch || lr_vote_rows_new(classes, n_out, n_classes, &s->votes) != LR_OK) {
        lr_session_free(s);
        return LR_ENOMEM;
    }
    *out = s;
    return LR_OK;
}

int lr_classify(lr_session *s, const uint8_t *frames, int64_t n_frames, uint32_t frame0,
                int32_t *scores)
{
    if (!s || !frames || !scores || n_frames < 0)
        return LR_EINVAL;
    const int32_t n_pixels = s->mod->n_pixels, F = s->mod->frames;
    /* Frames that fit one word (a single frame) get rows one word apart: a row per cache line, at the
     * chunk's stride, would make every row a miss. */
    const int64_t stride = n_frames * F <= 64 ? 1 : s->stride;
    for (int64_t i0 = 0; i0 < n_frames; i0 += s->chunk_frames) {
        const int64_t n = n_frames - i0 < s->chunk_frames ? n_frames - i0 : s->chunk_frames;
        const int64_t words = lr_ceil_div(n * F, 64);
        int rc = lr_modulate(s->mod, frames + i0 * n_pixels, n, frame0 + (uint32_t)i0, s->in, stride);
        if (rc == LR_OK && (n * F > LR_LANES_MAX_SAMPLES || lr_eval_lanes(s->net, s->in, s->out, (int)(n * F), s->scratch) != LR_OK))
            rc = lr_eval(s->net, s->in, s->out, stride, 0, words, s->scratch);
        if (rc != LR_OK)
            return rc;
        lr_votes_by_rows(s->out, stride, &s->votes, s->n_classes, F, n, scores + i0 * s->n_classes);
    }
    return LR_OK;
}

int lr_classify_temporal(lr_session *s, const uint8_t *frames, int64_t n_frames, uint32_t frame0,
                         int32_t shift, int64_t *state, int32_t *scores)
{
    if (!s || !frames || !scores || !state || n_frames < 0 || shift < 0 || shift > 16)
        return LR_EINVAL;
    const int32_t n_pixels = s->mod->n_pixels, n_classes = s->n_classes;
    const int64_t chunk = s->stride * 64;
    for (int64_t i0 = 0; i0 < n_frames; i0 += chunk) {
        const int64_t n = n_frames - i0 < chunk ? n_frames - i0 : chunk;
        int32_t *out = scores + i0 * n_classes;
        int rc = lr_modulate_temporal(s->mod, frames + i0 * n_pixels, n, frame0 + (uint32_t)i0, s->in,
                                      s->stride);
        if (rc == LR_OK)
            rc = lr_eval(s->net, s->in, s->out, s->stride, 0, lr_ceil_div(n, 64), s->scratch);
        if (rc != LR_OK)
            return rc;
        lr_votes_by_rows(s->out, s->stride, &s->votes, n_classes, 1, n, out);
        for (int64_t i = 0; i < n; i++)
            for (int32_t c = 0; c < n_classes; c++) {
                state[c] += out[i * n_classes + c] - (state[c] >> shift);
                out[i * n_classes + c] = (int32_t)state[c];
            }
    }
    return LR_OK;
}
