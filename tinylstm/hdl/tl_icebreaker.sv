// tinylstm: iCEBreaker board top (iCE40 UP5K-SG48): 12 MHz oscillator -> SB_PLL40_PAD -> core clock
// (tinylstm_board_pkg::CLK_MHZ), the FTDI UART (RX pin 6, TX pin 9) speaking the ESP32 firmware's line protocol
// (tl_board), the red LED lit while an inference runs. Pins: icebreaker.pcf of the export.
// In simulation (no SYNTHESIS macro) the PLL is bypassed: CLK is the core clock.
`timescale 1ns/1ps
module tl_icebreaker (
    input  logic CLK,
    input  logic RX,
    output logic TX,
    output logic LEDR_N
);
    logic clk, locked;
`ifdef SYNTHESIS
    SB_PLL40_PAD #(
        .FEEDBACK_PATH("SIMPLE"),
        .DIVR(tinylstm_board_pkg::PLL_DIVR),
        .DIVF(tinylstm_board_pkg::PLL_DIVF),
        .DIVQ(tinylstm_board_pkg::PLL_DIVQ),
        .FILTER_RANGE(tinylstm_board_pkg::PLL_FILTER)
    ) u_pll (
        .PACKAGEPIN(CLK), .PLLOUTCORE(), .PLLOUTGLOBAL(clk), .RESETB(1'b1), .BYPASS(1'b0),
        .LOCK(locked), .EXTFEEDBACK(), .DYNAMICDELAY(), .LATCHINPUTVALUE(), .SDI(), .SDO(), .SCLK()
    );
`else
    assign clk = CLK;
    assign locked = 1'b1;
`endif
    // power-on reset: held until the PLL locks, then 15 more cycles
    logic [3:0] por = 4'd0;
    logic       rst_n;
    always_ff @(posedge clk)
        if (!locked) por <= 4'd0;
        else if (por != 4'hF) por <= por + 4'd1;
    assign rst_n = por == 4'hF;

    logic busy;
    tl_board u_board (.clk(clk), .rst_n(rst_n), .rx(RX), .tx(TX), .busy_led(busy));
    assign LEDR_N = !busy;
endmodule
