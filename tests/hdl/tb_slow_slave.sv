// Test-only AXI4-Lite slave with slow, configurable handshakes, used to test the cocotb master helper (axil.py):
// READY signals rise DELAY cycles after VALID, responses come DELAY cycles late, and RDATA carries a poison
// value (32'hDEADBEEF) whenever RVALID is low, so a helper sampling at the wrong time reads garbage.
`timescale 1ns/1ps
module tb_slow_slave #(parameter int DELAY = 3) (
    input  logic        aclk,
    input  logic        aresetn,
    input  logic        s_axil_awvalid,
    output logic        s_axil_awready,
    input  logic [15:0] s_axil_awaddr,
    input  logic [2:0]  s_axil_awprot,
    input  logic        s_axil_wvalid,
    output logic        s_axil_wready,
    input  logic [31:0] s_axil_wdata,
    input  logic [3:0]  s_axil_wstrb,
    output logic        s_axil_bvalid,
    input  logic        s_axil_bready,
    output logic [1:0]  s_axil_bresp,
    input  logic        s_axil_arvalid,
    output logic        s_axil_arready,
    input  logic [15:0] s_axil_araddr,
    input  logic [2:0]  s_axil_arprot,
    output logic        s_axil_rvalid,
    input  logic        s_axil_rready,
    output logic [31:0] s_axil_rdata,
    output logic [1:0]  s_axil_rresp
);
    logic [31:0] mem [0:15];
    int aw_cnt, w_cnt, b_cnt, ar_cnt, r_cnt;
    logic aw_got, w_got, ar_got;
    logic [15:0] aw_a, ar_a;
    logic [31:0] w_d;
    logic [31:0] r_d;

    assign s_axil_rdata = s_axil_rvalid ? r_d : 32'hDEADBEEF;
    assign s_axil_bresp = 2'b00;
    assign s_axil_rresp = 2'b00;

    always_ff @(posedge aclk) begin
        if (!aresetn) begin
            s_axil_awready <= 1'b0; s_axil_wready <= 1'b0; s_axil_bvalid <= 1'b0;
            s_axil_arready <= 1'b0; s_axil_rvalid <= 1'b0;
            aw_cnt <= 0; w_cnt <= 0; b_cnt <= 0; ar_cnt <= 0; r_cnt <= 0;
            aw_got <= 1'b0; w_got <= 1'b0; ar_got <= 1'b0;
            for (int i = 0; i < 16; i++) mem[i] <= 32'(i) * 32'h01010101;
        end else begin
            // AW: ready DELAY cycles after valid, one-cycle pulse
            s_axil_awready <= 1'b0;
            if (s_axil_awvalid && !aw_got && !s_axil_awready) begin
                aw_cnt <= aw_cnt + 1;
                if (aw_cnt >= DELAY) begin s_axil_awready <= 1'b1; aw_cnt <= 0; end
            end
            if (s_axil_awvalid && s_axil_awready) begin aw_got <= 1'b1; aw_a <= s_axil_awaddr; end
            // W: same, with a different delay
            s_axil_wready <= 1'b0;
            if (s_axil_wvalid && !w_got && !s_axil_wready) begin
                w_cnt <= w_cnt + 1;
                if (w_cnt >= DELAY + 1) begin s_axil_wready <= 1'b1; w_cnt <= 0; end
            end
            if (s_axil_wvalid && s_axil_wready) begin w_got <= 1'b1; w_d <= s_axil_wdata; end
            // B: DELAY cycles after both
            if (aw_got && w_got && !s_axil_bvalid) begin
                b_cnt <= b_cnt + 1;
                if (b_cnt >= DELAY) begin
                    mem[aw_a[5:2]] <= w_d; s_axil_bvalid <= 1'b1; b_cnt <= 0; aw_got <= 1'b0; w_got <= 1'b0;
                end
            end
            if (s_axil_bvalid && s_axil_bready) s_axil_bvalid <= 1'b0;
            // AR / R
            s_axil_arready <= 1'b0;
            if (s_axil_arvalid && !ar_got && !s_axil_arready && !s_axil_rvalid) begin
                ar_cnt <= ar_cnt + 1;
                if (ar_cnt >= DELAY) begin s_axil_arready <= 1'b1; ar_cnt <= 0; end
            end
            if (s_axil_arvalid && s_axil_arready) begin ar_got <= 1'b1; ar_a <= s_axil_araddr; end
            if (ar_got && !s_axil_rvalid) begin
                r_cnt <= r_cnt + 1;
                if (r_cnt >= DELAY) begin
                    s_axil_rvalid <= 1'b1; r_d <= mem[ar_a[5:2]]; r_cnt <= 0; ar_got <= 1'b0;
                end
            end
            if (s_axil_rvalid && s_axil_rready) s_axil_rvalid <= 1'b0;
        end
    end
    logic unused;
    assign unused = ^{s_axil_awprot, s_axil_arprot, s_axil_wstrb, aw_a[15:6], aw_a[1:0], ar_a[15:6], ar_a[1:0]};
endmodule
