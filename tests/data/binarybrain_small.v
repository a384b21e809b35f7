// Hand-written in the layout of BinaryBrain's ExportVerilog_LutLayers (dump_verilog_lut_layers):
// a top module chaining <name>_sub<i>, one LUT layer per sub-module.
// 16 input bits -> 4 LUTs of 6 inputs -> 2 LUTs of 2 inputs.
//   sub0 lut 0: AND of in_data[0..5]            (hex INIT)
//   sub0 lut 1: copies LUT input 0 = in_data[7]  (binary INIT; input 0 is the LAST entry of the concatenation)
//   sub0 lut 2: copies I5 = in_data[12]          (Xilinx LUT6 primitive)
//   sub0 lut 3: parity of in_data[10..15]        (hex INIT with underscores)
//   sub1 lut 0: lut0 XOR lut1; sub1 lut 1: lut2 AND NOT lut3

`timescale 1ns / 1ps

module SmallLut
        #(
            parameter USER_WIDTH = 0,
            parameter DEVICE     = "RTL",
            parameter USER_BITS  = USER_WIDTH > 0 ? USER_WIDTH : 1
        )
        (
            input  wire                  reset,
            input  wire                  clk,
            input  wire                  cke,
            input  wire [USER_BITS-1:0]  in_user,
            input  wire [       16-1:0]  in_data,
            input  wire                  in_valid,
            output wire [USER_BITS-1:0]  out_user,
            output wire [        2-1:0]  out_data,
            output wire                  out_valid
        );

wire  [        4-1:0]  layer0_data;
SmallLut_sub0 #(.DEVICE(DEVICE)) i_SmallLut_sub0 (.reset(reset), .clk(clk), .cke(cke), .in_data(in_data), .out_data(layer0_data));
wire  [        2-1:0]  layer1_data;
SmallLut_sub1 #(.DEVICE(DEVICE)) i_SmallLut_sub1 (.reset(reset), .clk(clk), .cke(cke), .in_data(layer0_data), .out_data(layer1_data));
assign out_data = layer1_data;

endmodule


module SmallLut_sub1
        #(
            parameter DEVICE = "RTL"
        )
        (
            input  wire         reset,
            input  wire         clk,
            input  wire         cke,
            input  wire [3:0]  in_data,
            output wire [1:0]  out_data
        );

// LUT : 0
wire lut_0_out;
bb_lut
        #(
            .N(2),
            .INIT(4'b0110),
            .DEVICE(DEVICE)
        )
    i_lut_0
        (
            .in_data({
                         in_data[1],
                         in_data[0]
                    }),
            .out_data(lut_0_out)
        );
reg   lut_0_ff;
always @(posedge clk) begin
    if ( cke ) begin
        lut_0_ff <= lut_0_out;
    end
end
assign out_data[0] = lut_0_ff;

// LUT : 1
wire lut_1_out;
bb_lut
        #(
            .N(2),
            .INIT(4'b0100),
            .DEVICE(DEVICE)
        )
    i_lut_1
        (
            .in_data({
                         in_data[2],
                         in_data[3]
                    }),
            .out_data(lut_1_out)
        );
reg   lut_1_ff;
always @(posedge clk) begin
    if ( cke ) begin
        lut_1_ff <= lut_1_out;
    end
end
assign out_data[1] = lut_1_ff;

endmodule


module SmallLut_sub0
        #(
            parameter DEVICE = "RTL"
        )
        (
            input  wire         reset,
            input  wire         clk,
            input  wire         cke,
            input  wire [15:0]  in_data,
            output wire [3:0]  out_data
        );

// LUT : 0
wire lut_0_out;
bb_lut
        #(
            .N(6),
            .INIT(64'h8000000000000000),
            .DEVICE(DEVICE)
        )
    i_lut_0
        (
            .in_data({
                         in_data[5],
                         in_data[4],
                         in_data[3],
                         in_data[2],
                         in_data[1],
                         in_data[0]
                    }),
            .out_data(lut_0_out)
        );
assign out_data[0] = lut_0_out;

// LUT : 1
wire lut_1_out;
bb_lut
        #(
            .N(6),
            .INIT(64'b1010101010101010101010101010101010101010101010101010101010101010),
            .DEVICE(DEVICE)
        )
    i_lut_1
        (
            .in_data({
                         in_data[9],
                         in_data[8],
                         in_data[6],
                         in_data[3],
                         in_data[2],
                         in_data[7]
                    }),
            .out_data(lut_1_out)
        );
assign out_data[1] = lut_1_out;

// LUT : 2
wire lut_2_out;
LUT6
        #(
            .INIT(64'hFFFFFFFF00000000)
        )
    i_lut6_2
        (
            .O  (lut_2_out),
            .I0 (in_data[0]),
            .I1 (in_data[1]),
            .I2 (in_data[2]),
            .I3 (in_data[3]),
            .I4 (in_data[4]),
            .I5 (in_data[12])
        );
assign out_data[2] = lut_2_out;

// LUT : 3
wire lut_3_out;
bb_lut
        #(
            .N(6),
            .INIT(64'h6996_9669_9669_6996),
            .DEVICE(DEVICE)
        )
    i_lut_3
        (
            .in_data({
                         in_data[15],
                         in_data[14],
                         in_data[13],
                         in_data[12],
                         in_data[11],
                         in_data[10]
                    }),
            .out_data(lut_3_out)
        );
assign out_data[3] = lut_3_out;

endmodule
