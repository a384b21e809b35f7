// Binary oversampling in fabric: one stored frame becomes binary sub-frames,
// one per enabled clock, bit-exact with docs/modulation.md (thermometer,
// sigma-delta).  Thermometer pixels arrive pre-coded as k(v) when PIX_W < 8
// (lutnet_pixel_code: bit f = k > f), else as bytes compared with a
// per-sub-frame threshold.  Stochastic thresholds need two 32-bit multiplications per
// pixel and sub-frame and are refused when the RTL is generated.
//
// Normal mode: sub-frames 0..FRAMES-1 of every frame.  Temporal mode: only
// sub-frame `phase` (sigma-delta still steps through 0..phase, since each of
// its bits depends on the ones before).
`default_nettype none
module lutnet_modulator #(
    parameter integer N_PIXELS = 784,
    parameter integer FRAMES = 15,
    parameter integer METHOD = 0,  // 0 thermometer, 2 sigma-delta
    parameter integer LO = 0,
    parameter integer HI = 255,
    parameter integer F_W = 4,     // bits of a sub-frame index: max(1, clog2(FRAMES))
    parameter integer PIX_W = 8    // bits a stored pixel: k(v) (thermometer, F < 255) or the byte
) (
    input wire clk,
    input wire rst,
    input wire ce,
    input wire load,               // take `pixels` now (honoured only when `ready`)
    input wire [PIX_W*N_PIXELS-1:0] pixels,
    input wire temporal,
    input wire [F_W-1:0] phase,
    output wire ready,
    output reg out_valid,
    output reg [N_PIXELS-1:0] out_bits
);
    localparam integer D = HI - LO;
    localparam integer LAST_F_I = FRAMES - 1;
    localparam [F_W-1:0] LAST_F = LAST_F_I[F_W-1:0];
    localparam [F_W-1:0] FIRST_F = 0;

    reg busy;
    reg [F_W-1:0] f_cur, f_end, f_emit;
    assign ready = !busy;
    wire take = ce && load && !busy;
    wire emit = busy && f_cur >= f_emit;

    always @(posedge clk) begin
        if (rst) begin
            busy <= 1'b0;
            f_cur <= FIRST_F;
            f_end <= FIRST_F;
            f_emit <= FIRST_F;
        end else if (ce) begin
            if (take) begin
                busy <= 1'b1;
                // Thermometer bits depend on f alone: jump straight to `phase`.
                f_cur <= (temporal && METHOD == 0) ? phase : FIRST_F;
                f_end <= temporal ? phase : LAST_F;
                f_emit <= temporal ? phase : FIRST_F;
            end else if (busy) begin
                if (f_cur == f_end) busy <= 1'b0;
                else f_cur <= f_cur + 1'b1;
            end
        end
    end

    genvar p;
    generate
        if (METHOD == 0 && PIX_W < 8) begin : g_thermometer_coded
            localparam integer CW = PIX_W > F_W ? PIX_W : F_W;
            reg [PIX_W*N_PIXELS-1:0] frame;
            reg [F_W-1:0] f;
            reg f_valid;
            always @(posedge clk) begin
                if (take) frame <= pixels;
                if (rst) f_valid <= 1'b0;
                else if (ce) f_valid <= emit;
                if (ce) f <= f_cur;
                if (rst) out_valid <= 1'b0;
                else if (ce) out_valid <= f_valid;
            end
            // `frame` is replaced no earlier than the clock after the last
            // sub-frame index was registered, so each bit sees its own frame.
            for (p = 0; p < N_PIXELS; p = p + 1) begin : g_px
                always @(posedge clk) if (ce) out_bits[p] <= {{(CW - PIX_W + 1){1'b0}}, frame[PIX_W*p +: PIX_W]} > {{(CW - F_W + 1){1'b0}}, f};
            end
        end else if (METHOD == 0) begin : g_thermometer
            // Bit f of pixel v is 1 iff v >= LO + floor((2f+1)D / 2F) + 1,
            // the integer form of (2f+1)D < 2F(clip(v)-LO) (docs/modulation.md).
            wire [7:0] thr_rom [0:FRAMES-1];
            genvar f;
            for (f = 0; f < FRAMES; f = f + 1) begin : g_rom
                localparam integer T = LO + ((2 * f + 1) * D) / (2 * FRAMES) + 1;
                assign thr_rom[f] = T[7:0];
            end
            reg [8*N_PIXELS-1:0] frame;
            reg [7:0] thr;
            reg thr_valid;
            always @(posedge clk) begin
                if (take) frame <= pixels;
                if (rst) thr_valid <= 1'b0;
                else if (ce) thr_valid <= emit;
                if (ce) thr <= thr_rom[f_cur];
                if (rst) out_valid <= 1'b0;
                else if (ce) out_valid <= thr_valid;
            end
            for (p = 0; p < N_PIXELS; p = p + 1) begin : g_px
                always @(posedge clk) if (ce) out_bits[p] <= frame[8*p +: 8] >= thr;
            end
        end else begin : g_sigma_delta
            // s = e + 2a; bit = s >= D; e = s - 2D*bit, with e = 0 at sub-frame 0.
            localparam integer D2 = 2 * D;
            localparam signed [11:0] D_S = $signed(D[11:0]);
            localparam signed [11:0] D2_S = $signed(D2[11:0]);
            localparam [7:0] LO8 = LO[7:0];
            localparam [7:0] D8 = D[7:0];
            always @(posedge clk) begin
                if (rst) out_valid <= 1'b0;
                else if (ce) out_valid <= emit;
            end
            for (p = 0; p < N_PIXELS; p = p + 1) begin : g_px
                wire [7:0] v = pixels[8*p +: 8];
                // a = clip(v, LO, HI) - LO by 9-bit carries rather than comparisons, which
                // would be constant when LO = 0 or HI = 255: off[8] says v >= LO, over[8]
                // says v - LO > D.
                wire [8:0] off = {1'b0, v} + 9'd256 - {1'b0, LO8};
                // verilator lint_off UNUSEDSIGNAL
                wire [8:0] over = {1'b0, off[7:0]} + 9'd255 - {1'b0, D8};  // only its carry is read
                // verilator lint_on UNUSEDSIGNAL
                wire [7:0] a_in = !off[8] ? 8'd0 : over[8] ? D8 : off[7:0];
                reg [7:0] a;
                reg signed [11:0] e;
                wire signed [11:0] s = e + $signed({3'b000, a, 1'b0});
                wire bit_now = s >= D_S;
                always @(posedge clk) begin
                    if (take) begin
                        a <= a_in;
                        e <= 12'sd0;
                    end else if (ce && busy) begin
                        e <= bit_now ? s - D2_S : s;
                    end
                    if (ce) out_bits[p] <= bit_now;
                end
            end
        end
    endgenerate
endmodule
`default_nettype wire
