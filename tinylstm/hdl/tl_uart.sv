// tinylstm: 8N1 UART receiver and transmitter (CLKS_PER_BIT clock cycles per bit).
`timescale 1ns/1ps
module tl_uart_rx #(parameter int CLKS_PER_BIT = 260) (
    input  logic       clk,
    input  logic       rst_n,
    input  logic       rx,
    output logic       valid,      // one-cycle pulse: `data` holds a received byte (stop bit seen high)
    output logic [7:0] data
);
    localparam int CW = $clog2(CLKS_PER_BIT * 3 / 2 + 1);
    logic [2:0]    sync;           // metastability filter; sync[2] is the sampled line
    logic [CW-1:0] cnt;
    logic [3:0]    bitn;           // 0: idle, 1..8 data bits, 9 stop bit
    logic [7:0]    sh;
    always_ff @(posedge clk) begin
        if (!rst_n) begin
            sync <= 3'b111; cnt <= '0; bitn <= '0; sh <= '0; valid <= 1'b0; data <= '0;
        end else begin
            sync  <= {sync[1:0], rx};
            valid <= 1'b0;
            if (bitn == 4'd0) begin
                if (!sync[2]) begin                          // start bit edge: sample data bit 0 1.5 bits later
                    bitn <= 4'd1;
                    cnt  <= CW'(CLKS_PER_BIT * 3 / 2 - 1);
                end
            end else if (cnt != '0) begin
                cnt <= cnt - CW'(1);
            end else if (bitn <= 4'd8) begin
                sh   <= {sync[2], sh[7:1]};
                bitn <= bitn + 4'd1;
                cnt  <= CW'(CLKS_PER_BIT - 1);
            end else begin                                   // stop bit sample
                bitn <= 4'd0;
                if (sync[2]) begin
                    valid <= 1'b1;
                    data  <= sh;
                end
            end
        end
    end
endmodule

module tl_uart_tx #(parameter int CLKS_PER_BIT = 260) (
    input  logic       clk,
    input  logic       rst_n,
    input  logic       send,       // accepted when !busy
    input  logic [7:0] data,
    output logic       busy,
    output logic       tx
);
    localparam int CW = $clog2(CLKS_PER_BIT + 1);
    logic [CW-1:0] cnt;
    logic [3:0]    bitn;
    logic [10:0]   sh;             // start, 8 data bits, stop, and one more stop-level bit (ends the stop bit)
    assign busy = bitn != 4'd0;
    always_ff @(posedge clk) begin
        if (!rst_n) begin
            cnt <= '0; bitn <= '0; sh <= '1; tx <= 1'b1;
        end else if (bitn == 4'd0) begin
            tx <= 1'b1;
            if (send) begin
                sh   <= {2'b11, data, 1'b0};
                bitn <= 4'd11;
                cnt  <= '0;
            end
        end else if (cnt != '0) begin
            cnt <= cnt - CW'(1);
        end else begin
            tx   <= sh[0];
            sh   <= {1'b1, sh[10:1]};
            bitn <= bitn - 4'd1;
            cnt  <= CW'(CLKS_PER_BIT - 1);
        end
    end
endmodule
