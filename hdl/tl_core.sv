// tinylstm: time-multiplexed LSTM / dense network core (bit-exact with tinylstm.fixedpoint).
//
// The network is a list of "passes" (package SCHED): one pass per LSTM layer and time step (layers interleaved
// per step: L0 t0, L1 t0, L0 t1, ...) and one per dense layer. A pass computes NROWS dot products of one
// operand vector (segment A then segment B of the vector memory VM) with weight rows, LANES rows at a time
// ("rounds"): every cycle one operand is read from VM and broadcast to all lanes; lane p multiplies it with
// its weight of row round*LANES+p (one wide word of the weight memory per cycle, slots in schedule order) and
// accumulates exactly (ACC_W bits, bias preloaded as b << FRAC). At the end of a round the accumulators are
// rounded and saturated into the gate buffer GBUF (two halves, by pass parity).
//
// The post-processor (PP) drains GBUF one LSTM unit (rows 4u..4u+3 = gates i, f, g, o) or one dense row per
// cycle, through a 3-stage pipeline:
//   A: sigmoid/tanh tables of the gates (registered), c_prev
//   B: c = rq(f*c_prev + i*g) -> CMEM, tanh(c) (registered)
//   W: h = rq(o*tanh(c)) (or relu/linear dense value) -> VM[dst + u]
// Hazard interlock: when a pass has issued its last operand, its destination range is recorded; operand reads
// from that range stall until the PP has written the pass's last value. Segment A of an LSTM pass is h(t-1)
// of the same layer, segment B its input x(t), so the PP of the previous layer overlaps the reads of h(t-1).
// At t = 0 segment A is empty (h = 0) and c_prev reads as 0.
`timescale 1ns/1ps
module tl_core
#(
    parameter WEIGHTS_FILE = "weights.memh",
    parameter BIAS_FILE    = "bias.memh",
    parameter SIG_FILE     = "sigmoid.memh",
    parameter TANH_FILE    = "tanh.memh"
) (
    input  logic                  clk,
    input  logic                  rst_n,
    input  logic                  start,          // pulse: run one inference on the inputs in VM[0 .. NIN-1]
    output logic                  busy,
    output logic                  done,           // set when an inference finished, cleared by start
    output logic                  overrun,        // sticky internal-consistency error (never expected)
    output logic [31:0]           cycles,         // cycles of the last inference (start to done)
    // input codes (accepted only when idle)
    input  logic                  in_we,
    input  logic [tinylstm_net_pkg::VM_AW-1:0]      in_addr,
    input  logic [tinylstm_net_pkg::W-1:0]          in_data,
    // weight / bias memories (accepted only when idle): one W-bit word of lane `lane` in slot `slot`
    input  logic                  w_we,
    input  logic                  b_we,
    /* verilator lint_off UNUSEDSIGNAL */
    input  logic [15:0]           wb_slot,        // upper bits unused for small memories
    /* verilator lint_on UNUSEDSIGNAL */
    input  logic [tinylstm_net_pkg::LANE_AW-1:0]    wb_lane,
    input  logic [tinylstm_net_pkg::W-1:0]          wb_data,
    output logic [tinylstm_net_pkg::NOUT*tinylstm_net_pkg::W-1:0]     out_flat        // output codes of the last inference, output o at [o*W +: W]
);
    // network constants from the generated package (scoped references: no import needed by any tool)
    localparam int W = tinylstm_net_pkg::W;
    localparam int FRAC = tinylstm_net_pkg::FRAC;
    localparam int ACC_W = tinylstm_net_pkg::ACC_W;
    localparam int LANES = tinylstm_net_pkg::LANES;
    localparam int NPASS = tinylstm_net_pkg::NPASS;
    localparam int PI_W = tinylstm_net_pkg::PI_W;
    localparam int NFIELD = tinylstm_net_pkg::NFIELD;
    localparam int SCHED_BITS = tinylstm_net_pkg::SCHED_BITS;
    localparam int WSLOTS = tinylstm_net_pkg::WSLOTS;
    localparam int WS_AW = tinylstm_net_pkg::WS_AW;
    localparam int BSLOTS = tinylstm_net_pkg::BSLOTS;
    localparam int BS_AW = tinylstm_net_pkg::BS_AW;
    localparam int VM_DEPTH = tinylstm_net_pkg::VM_DEPTH;
    localparam int VM_AW = tinylstm_net_pkg::VM_AW;
    localparam int C_DEPTH = tinylstm_net_pkg::C_DEPTH;
    localparam int C_AW = tinylstm_net_pkg::C_AW;
    localparam int GROWS = tinylstm_net_pkg::GROWS;
    localparam int GB_AW = tinylstm_net_pkg::GB_AW;
    localparam int NOUT = tinylstm_net_pkg::NOUT;
    localparam int OUT_BASE = tinylstm_net_pkg::OUT_BASE;
    localparam int SIG_DEPTH = tinylstm_net_pkg::SIG_DEPTH;
    localparam int SIG_AW = tinylstm_net_pkg::SIG_AW;
    localparam int TANH_DEPTH = tinylstm_net_pkg::TANH_DEPTH;
    localparam int TANH_AW = tinylstm_net_pkg::TANH_AW;
    localparam int LUT_SHIFT = tinylstm_net_pkg::LUT_SHIFT;
    localparam int F_KIND = tinylstm_net_pkg::F_KIND;
    localparam int F_A_BASE = tinylstm_net_pkg::F_A_BASE;
    localparam int F_A_LEN = tinylstm_net_pkg::F_A_LEN;
    localparam int F_B_BASE = tinylstm_net_pkg::F_B_BASE;
    localparam int F_B_LEN = tinylstm_net_pkg::F_B_LEN;
    localparam int F_NROUNDS = tinylstm_net_pkg::F_NROUNDS;
    localparam int F_WBASE = tinylstm_net_pkg::F_WBASE;
    localparam int F_BBASE = tinylstm_net_pkg::F_BBASE;
    localparam int F_DST_BASE = tinylstm_net_pkg::F_DST_BASE;
    localparam int F_DST_LEN = tinylstm_net_pkg::F_DST_LEN;
    localparam int F_C_BASE = tinylstm_net_pkg::F_C_BASE;
    localparam int F_C_ZERO = tinylstm_net_pkg::F_C_ZERO;
    localparam logic [tinylstm_net_pkg::SCHED_BITS-1:0] SCHED = tinylstm_net_pkg::SCHED;
    // ------------------------------------------------------------------------------------------ memories
    logic [LANES*W-1:0] wmem [0:WSLOTS-1];
    logic [LANES*W-1:0] bmem [0:BSLOTS-1];
    logic [W-1:0]       vm   [0:VM_DEPTH-1];
    logic [W-1:0]       cmem [0:C_DEPTH-1];
    logic [W-1:0]       gbuf [0:2*GROWS-1];
    initial begin
        $readmemh(WEIGHTS_FILE, wmem);
        $readmemh(BIAS_FILE, bmem);
    end

    wire [SCHED_BITS-1:0] sched = SCHED;

    function automatic logic [15:0] fld(input logic [PI_W-1:0] p, input int f);
        fld = sched[(int'(p) * NFIELD + f) * 16 +: 16];
    endfunction

    localparam logic [1:0] K_LSTM = 2'd0, K_RELU = 2'd1;
    localparam logic signed [ACC_W-1:0] RQ_HALF = ACC_W'(1) <<< (FRAC - 1);
    localparam logic signed [ACC_W-1:0] QMAX = ACC_W'((1 << (W - 1)) - 1);
    localparam logic signed [ACC_W-1:0] QMIN = -ACC_W'(1 << (W - 1));

    // round to nearest (ties up) and saturate a value with 2*FRAC fractional bits
    function automatic logic [W-1:0] rq(input logic signed [ACC_W-1:0] a);
        logic signed [ACC_W-1:0] s;
        s = (a + RQ_HALF) >>> FRAC;
        if (s > QMAX)      rq = QMAX[W-1:0];
        else if (s < QMIN) rq = QMIN[W-1:0];
        else               rq = s[W-1:0];
    endfunction

    // ------------------------------------------------------------------------------------------ issue
    logic                 iss_run;
    logic [PI_W-1:0]      pi;
    logic [15:0]          rnd, k, wslot;
    logic                 hz_active;
    logic [15:0]          hz_lo, hz_hi;

    // 16-bit schedule fields and counters: the upper bits are unused for small networks
    /* verilator lint_off UNUSEDSIGNAL */
    logic [15:0] d_a_base, d_a_len, d_b_base, d_nrounds, d_bbase, d_klen, vm_addr, bslot;
    logic        last_k, last_round, hz_hit, issue;
    always_comb begin
        d_a_base  = fld(pi, F_A_BASE);
        d_a_len   = fld(pi, F_A_LEN);
        d_b_base  = fld(pi, F_B_BASE);
        d_nrounds = fld(pi, F_NROUNDS);
        d_bbase   = fld(pi, F_BBASE);
        d_klen    = d_a_len + fld(pi, F_B_LEN);
        bslot     = d_bbase + rnd;
        vm_addr   = (k < d_a_len) ? d_a_base + k : d_b_base + (k - d_a_len);
        last_k     = (k == d_klen - 16'd1);
        last_round = (rnd == d_nrounds - 16'd1);
        hz_hit     = hz_active && (vm_addr >= hz_lo) && (vm_addr < hz_hi);
        issue      = iss_run && !hz_hit && !(last_k && last_round && hz_active);
    end

    // ------------------------------------------------------------------------------------------ MAC pipeline
    // stage M: memory reads
    logic                 m_valid, m_first, m_last;
    logic [PI_W-1:0]      m_pass;
    logic [15:0]          m_rnd;
    logic [W-1:0]         m_x;
    logic [LANES*W-1:0]   m_w, m_b;
    // stage P: products
    logic                 p_valid, p_first, p_last;
    logic [PI_W-1:0]      p_pass;
    logic [15:0]          p_rnd;
    logic signed [2*W-1:0] p_prod [0:LANES-1];
    logic [LANES*W-1:0]   p_b;
    // stage A: accumulate
    logic signed [ACC_W-1:0] acc [0:LANES-1];
    logic signed [ACC_W-1:0] acc_next [0:LANES-1];

    always_ff @(posedge clk) begin
        m_x <= vm[vm_addr[VM_AW-1:0]];
        m_w <= wmem[wslot[WS_AW-1:0]];
        m_b <= bmem[bslot[BS_AW-1:0]];
        p_b <= m_b;
    end

    genvar gl;
    generate
        for (gl = 0; gl < LANES; gl = gl + 1) begin : g_lane
            always_ff @(posedge clk) begin
                p_prod[gl] <= $signed(m_x) * $signed(m_w[gl*W +: W]);
                if (p_valid) acc[gl] <= acc_next[gl];   // bubbles (interlock stalls) must not accumulate
            end
            always_comb begin
                if (p_first)
                    acc_next[gl] = (ACC_W'($signed(p_b[gl*W +: W])) <<< FRAC) + ACC_W'(p_prod[gl]);
                else
                    acc_next[gl] = acc[gl] + ACC_W'(p_prod[gl]);
            end
        end
    endgenerate

    // ------------------------------------------------------------------------------------------ post-processor
    logic            pp_run;
    logic [PI_W-1:0] pp_pi;
    logic [15:0]     pp_u;
    logic [15:0]     rc [0:1];              // rows captured into each GBUF half
    logic [15:0]     e_kind, e_cnt, e_cbase, e_czero, e_dst;
    logic [15:0]     need_row, gidx;
    /* verilator lint_on UNUSEDSIGNAL */
    logic            pp_go, pp_lastu;
    logic [15:0]     a_cidx_n;
    always_comb begin
        e_kind   = fld(pp_pi, F_KIND);
        e_cnt    = fld(pp_pi, F_DST_LEN);
        e_cbase  = fld(pp_pi, F_C_BASE);
        e_czero  = fld(pp_pi, F_C_ZERO);
        e_dst    = fld(pp_pi, F_DST_BASE);
        need_row = (e_kind[1:0] == K_LSTM) ? {pp_u[13:0], 2'b11} : pp_u;
        gidx     = (pp_pi[0] ? 16'(GROWS) : 16'd0) + ((e_kind[1:0] == K_LSTM) ? {pp_u[13:0], 2'b00} : pp_u);
        pp_go    = pp_run && (need_row < rc[pp_pi[0]]);
        pp_lastu = (pp_u == e_cnt - 16'd1);
        a_cidx_n = e_cbase + pp_u;
    end

    // activation inputs (gate pre-activations straight from GBUF) -> registered LUT outputs at stage A
    logic signed [W-1:0] a_i, a_f, a_g, a_o, b_tc;
    logic signed [W-1:0] c_new;
    tl_act_lut #(.W(W), .FRAC(FRAC), .DEPTH(SIG_DEPTH), .AW(SIG_AW), .SHIFT(LUT_SHIFT), .TANH(0), .FILE(SIG_FILE))
        u_sig_i (.clk(clk), .x(gbuf[gidx[GB_AW-1:0]]), .y(a_i));
    tl_act_lut #(.W(W), .FRAC(FRAC), .DEPTH(SIG_DEPTH), .AW(SIG_AW), .SHIFT(LUT_SHIFT), .TANH(0), .FILE(SIG_FILE))
        u_sig_f (.clk(clk), .x(gbuf[gidx[GB_AW-1:0] + GB_AW'(1)]), .y(a_f));
    tl_act_lut #(.W(W), .FRAC(FRAC), .DEPTH(TANH_DEPTH), .AW(TANH_AW), .SHIFT(LUT_SHIFT), .TANH(1), .FILE(TANH_FILE))
        u_tanh_g (.clk(clk), .x(gbuf[gidx[GB_AW-1:0] + GB_AW'(2)]), .y(a_g));
    tl_act_lut #(.W(W), .FRAC(FRAC), .DEPTH(SIG_DEPTH), .AW(SIG_AW), .SHIFT(LUT_SHIFT), .TANH(0), .FILE(SIG_FILE))
        u_sig_o (.clk(clk), .x(gbuf[gidx[GB_AW-1:0] + GB_AW'(3)]), .y(a_o));
    tl_act_lut #(.W(W), .FRAC(FRAC), .DEPTH(TANH_DEPTH), .AW(TANH_AW), .SHIFT(LUT_SHIFT), .TANH(1), .FILE(TANH_FILE))
        u_tanh_c (.clk(clk), .x(c_new), .y(b_tc));

    // stage A registers
    logic            a_valid, a_lstm, a_relu, a_last, a_final;
    /* verilator lint_off UNUSEDSIGNAL */
    logic [15:0]     a_dst, a_cidx;
    /* verilator lint_on UNUSEDSIGNAL */
    logic [W-1:0]    a_cprev, a_val;
    // stage B registers
    logic            b_valid, b_lstm, b_last, b_final;
    logic [15:0]     b_dst;
    logic [W-1:0]    b_o, b_val;
    logic signed [ACC_W-1:0] cell_sum, h_prod;
    logic [W-1:0]    h_val, w_val;

    always_comb begin
        cell_sum = ACC_W'($signed(a_f) * $signed(a_cprev)) + ACC_W'($signed(a_i) * $signed(a_g));
        c_new    = rq(cell_sum);
        h_prod   = ACC_W'($signed(b_o) * $signed(b_tc));
        h_val    = rq(h_prod);
        w_val    = b_lstm ? h_val : b_val;
    end

    // ------------------------------------------------------------------------------------------ control
    logic [NOUT*W-1:0] out_q;
    assign out_flat = out_q;

    always_ff @(posedge clk) begin
        if (!rst_n) begin
            iss_run <= 1'b0; pi <= '0; rnd <= '0; k <= '0; wslot <= '0;
            hz_active <= 1'b0; hz_lo <= '0; hz_hi <= '0;
            m_valid <= 1'b0; p_valid <= 1'b0;
            m_first <= 1'b0; m_last <= 1'b0; m_pass <= '0; m_rnd <= '0;
            p_first <= 1'b0; p_last <= 1'b0; p_pass <= '0; p_rnd <= '0;
            pp_run <= 1'b0; pp_pi <= '0; pp_u <= '0; rc[0] <= '0; rc[1] <= '0;
            a_valid <= 1'b0; b_valid <= 1'b0;
            a_lstm <= 1'b0; a_relu <= 1'b0; a_last <= 1'b0; a_final <= 1'b0;
            a_dst <= '0; a_cidx <= '0; a_cprev <= '0; a_val <= '0;
            b_lstm <= 1'b0; b_last <= 1'b0; b_final <= 1'b0; b_dst <= '0; b_o <= '0; b_val <= '0;
            busy <= 1'b0; done <= 1'b0; overrun <= 1'b0; cycles <= '0; out_q <= '0;
        end else begin
            // ---------------- start
            if (start && !busy) begin
                iss_run <= 1'b1; pi <= '0; rnd <= '0; k <= '0; wslot <= fld('0, F_WBASE);
                hz_active <= 1'b0;
                pp_run <= 1'b1; pp_pi <= '0; pp_u <= '0; rc[0] <= '0; rc[1] <= '0;
                busy <= 1'b1; done <= 1'b0; cycles <= '0;
            end
            if (busy) cycles <= cycles + 32'd1;

            // ---------------- issue
            m_valid <= issue;
            m_first <= (k == 16'd0);
            m_last  <= last_k;
            m_pass  <= pi;
            m_rnd   <= rnd;
            if (issue) begin
                wslot <= wslot + 16'd1;
                if (!last_k) begin
                    k <= k + 16'd1;
                end else begin
                    k <= '0;
                    if (!last_round) begin
                        rnd <= rnd + 16'd1;
                    end else begin
                        rnd <= '0;
                        hz_lo <= fld(pi, F_DST_BASE);
                        hz_hi <= fld(pi, F_DST_BASE) + fld(pi, F_DST_LEN);
                        if (pi == PI_W'(NPASS - 1)) begin
                            iss_run <= 1'b0;
                        end else begin
                            pi    <= pi + PI_W'(1);
                            wslot <= fld(pi + PI_W'(1), F_WBASE);
                        end
                    end
                end
            end

            // ---------------- MAC pipeline control, capture into GBUF
            p_valid <= m_valid; p_first <= m_first; p_last <= m_last; p_pass <= m_pass; p_rnd <= m_rnd;
            if (p_valid && p_last) begin
                rc[p_pass[0]] <= (p_rnd + 16'd1) * 16'(LANES);
                if (pp_run && p_pass != pp_pi && p_pass[0] == pp_pi[0]) overrun <= 1'b1;
            end

            // ---------------- post-processor stage A
            a_valid <= pp_go;
            if (pp_go) begin
                a_lstm  <= (e_kind[1:0] == K_LSTM);
                a_relu  <= (e_kind[1:0] == K_RELU);
                a_last  <= pp_lastu;
                a_final <= pp_lastu && (pp_pi == PI_W'(NPASS - 1));
                a_dst   <= e_dst + pp_u;
                a_cidx  <= a_cidx_n;
                a_cprev <= (e_czero[0]) ? '0 : cmem[a_cidx_n[C_AW-1:0]];
                a_val   <= gbuf[gidx[GB_AW-1:0]];
                if (pp_lastu) begin
                    pp_u <= '0;
                    rc[pp_pi[0]] <= '0;
                    if (pp_pi == PI_W'(NPASS - 1)) pp_run <= 1'b0;
                    else pp_pi <= pp_pi + PI_W'(1);
                end else begin
                    pp_u <= pp_u + 16'd1;
                end
            end
            // stage B
            b_valid <= a_valid;
            b_lstm  <= a_lstm;
            b_last  <= a_last;
            b_final <= a_final;
            b_dst   <= a_dst;
            b_o     <= a_o;
            b_val   <= (a_relu && a_val[W-1]) ? '0 : a_val;
            if (a_valid && a_lstm) cmem[a_cidx[C_AW-1:0]] <= c_new;
            // stage W
            if (b_valid) begin
                if (b_last) hz_active <= 1'b0;
                if (b_dst >= 16'(OUT_BASE) && b_dst < 16'(OUT_BASE + NOUT))
                    out_q[(int'(b_dst) - OUT_BASE) * W +: W] <= w_val;
                if (b_final) begin
                    busy <= 1'b0;
                    done <= 1'b1;
                end
            end
            // a pass that ends its issue in the same cycle as the PP finishes the previous one keeps its hazard
            if (issue && last_k && last_round) hz_active <= 1'b1;
        end
    end

    always_ff @(posedge clk) begin
        if (p_valid && p_last) begin
            for (int l = 0; l < LANES; l = l + 1)
                if (int'(p_rnd) * LANES + l < GROWS)
                    gbuf[(p_pass[0] ? GROWS : 0) + int'(p_rnd) * LANES + l] <= rq(acc_next[l]);
        end
        // host writes (idle only): one lane's W bits of a wide word (a bit-masked block-RAM write)
        for (int l = 0; l < LANES; l = l + 1) begin
            if (w_we && !busy && int'(wb_lane) == l) wmem[wb_slot[WS_AW-1:0]][l*W +: W] <= wb_data;
            if (b_we && !busy && int'(wb_lane) == l) bmem[wb_slot[BS_AW-1:0]][l*W +: W] <= wb_data;
        end
        // vector memory: one write port, post-processor while busy, host inputs while idle
        if (b_valid) vm[b_dst[VM_AW-1:0]] <= w_val;
        else if (in_we && !busy) vm[in_addr] <= in_data;
    end
endmodule
