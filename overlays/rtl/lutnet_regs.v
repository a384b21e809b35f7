// AXI4-Lite register block of the overlay (map in docs/fpga.md).  Single-beat,
// one outstanding transaction per direction, byte strobes honoured.
`default_nettype none
module lutnet_regs #(
    parameter [31:0] INFO_PIXELS = 0,
    parameter [31:0] INFO_SHAPE = 0,    // {classes[15:0], frames[15:0]}
    parameter [31:0] INFO_LAYOUT = 0,   // {pixels per beat, method, shift, latency}
    parameter [31:0] DIGEST = 0         // first 32 bits of the model's SHA-256 digest
) (
    input wire clk,
    input wire rst,
    // verilator lint_off UNUSEDSIGNAL
    input wire [5:0] s_axi_awaddr,  // word aligned: bits [1:0] are ignored
    input wire s_axi_awvalid,
    output wire s_axi_awready,
    input wire [31:0] s_axi_wdata,
    input wire [3:0] s_axi_wstrb,
    input wire s_axi_wvalid,
    output wire s_axi_wready,
    output wire [1:0] s_axi_bresp,
    output reg s_axi_bvalid,
    input wire s_axi_bready,
    input wire [5:0] s_axi_araddr,
    // verilator lint_on UNUSEDSIGNAL
    input wire s_axi_arvalid,
    output wire s_axi_arready,
    output reg [31:0] s_axi_rdata,
    output wire [1:0] s_axi_rresp,
    output reg s_axi_rvalid,
    input wire s_axi_rready,
    // to and from the datapath
    output reg temporal,
    output wire clear,            // one-clock pulse: zero the temporal scores
    output wire counter_write,    // one-clock pulse: frame_counter <= counter_value
    output wire [31:0] counter_value,
    output reg [31:0] batch,      // frames per output packet (TLAST); 0 acts as 1
    input wire [31:0] frame_counter,
    input wire [31:0] frames_done,
    input wire length_error       // a one-clock pulse per malformed frame
);
    localparam [31:0] MAGIC = 32'h4C55_544E;  // "LUTN"
    localparam [5:0] A_MAGIC = 6'h00, A_CTRL = 6'h04, A_ERROR = 6'h08, A_COUNTER = 6'h0C,
                     A_DONE = 6'h10, A_BATCH = 6'h14, A_PIXELS = 6'h18, A_SHAPE = 6'h1C,
                     A_LAYOUT = 6'h20, A_DIGEST = 6'h24;

    reg [31:0] errors;  // count of malformed frames since the last clear
    wire wr = s_axi_awvalid && s_axi_wvalid && !s_axi_bvalid;
    assign s_axi_awready = wr;
    assign s_axi_wready = wr;
    assign s_axi_bresp = 2'b00;
    assign s_axi_arready = !s_axi_rvalid;
    assign s_axi_rresp = 2'b00;

    function [31:0] merge(input [31:0] old, input [31:0] data, input [3:0] strb);
        integer i;
        begin
            for (i = 0; i < 4; i = i + 1)
                merge[8*i +: 8] = strb[i] ? data[8*i +: 8] : old[8*i +: 8];
        end
    endfunction

    wire [5:0] waddr = {s_axi_awaddr[5:2], 2'b00};
    assign clear = wr && waddr == A_CTRL && s_axi_wstrb[0] && s_axi_wdata[1];
    assign counter_write = wr && waddr == A_COUNTER;
    assign counter_value = merge(frame_counter, s_axi_wdata, s_axi_wstrb);

    always @(posedge clk) begin
        if (rst) begin
            s_axi_bvalid <= 1'b0;
            temporal <= 1'b0;
            batch <= 32'd1;
            errors <= 32'd0;
        end else begin
            if (wr) begin
                s_axi_bvalid <= 1'b1;
                if (waddr == A_CTRL && s_axi_wstrb[0]) temporal <= s_axi_wdata[0];
                if (waddr == A_BATCH) batch <= merge(batch, s_axi_wdata, s_axi_wstrb);
            end else if (s_axi_bready) begin
                s_axi_bvalid <= 1'b0;
            end
            // Write-to-clear, but a frame failing in that very clock still counts.
            if (wr && waddr == A_ERROR) errors <= {31'd0, length_error};
            else if (length_error) errors <= errors + 1'b1;
        end
    end

    always @(posedge clk) begin
        if (rst) begin
            s_axi_rvalid <= 1'b0;
            s_axi_rdata <= 32'd0;
        end else if (s_axi_arvalid && !s_axi_rvalid) begin
            s_axi_rvalid <= 1'b1;
            case ({s_axi_araddr[5:2], 2'b00})
                A_MAGIC: s_axi_rdata <= MAGIC;
                A_CTRL: s_axi_rdata <= {31'd0, temporal};
                A_ERROR: s_axi_rdata <= errors;
                A_COUNTER: s_axi_rdata <= frame_counter;
                A_DONE: s_axi_rdata <= frames_done;
                A_BATCH: s_axi_rdata <= batch;
                A_PIXELS: s_axi_rdata <= INFO_PIXELS;
                A_SHAPE: s_axi_rdata <= INFO_SHAPE;
                A_LAYOUT: s_axi_rdata <= INFO_LAYOUT;
                A_DIGEST: s_axi_rdata <= DIGEST;
                default: s_axi_rdata <= 32'd0;
            endcase
        end else if (s_axi_rready) begin
            s_axi_rvalid <= 1'b0;
        end
    end
endmodule
`default_nettype wire
