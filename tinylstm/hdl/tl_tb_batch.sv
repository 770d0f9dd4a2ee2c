// tinylstm: batch testbench (simulation only). Runs one inference per row through tl_core:
//   +inputs=FILE  hex input codes, NIN per row, one per line ($readmemh), rows back to back
//   +rows=N       number of rows
//   +out=FILE     one line per row: the NOUT signed output codes, the argmax, the cycle count and the overrun
//                 flag, decimal
// Build and run (from the export directory):
//   iverilog -g2012 -o tb.vvp -s tl_tb_batch tinylstm_net_pkg.sv rtl/*.sv && vvp tb.vvp +rows=N +inputs=in.memh +out=out.txt
`timescale 1ns/1ps
module tl_tb_batch;
    // network constants from the generated package (scoped references: no import needed by any tool)
    localparam int W = tinylstm_net_pkg::W;
    localparam int VM_AW = tinylstm_net_pkg::VM_AW;
    localparam int NIN = tinylstm_net_pkg::NIN;
    localparam int NOUT = tinylstm_net_pkg::NOUT;
    localparam int LANE_AW = tinylstm_net_pkg::LANE_AW;
    localparam int OI_W = tinylstm_net_pkg::OI_W;
    localparam int MAXROWS = 65536;
    logic clk = 1'b0, rst_n = 1'b0, start = 1'b0;
    logic busy, done, overrun;
    logic [31:0] cycles;
    logic in_we = 1'b0;
    logic [VM_AW-1:0] in_addr = '0;
    logic [W-1:0] in_data = '0;
    logic [NOUT*W-1:0] out_flat;
    logic [OI_W-1:0] out_argmax;
    logic [W-1:0] inputs [0:MAXROWS*NIN-1];

    tl_core u_core (.clk(clk), .rst_n(rst_n), .start(start), .busy(busy), .done(done), .overrun(overrun),
                    .cycles(cycles), .in_we(in_we), .in_addr(in_addr), .in_data(in_data),
                    .w_we(1'b0), .wb_slot(16'd0), .rb_slot(16'd0), .wb_lane(LANE_AW'(0)), .wb_data(W'(0)),
                    .wb_mask(W'(0)), .rb_lane(LANE_AW'(0)), .w_rdata(), .out_flat(out_flat),
                    .out_argmax(out_argmax));

    always #5 clk = ~clk;

    initial begin : run
        string in_file, out_file;
        int rows, fd;
        if (!$value$plusargs("inputs=%s", in_file)) in_file = "inputs.memh";
        if (!$value$plusargs("out=%s", out_file)) out_file = "outputs.txt";
        if (!$value$plusargs("rows=%d", rows)) rows = 1;
        $readmemh(in_file, inputs);
        fd = $fopen(out_file, "w");
        repeat (3) @(posedge clk);
        rst_n <= 1'b1;
        @(posedge clk);
        for (int r = 0; r < rows; r = r + 1) begin
            for (int i = 0; i < NIN; i = i + 1) begin
                in_we <= 1'b1; in_addr <= VM_AW'(i); in_data <= inputs[r * NIN + i];
                @(posedge clk);
            end
            in_we <= 1'b0; start <= 1'b1;
            @(posedge clk);
            start <= 1'b0;
            @(posedge clk);
            while (!done) @(posedge clk);
            for (int o = 0; o < NOUT; o = o + 1) $fwrite(fd, "%0d ", $signed(out_flat[o * W +: W]));
            $fwrite(fd, "%0d %0d %0d\n", out_argmax, cycles, overrun);
        end
        $fclose(fd);
        $finish;
    end
endmodule
