// Verilator harness for lutnet_axis: a C ABI that Python (lutrun.rtl.verilator)
// loads with cffi.  It drives the AXI4-Stream and AXI4-Lite ports cycle by
// cycle: inputs are set, the design settles, handshakes are decided on what
// both sides show, then the clock rises.
#include <cstdint>
#include <deque>
#include <vector>
#include "Vlutnet_axis.h"
#include "verilated.h"

namespace {

struct Sim {
    VerilatedContext ctx;
    Vlutnet_axis *top;
    uint64_t cycle = 0;
    uint64_t rng = 0x9E3779B97F4A7C15ULL;
    std::deque<uint64_t> frame_ends;  // cycle each frame's last beat was accepted
    std::vector<uint32_t> out_data;
    std::vector<uint8_t> out_last;
    Sim() : top(new Vlutnet_axis(&ctx)) {}
    ~Sim() { top->final(); delete top; }

    bool chance(double p) {  // xorshift64*
        if (p >= 1.0) return true;
        rng ^= rng >> 12; rng ^= rng << 25; rng ^= rng >> 27;
        return (double)((rng * 0x2545F4914F6CDD1DULL) >> 11) / 9007199254740992.0 < p;
    }
    void tick() {
        top->aclk = 1; top->eval();
        top->aclk = 0; top->eval();
        cycle++;
    }
    void idle_inputs() {
        top->s_axis_tvalid = 0; top->s_axis_tlast = 0; top->m_axis_tready = 0;
        top->s_axi_awvalid = 0; top->s_axi_wvalid = 0; top->s_axi_bready = 0;
        top->s_axi_arvalid = 0; top->s_axi_rready = 0;
    }
};

}  // namespace

extern "C" {

void *lrs_new(void) {
    Sim *s = new Sim();
    s->idle_inputs();
    s->top->aclk = 0;
    s->top->aresetn = 0;
    s->top->eval();
    return s;
}

void lrs_free(void *h) { delete static_cast<Sim *>(h); }

// Hold aresetn low for `cycles` clocks; frames in flight are lost.
void lrs_reset(void *h, int cycles) {
    Sim *s = static_cast<Sim *>(h);
    s->idle_inputs();
    s->top->aresetn = 0;
    for (int i = 0; i < cycles; i++) s->tick();
    s->top->aresetn = 1;
    s->top->eval();
    s->frame_ends.clear();
}

uint64_t lrs_cycle(void *h) { return static_cast<Sim *>(h)->cycle; }

// AXI4-Lite write of a whole word; returns the clocks it took, -1 if no response.
int lrs_write(void *h, uint32_t addr, uint32_t data) {
    Sim *s = static_cast<Sim *>(h);
    Vlutnet_axis *t = s->top;
    t->s_axi_awaddr = addr; t->s_axi_wdata = data; t->s_axi_wstrb = 0xF;
    t->s_axi_awvalid = 1; t->s_axi_wvalid = 1; t->s_axi_bready = 1;
    bool accepted = false;
    for (int i = 0; i < 64; i++) {
        t->eval();
        bool fire = !accepted && t->s_axi_awready && t->s_axi_wready;
        bool done = t->s_axi_bvalid;
        s->tick();
        if (fire) { accepted = true; t->s_axi_awvalid = 0; t->s_axi_wvalid = 0; }
        if (done) { t->s_axi_bready = 0; t->eval(); return i + 1; }
    }
    s->idle_inputs();
    return -1;
}

// AXI4-Lite read; *ok = 0 if the slave never answered.
uint32_t lrs_read(void *h, uint32_t addr, int *ok) {
    Sim *s = static_cast<Sim *>(h);
    Vlutnet_axis *t = s->top;
    t->s_axi_araddr = addr; t->s_axi_arvalid = 1; t->s_axi_rready = 1;
    for (int i = 0; i < 64; i++) {
        t->eval();
        bool fire = t->s_axi_arvalid && t->s_axi_arready;
        bool done = t->s_axi_rvalid;
        uint32_t data = t->s_axi_rdata;
        s->tick();
        if (fire) t->s_axi_arvalid = 0;
        if (done) { t->s_axi_rready = 0; t->eval(); *ok = 1; return data; }
    }
    s->idle_inputs();
    *ok = 0;
    return 0;
}

// Stream `n_beats` input beats (data, TLAST) while taking output beats, with
// TVALID offered with probability `p_valid` and TREADY with `p_ready` each
// clock.  Runs until every beat is in and the output has been quiet for
// `drain` clocks, or `max_cycles` pass.  Output beats are appended to the
// sim's buffer (lrs_take).  `beats_per_frame` and `classes` let it measure
// frame latency: last input beat -> first score beat.  stats[0..3] = frames
// seen out, min, max, sum of latency in clocks.  Returns clocks run.
int64_t lrs_stream(void *h, const uint64_t *data, const uint8_t *last, int64_t n_beats,
                   double p_valid, double p_ready, uint64_t seed, int64_t drain, int64_t max_cycles,
                   int64_t beats_per_frame, int64_t classes, int64_t *stats) {
    Sim *s = static_cast<Sim *>(h);
    Vlutnet_axis *t = s->top;
    if (seed) s->rng = seed;
    int64_t sent = 0, quiet = 0, c = 0;
    bool offer = false;
    for (; c < max_cycles; c++) {
        if (sent < n_beats && !offer) offer = s->chance(p_valid);
        t->s_axis_tvalid = sent < n_beats && offer;
        t->s_axis_tdata = sent < n_beats ? data[sent] : 0;
        t->s_axis_tlast = sent < n_beats ? last[sent] : 0;
        t->m_axis_tready = s->chance(p_ready);
        t->eval();
        bool in_fire = t->s_axis_tvalid && t->s_axis_tready;
        bool out_fire = t->m_axis_tvalid && t->m_axis_tready;
        uint32_t out = t->m_axis_tdata;
        uint8_t out_last = t->m_axis_tlast;
        s->tick();
        if (in_fire) {
            sent++;
            offer = false;  // AXI: once offered, TVALID stays until taken
            if (sent % beats_per_frame == 0) s->frame_ends.push_back(s->cycle);
        }
        if (out_fire) {
            if (s->out_data.size() % (size_t)classes == 0 && !s->frame_ends.empty()) {
                int64_t lat = (int64_t)(s->cycle - s->frame_ends.front());
                s->frame_ends.pop_front();
                if (stats[0] == 0 || lat < stats[1]) stats[1] = lat;
                if (lat > stats[2]) stats[2] = lat;
                stats[3] += lat;
                stats[0]++;
            }
            s->out_data.push_back(out);
            s->out_last.push_back(out_last);
            quiet = 0;
        } else if (sent == n_beats && ++quiet >= drain) {
            c++;
            break;
        }
    }
    t->s_axis_tvalid = 0;
    t->m_axis_tready = 0;
    t->eval();
    return c;
}

// Move up to `cap` output beats taken so far into data/last; returns how many.
int64_t lrs_take(void *h, uint32_t *data, uint8_t *last, int64_t cap) {
    Sim *s = static_cast<Sim *>(h);
    int64_t n = (int64_t)s->out_data.size() < cap ? (int64_t)s->out_data.size() : cap;
    for (int64_t i = 0; i < n; i++) { data[i] = s->out_data[i]; last[i] = s->out_last[i]; }
    s->out_data.erase(s->out_data.begin(), s->out_data.begin() + n);
    s->out_last.erase(s->out_last.begin(), s->out_last.begin() + n);
    return n;
}

}  // extern "C"
