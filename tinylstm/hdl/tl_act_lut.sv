// tinylstm: sigmoid / tanh activation over a table of f(|x|) (symmetry exploited); one cycle latency.
//   idx = (|x| + half_step) >> SHIFT      (round half up; SHIFT = FRAC - lut_frac)
//   pos = idx < DEPTH ? rom[idx] : 1.0    (saturation beyond the table)
//   sigmoid: x < 0 ? 1.0 - pos : pos      tanh: x < 0 ? -pos : pos
// Identical to tinylstm.fixedpoint.Lut.__call__ (the golden model).
`timescale 1ns/1ps
module tl_act_lut #(
    parameter int W     = 16,
    parameter int FRAC  = 8,
    parameter int DEPTH = 1597,
    parameter int AW    = 11,
    parameter int SHIFT = 0,
    parameter int TANH  = 0,               // 0: sigmoid, 1: tanh
    parameter     FILE  = "sigmoid.memh"
) (
    input  logic                clk,
    input  logic signed [W-1:0] x,
    output logic signed [W-1:0] y
);
    localparam logic [W-1:0] ONE  = W'(1) << FRAC;                 // 1.0 (fits: FRAC <= W-2)
    localparam logic [W-1:0] HALF = (SHIFT > 0) ? (W'(1) << (SHIFT > 0 ? SHIFT - 1 : 0)) : '0;

    logic [W-1:0] rom [0:DEPTH-1];
    initial $readmemh(FILE, rom);

    logic [W-1:0] sum;     // |x| + HALF as ONE adder: |x| = (x ^ sign) + sign; < 2^W: no overflow
    logic [W-1:0] idx;
    always_comb begin
        sum = (x ^ {W{x[W-1]}}) + (HALF + W'(x[W-1]));
        idx = sum >> SHIFT;
    end

    // registered table read (maps to block RAM); sign and saturation applied after the register
    logic [W-1:0] rom_q;
    logic         neg_q, sat_q;
    always_ff @(posedge clk) begin
        rom_q <= rom[idx[AW-1:0]];
        neg_q <= x[W-1];
        sat_q <= (idx >= W'(DEPTH));
    end

    logic [W-1:0] pos;
    always_comb begin
        pos = sat_q ? ONE : rom_q;
        if (TANH != 0) y = neg_q ? (W'(0) - pos) : pos;
        else           y = neg_q ? (ONE - pos) : pos;
    end
endmodule
