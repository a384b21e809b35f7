// Thermometer pre-coding of one pixel as it arrives: v -> k(v), the number of
// its F sub-frame bits that are 1 (bit f is then simply k > f).  A 256-entry
// ROM per stream lane replaces an 8-bit comparator per pixel in the modulator
// and shrinks the frame buffers from 8 to clog2(F+1) bits a pixel.
//   k(v) = clamp(ceil((2F*a - D) / 2D), 0, F),  a = clip(v, LO, HI) - LO, D = HI - LO,
// which counts the f with (2f+1)D < 2F*a (docs/modulation.md).
`default_nettype none
module lutnet_pixel_code #(
    parameter integer FRAMES = 15,
    parameter integer LO = 0,
    parameter integer HI = 255,
    parameter integer K_W = 4      // clog2(FRAMES + 1)
) (
    input wire [7:0] v,
    output wire [K_W-1:0] k
);
    localparam integer D = HI - LO;
    wire [K_W-1:0] rom [0:255];
    genvar i;
    generate
        for (i = 0; i < 256; i = i + 1) begin : g_rom
            localparam integer A = i < LO ? 0 : i > HI ? D : i - LO;
            localparam integer N = 2 * FRAMES * A - D;
            localparam integer K0 = N > 0 ? (N + 2 * D - 1) / (2 * D) : 0;
            localparam integer K = K0 > FRAMES ? FRAMES : K0;
            assign rom[i] = K[K_W-1:0];
        end
    endgenerate
    assign k = rom[v];
endmodule
`default_nettype wire
