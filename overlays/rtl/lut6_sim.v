// Behavioural Xilinx LUT6 for simulators (Verilator, Icarus) and for Yosys
// runs without the vendor library.  Vivado and Yosys' synth_xilinx map the
// LUT6 instances of lutnet_core.v to the primitive itself; do not add this
// file to a Vivado project.
// verilator lint_off DECLFILENAME
`default_nettype none
module LUT6 #(
    parameter [63:0] INIT = 64'h0
) (
    output wire O,
    input wire I0,
    input wire I1,
    input wire I2,
    input wire I3,
    input wire I4,
    input wire I5
);
    // Bit j of INIT is the output when {I5..I0} spell j: input 0 is the LSB.
    assign O = INIT[{I5, I4, I3, I2, I1, I0}];
endmodule
`default_nettype wire
// verilator lint_on DECLFILENAME
