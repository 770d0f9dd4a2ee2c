// Test wrapper: the sigmoid and tanh tables of an export, driven by the same input (cocotb: cocotb_luts.py).
`timescale 1ns/1ps
module tb_luts
    import tinylstm_net_pkg::*;
(
    input  logic                clk,
    input  logic signed [W-1:0] x,
    output logic signed [W-1:0] y_sig,
    output logic signed [W-1:0] y_tanh
);
    tl_act_lut #(.W(W), .FRAC(FRAC), .DEPTH(SIG_DEPTH), .AW(SIG_AW), .SHIFT(LUT_SHIFT), .TANH(0), .FILE("sigmoid.memh"))
        u_sig (.clk(clk), .x(x), .y(y_sig));
    tl_act_lut #(.W(W), .FRAC(FRAC), .DEPTH(TANH_DEPTH), .AW(TANH_AW), .SHIFT(LUT_SHIFT), .TANH(1), .FILE("tanh.memh"))
        u_tanh (.clk(clk), .x(x), .y(y_tanh));
endmodule
