// tinylstm: AXI4-Lite slave around tl_core. Register map: regmap.md of the export (generated from the same
// constants as this file: tinylstm/export/fpga.py). 32-bit accesses; WSTRB is ignored (whole-word writes).
// Write: AW and W are accepted independently (each held in a register), the write happens once both are held
// and the B channel is free; BRESP = SLVERR for writes to read-only/unmapped addresses or to inputs/weights while
// busy. Read: one outstanding read, RDATA registered; RRESP = SLVERR for unmapped/write-only addresses.
`timescale 1ns/1ps
module tl_axil
#(
    parameter WEIGHTS_FILE = "weights.memh",
    parameter BIAS_FILE    = "bias.memh",
    parameter SIG_FILE     = "sigmoid.memh",
    parameter TANH_FILE    = "tanh.memh"
) (
    input  logic        aclk,
    input  logic        aresetn,
    // write address
    input  logic        s_axil_awvalid,
    output logic        s_axil_awready,
    input  logic [15:0] s_axil_awaddr,
    input  logic [2:0]  s_axil_awprot,
    // write data
    input  logic        s_axil_wvalid,
    output logic        s_axil_wready,
    input  logic [31:0] s_axil_wdata,
    input  logic [3:0]  s_axil_wstrb,
    // write response
    output logic        s_axil_bvalid,
    input  logic        s_axil_bready,
    output logic [1:0]  s_axil_bresp,
    // read address
    input  logic        s_axil_arvalid,
    output logic        s_axil_arready,
    input  logic [15:0] s_axil_araddr,
    input  logic [2:0]  s_axil_arprot,
    // read data
    output logic        s_axil_rvalid,
    input  logic        s_axil_rready,
    output logic [31:0] s_axil_rdata,
    output logic [1:0]  s_axil_rresp,
    output logic        irq                 // level: inference done
);
    // network constants from the generated package (scoped references: no import needed by any tool)
    localparam int W = tinylstm_net_pkg::W;
    localparam int LANES = tinylstm_net_pkg::LANES;
    localparam int LANE_AW = tinylstm_net_pkg::LANE_AW;
    localparam int WSLOTS = tinylstm_net_pkg::WSLOTS;
    localparam int BSLOTS = tinylstm_net_pkg::BSLOTS;
    localparam int VM_AW = tinylstm_net_pkg::VM_AW;
    localparam int NIN = tinylstm_net_pkg::NIN;
    localparam int IN_AW = tinylstm_net_pkg::IN_AW;
    localparam int NOUT = tinylstm_net_pkg::NOUT;
    localparam logic [31:0] VERSION = tinylstm_net_pkg::VERSION;
    localparam logic [31:0] INFO = tinylstm_net_pkg::INFO;
    localparam logic [15:0] REG_VERSION = tinylstm_net_pkg::REG_VERSION;
    localparam logic [15:0] REG_CTRL = tinylstm_net_pkg::REG_CTRL;
    localparam logic [15:0] REG_STATUS = tinylstm_net_pkg::REG_STATUS;
    localparam logic [15:0] REG_CYCLES = tinylstm_net_pkg::REG_CYCLES;
    localparam logic [15:0] REG_INFO = tinylstm_net_pkg::REG_INFO;
    localparam logic [15:0] REG_INPUT = tinylstm_net_pkg::REG_INPUT;
    localparam logic [15:0] REG_OUTPUT = tinylstm_net_pkg::REG_OUTPUT;
    localparam logic [15:0] WIN_BIAS = tinylstm_net_pkg::WIN_BIAS;
    localparam logic [15:0] WIN_WEIGHTS = tinylstm_net_pkg::WIN_WEIGHTS;
    localparam logic [1:0] OKAY = 2'b00, SLVERR = 2'b10;

    // ------------------------------------------------------------------ core
    logic              start, busy, done, overrun;
    logic [31:0]       cycles;
    logic              in_we, w_we, b_we;
    logic [VM_AW-1:0]  in_addr;
    logic [W-1:0]      in_data;
    logic [15:0]       wb_slot;
    logic [LANE_AW-1:0] wb_lane;
    logic [W-1:0]      wb_data;
    logic [NOUT*W-1:0] out_flat;

    tl_core #(.WEIGHTS_FILE(WEIGHTS_FILE), .BIAS_FILE(BIAS_FILE), .SIG_FILE(SIG_FILE), .TANH_FILE(TANH_FILE)) u_core (
        .clk(aclk), .rst_n(aresetn), .start(start), .busy(busy), .done(done), .overrun(overrun), .cycles(cycles),
        .in_we(in_we), .in_addr(in_addr), .in_data(in_data),
        .w_we(w_we), .b_we(b_we), .wb_slot(wb_slot), .wb_lane(wb_lane), .wb_data(wb_data), .out_flat(out_flat));

    assign irq = done;

    // input shadow registers (read back over the bus)
    logic [W-1:0] in_q [0:(1 << IN_AW)-1];

    // ------------------------------------------------------------------ write channel
    logic        aw_held, w_held;
    logic [15:0] aw_addr;
    logic [31:0] w_data;
    assign s_axil_awready = !aw_held;
    assign s_axil_wready  = !w_held;

    logic        do_write;
    logic [15:0] wa;        // word index of the write
    logic        wr_ok;
    always_comb begin
        do_write = aw_held && w_held && !s_axil_bvalid;
        wa       = {2'b00, aw_addr[15:2]};
        in_we    = 1'b0; in_addr = '0; in_data = w_data[W-1:0];
        w_we     = 1'b0; b_we = 1'b0;
        wb_slot  = '0; wb_lane = '0; wb_data = w_data[W-1:0];
        start    = 1'b0;
        wr_ok    = 1'b0;
        if (do_write) begin
            if (aw_addr == REG_CTRL) begin
                start = w_data[0];
                wr_ok = 1'b1;
            end else if (aw_addr >= REG_INPUT && aw_addr < REG_INPUT + 16'(4 * NIN)) begin
                if (!busy) begin
                    in_we   = 1'b1;
                    in_addr = VM_AW'(wa - (REG_INPUT >> 2));
                    start   = (wa - (REG_INPUT >> 2)) == 16'(NIN - 1);
                    wr_ok   = 1'b1;
                end
            end else if (aw_addr >= WIN_BIAS && aw_addr < WIN_WEIGHTS) begin
                wb_slot = 16'(({2'b00, aw_addr[15:2]} - (WIN_BIAS >> 2)) >> LANE_AW);
                wb_lane = aw_addr[2 +: LANE_AW];
                if (!busy && wb_slot < 16'(BSLOTS) && int'(wb_lane) < LANES) begin
                    b_we  = 1'b1;
                    wr_ok = 1'b1;
                end
            end else if (aw_addr >= WIN_WEIGHTS) begin
                wb_slot = 16'(({2'b00, aw_addr[15:2]} - (WIN_WEIGHTS >> 2)) >> LANE_AW);
                wb_lane = aw_addr[2 +: LANE_AW];
                if (!busy && wb_slot < 16'(WSLOTS) && int'(wb_lane) < LANES) begin
                    w_we  = 1'b1;
                    wr_ok = 1'b1;
                end
            end
        end
    end

    always_ff @(posedge aclk) begin
        if (!aresetn) begin
            aw_held <= 1'b0; w_held <= 1'b0; aw_addr <= '0; w_data <= '0;
            s_axil_bvalid <= 1'b0; s_axil_bresp <= OKAY;
            for (int i = 0; i < (1 << IN_AW); i = i + 1) in_q[i] <= '0;
        end else begin
            if (s_axil_awvalid && s_axil_awready) begin
                aw_held <= 1'b1;
                aw_addr <= s_axil_awaddr;
            end
            if (s_axil_wvalid && s_axil_wready) begin
                w_held <= 1'b1;
                w_data <= s_axil_wdata;
            end
            if (do_write) begin
                aw_held <= 1'b0;
                w_held  <= 1'b0;
                s_axil_bvalid <= 1'b1;
                s_axil_bresp  <= wr_ok ? OKAY : SLVERR;
                if (in_we) in_q[in_addr[IN_AW-1:0]] <= w_data[W-1:0];
            end else if (s_axil_bvalid && s_axil_bready) begin
                s_axil_bvalid <= 1'b0;
            end
        end
    end

    // ------------------------------------------------------------------ read channel
    assign s_axil_arready = !s_axil_rvalid;
    logic [31:0] rd;
    logic        rd_ok;
    logic [15:0] ra;
    logic [IN_AW-1:0] ra_in;
    always_comb begin
        ra    = {2'b00, s_axil_araddr[15:2]};
        ra_in = IN_AW'(ra - (REG_INPUT >> 2));
        rd    = '0;
        rd_ok = 1'b1;
        if (s_axil_araddr == REG_VERSION)       rd = VERSION;
        else if (s_axil_araddr == REG_STATUS)   rd = {29'd0, overrun, done, busy};
        else if (s_axil_araddr == REG_CYCLES)   rd = cycles;
        else if (s_axil_araddr == REG_INFO)     rd = INFO;
        else if (s_axil_araddr >= REG_INPUT && s_axil_araddr < REG_INPUT + 16'(4 * NIN))
            rd = 32'($signed(in_q[ra_in]));
        else if (s_axil_araddr >= REG_OUTPUT && s_axil_araddr < REG_OUTPUT + 16'(4 * NOUT))
            rd = 32'($signed(out_flat[(int'(ra) - int'(REG_OUTPUT) / 4) * W +: W]));
        else rd_ok = 1'b0;
    end

    always_ff @(posedge aclk) begin
        if (!aresetn) begin
            s_axil_rvalid <= 1'b0; s_axil_rdata <= '0; s_axil_rresp <= OKAY;
        end else if (s_axil_arvalid && s_axil_arready) begin
            s_axil_rvalid <= 1'b1;
            s_axil_rdata  <= rd;
            s_axil_rresp  <= rd_ok ? OKAY : SLVERR;
        end else if (s_axil_rvalid && s_axil_rready) begin
            s_axil_rvalid <= 1'b0;
        end
    end

    // unused inputs (kept for the standard AXI4-Lite port list)
    logic unused;
    assign unused = ^{s_axil_awprot, s_axil_arprot, s_axil_wstrb, w_data[31:W], aw_addr[1:0]};
endmodule
