// tinylstm: AXI4-Lite slave around tl_core. Register map: regmap.md of the export (generated from the same
// constants as this file: tinylstm/export/fpga.py). 32-bit data; WSTRB is honoured (only the bytes whose strobe is
// set change; CTRL starts only with strobe 0 set). Weights (bias slots included) read back while idle.
// Write: AW and W are accepted independently (each held in a register), the write happens once both are held
// and the B channel is free; BRESP = SLVERR for writes to read-only/unmapped addresses or to inputs/weights while
// busy. Read: one outstanding read, RDATA registered (weight reads: two wait cycles); RRESP = SLVERR for
// unmapped/write-only addresses and weight reads while busy.
`timescale 1ns/1ps
module tl_axil
#(
    parameter WEIGHTS_FILE = "weights.memh",
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
    localparam logic [15:0] REG_ARGMAX = tinylstm_net_pkg::REG_ARGMAX;
    localparam int OI_W = tinylstm_net_pkg::OI_W;
    localparam logic [15:0] REG_INPUT = tinylstm_net_pkg::REG_INPUT;
    localparam logic [15:0] REG_OUTPUT = tinylstm_net_pkg::REG_OUTPUT;
    localparam logic [15:0] WIN_WEIGHTS = tinylstm_net_pkg::WIN_WEIGHTS;
    localparam logic [1:0] OKAY = 2'b00, SLVERR = 2'b10;

    // ------------------------------------------------------------------ core
    logic              start, busy, done, overrun;
    logic [31:0]       cycles;
    logic              in_we, w_we;
    logic [VM_AW-1:0]  in_addr;
    logic [W-1:0]      in_data;
    logic [15:0]       wb_slot, rb_slot;
    logic [LANE_AW-1:0] wb_lane, rb_lane;
    logic [W-1:0]      wb_data, wb_mask, w_rdata, in_mask;
    logic [NOUT*W-1:0] out_flat;
    logic [OI_W-1:0]   out_argmax;

    tl_core #(.WEIGHTS_FILE(WEIGHTS_FILE), .SIG_FILE(SIG_FILE), .TANH_FILE(TANH_FILE)) u_core (
        .clk(aclk), .rst_n(aresetn), .start(start), .busy(busy), .done(done), .overrun(overrun), .cycles(cycles),
        .in_we(in_we), .in_addr(in_addr), .in_data(in_data),
        .w_we(w_we), .wb_slot(wb_slot), .rb_slot(rb_slot), .wb_lane(wb_lane), .wb_data(wb_data), .wb_mask(wb_mask),
        .rb_lane(rb_lane), .w_rdata(w_rdata), .out_flat(out_flat),
        .out_argmax(out_argmax));

    assign irq = done;

    // input shadow registers (read back over the bus)
    logic [W-1:0] in_q [0:(1 << IN_AW)-1];

    // ------------------------------------------------------------------ write channel
    logic        aw_held, w_held;
    logic [15:0] aw_addr;
    logic [31:0] w_data;
    logic [3:0]  w_strb;
    assign s_axil_awready = !aw_held;
    assign s_axil_wready  = !w_held;

    logic        do_write;
    logic [15:0] wa;        // word index of the write
    logic        wr_ok;
    // bit mask of the W-bit field from the byte strobes
    always_comb
        for (int b = 0; b < W; b = b + 1) in_mask[b] = w_strb[b / 8];

    always_comb begin
        do_write = aw_held && w_held && !s_axil_bvalid;
        wa       = {2'b00, aw_addr[15:2]};
        in_we    = 1'b0; in_addr = '0;
        in_data  = (in_q[IN_AW'(wa - (REG_INPUT >> 2))] & ~in_mask) | (w_data[W-1:0] & in_mask);
        w_we     = 1'b0;
        wb_slot  = '0; wb_lane = '0; wb_data = w_data[W-1:0]; wb_mask = in_mask;
        start    = 1'b0;
        wr_ok    = 1'b0;
        if (do_write) begin
            if (aw_addr == REG_CTRL) begin
                start = w_data[0] && w_strb[0];
                wr_ok = 1'b1;
            end else if (aw_addr >= REG_INPUT && aw_addr < REG_INPUT + 16'(4 * NIN)) begin
                if (!busy) begin
                    in_we   = 1'b1;
                    in_addr = VM_AW'(wa - (REG_INPUT >> 2));
                    start   = (wa - (REG_INPUT >> 2)) == 16'(NIN - 1);
                    wr_ok   = 1'b1;
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
            aw_held <= 1'b0; w_held <= 1'b0; aw_addr <= '0; w_data <= '0; w_strb <= '0;
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
                w_strb <= s_axil_wstrb;
            end
            if (do_write) begin
                aw_held <= 1'b0;
                w_held  <= 1'b0;
                s_axil_bvalid <= 1'b1;
                s_axil_bresp  <= wr_ok ? OKAY : SLVERR;
                if (in_we) in_q[in_addr[IN_AW-1:0]] <= in_data;
            end else if (s_axil_bvalid && s_axil_bready) begin
                s_axil_bvalid <= 1'b0;
            end
        end
    end

    // ------------------------------------------------------------------ read channel
    // weight reads go through the core's weight-memory read port: the address is registered (rb_slot/rb_lane),
    // the memory word arrives one cycle later, the lane is selected the cycle after that
    logic [1:0]  rd_wait;
    logic [15:0] rd_addr;
    assign s_axil_arready = !s_axil_rvalid && rd_wait == 2'd0;
    assign rb_slot = 16'(({2'b00, rd_addr[15:2]} - (WIN_WEIGHTS >> 2)) >> LANE_AW);
    assign rb_lane = rd_addr[2 +: LANE_AW];
    logic [31:0] rd;
    logic        rd_ok, rd_weight;
    logic [15:0] ra, ar_slot;
    logic [IN_AW-1:0] ra_in;
    always_comb begin
        ra    = {2'b00, s_axil_araddr[15:2]};
        ra_in = IN_AW'(ra - (REG_INPUT >> 2));
        ar_slot = 16'((ra - (WIN_WEIGHTS >> 2)) >> LANE_AW);
        rd    = '0;
        rd_ok = 1'b1;
        rd_weight = 1'b0;
        if (s_axil_araddr == REG_VERSION)       rd = VERSION;
        else if (s_axil_araddr == REG_STATUS)   rd = {29'd0, overrun, done, busy};
        else if (s_axil_araddr == REG_CYCLES)   rd = cycles;
        else if (s_axil_araddr == REG_INFO)     rd = INFO;
        else if (s_axil_araddr == REG_ARGMAX)   rd = 32'(out_argmax);
        else if (s_axil_araddr >= REG_INPUT && s_axil_araddr < REG_INPUT + 16'(4 * NIN))
            rd = 32'($signed(in_q[ra_in]));
        else if (s_axil_araddr >= REG_OUTPUT && s_axil_araddr < REG_OUTPUT + 16'(4 * NOUT))
            rd = 32'($signed(out_flat[(int'(ra) - int'(REG_OUTPUT) / 4) * W +: W]));
        else if (s_axil_araddr >= WIN_WEIGHTS && ar_slot < 16'(WSLOTS)
                 && int'(s_axil_araddr[2 +: LANE_AW]) < LANES && !busy)
            rd_weight = 1'b1;
        else rd_ok = 1'b0;
    end

    always_ff @(posedge aclk) begin
        if (!aresetn) begin
            s_axil_rvalid <= 1'b0; s_axil_rdata <= '0; s_axil_rresp <= OKAY; rd_wait <= '0; rd_addr <= '0;
        end else if (s_axil_arvalid && s_axil_arready) begin
            rd_addr <= s_axil_araddr;
            if (rd_weight) begin
                rd_wait <= 2'd2;
            end else begin
                s_axil_rvalid <= 1'b1;
                s_axil_rdata  <= rd;
                s_axil_rresp  <= rd_ok ? OKAY : SLVERR;
            end
        end else if (rd_wait != 2'd0) begin
            rd_wait <= rd_wait - 2'd1;
            if (rd_wait == 2'd1) begin
                s_axil_rvalid <= 1'b1;
                s_axil_rdata  <= 32'($signed(w_rdata));
                s_axil_rresp  <= OKAY;
            end
        end else if (s_axil_rvalid && s_axil_rready) begin
            s_axil_rvalid <= 1'b0;
        end
    end

    // unused inputs (kept for the standard AXI4-Lite port list)
    logic unused;
    assign unused = ^{s_axil_awprot, s_axil_arprot, w_data[31:W], aw_addr[1:0], rd_addr[1:0]};
endmodule
