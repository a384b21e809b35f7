// Class votes over a frame's sub-frames, or (temporal mode) an exponential
// moving average over camera frames: s <- s - (s >> SHIFT) + v, integer,
// exactly as docs/modulation.md specifies and lutrun.temporal computes.
`default_nettype none
module lutnet_accumulator #(
    parameter integer N_CLASSES = 10,
    parameter integer FRAMES = 15,
    parameter integer COUNT_W = 6,  // width of one class's count per sub-frame
    parameter integer ACC_W = 10,   // width of a score: F * max count, or the EMA's bound
    parameter integer SHIFT = 4,    // temporal EMA shift
    parameter integer F_W = 4
) (
    input wire clk,
    input wire rst,
    input wire ce,
    input wire clear,               // zero the scores (temporal state) now
    input wire temporal,
    input wire in_valid,
    input wire [N_CLASSES*COUNT_W-1:0] counts,
    output wire frame_done,         // this sub-frame completes a frame's scores
    output wire [N_CLASSES*ACC_W-1:0] scores  // those scores, valid with frame_done
);
    localparam integer LAST_F_I = FRAMES - 1;
    localparam [F_W-1:0] LAST_F = LAST_F_I[F_W-1:0];
    reg [F_W-1:0] sub;
    reg [N_CLASSES*ACC_W-1:0] acc;
    assign frame_done = in_valid && (temporal || sub == LAST_F);

    genvar c;
    generate
        for (c = 0; c < N_CLASSES; c = c + 1) begin : g_class
            wire [ACC_W-1:0] count = {{(ACC_W - COUNT_W){1'b0}}, counts[c*COUNT_W +: COUNT_W]};
            wire [ACC_W-1:0] old = acc[c*ACC_W +: ACC_W];
            wire [ACC_W-1:0] sum = (sub == {F_W{1'b0}} ? {ACC_W{1'b0}} : old) + count;
            wire [ACC_W-1:0] ema = old - (old >> SHIFT) + count;
            assign scores[c*ACC_W +: ACC_W] = temporal ? ema : sum;
        end
    endgenerate

    always @(posedge clk) begin
        if (rst || clear) begin
            sub <= {F_W{1'b0}};
            acc <= {N_CLASSES*ACC_W{1'b0}};
        end else if (ce && in_valid) begin
            acc <= scores;
            sub <= (temporal || sub == LAST_F) ? {F_W{1'b0}} : sub + 1'b1;
        end
    end
endmodule
`default_nettype wire
