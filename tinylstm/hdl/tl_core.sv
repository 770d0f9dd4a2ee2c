// tinylstm: time-multiplexed LSTM / dense network core (bit-exact with tinylstm.fixedpoint).
//
// The network is a list of "passes" (package SCHED): one pass per LSTM layer and time step (layers interleaved
// per step: L0 t0, L1 t0, L0 t1, ...) and one per dense layer. A pass computes NROWS dot products of one
// operand vector (segment A then segment B of the vector memory VM) with weight rows, LANES rows at a time
// ("rounds"). Every round starts with its bias slot (operand 1.0, so the lane accumulates b << FRAC exactly),
// then one operand per cycle is read from VM and broadcast to all lanes; lane p multiplies it with its weight of
// row round*LANES+p (one wide word of the weight memory per cycle: slot WBASE + round*WSTRIDE + k; a t = 0 LSTM
// pass skips the WSKIP recurrent slots, h(-1) = 0) and accumulates exactly (ACC_W bits). At the end of a round
// the accumulators are rounded and saturated into a capture register and written, one row per cycle, into the
// gate buffer GBUF (block RAM; two halves by pass parity).
//
// Every memory has one synchronous read port and one write port (block RAM: weights and bias in one memory, the
// sigmoid and tanh tables once each, VM, cell state, GBUF). The post-processor (PP) reads GBUF one row per cycle;
// an LSTM unit (rows 4u..4u+3 = gates i, f, g, o) takes 4 cycles and runs down a 13-stage pipeline (token
// offsets d = cycles after the unit's first GBUF read): d2 sig(i), d3 sig(f) (looked up in the shared tables,
// one cycle each) and c_prev read; d4 tanh(g) registered and f*c_prev; d5 sig(o) and i*tanh(g) (+ rounding
// half); d6 their sum; d7 c = sat(sum >> n); d8 tanh(c) looked up, c -> CMEM; d9 tanh(c) registered;
// d10 o*tanh(c) (o held in a second register from d6: the next unit's d5 is our d9); d11 h = rq(.); d12 h -> VM[dst + u]. Every multiplier has registered inputs and a registered
// product, every table output is registered before a multiplier (timing: iCE40 UP5K at >= 30 MHz).
// The tanh table looks up g at d3 and c at d8: a unit that would start 5 cycles after the previous one (its g
// lookup in the previous unit's c lookup cycle) waits one more cycle; 4 or >= 6 cycles apart never collide.
// A dense row takes 1 cycle (d1 relu/linear, d2 -> VM). Units start at least 4 cycles apart, so the shared
// tables and multipliers never collide.
// Hazard interlock: when a pass has issued its last operand, its destination range is recorded; operand reads
// from that range stall until the PP has written the pass's last value. Segment A of an LSTM pass is h(t-1)
// of the same layer, segment B its input x(t), so the PP of the previous layer overlaps the reads of h(t-1).
// At t = 0 segment A is empty (h = 0) and c_prev reads as 0.
// Argmax: while the last dense pass writes its outputs (in order 0..NOUT-1), a running maximum keeps the index of
// the largest output code (the first one on a tie, like numpy.argmax): `out_argmax`, valid with `done`.
`timescale 1ns/1ps
module tl_core
#(
    parameter WEIGHTS_FILE = "weights.memh",
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
    // weight memory (idle only): write the bits `wb_mask` of lane `wb_lane` in slot `wb_slot`;
    // read: `w_rdata` = lane `rb_lane` of slot `rb_slot`, two cycles after rb_slot/rb_lane are presented
    input  logic                  w_we,
    /* verilator lint_off UNUSEDSIGNAL */
    input  logic [15:0]           wb_slot,        // upper bits unused for small memories
    input  logic [15:0]           rb_slot,
    /* verilator lint_on UNUSEDSIGNAL */
    input  logic [tinylstm_net_pkg::LANE_AW-1:0]    wb_lane,
    input  logic [tinylstm_net_pkg::W-1:0]          wb_data,
    input  logic [tinylstm_net_pkg::W-1:0]          wb_mask,
    input  logic [tinylstm_net_pkg::LANE_AW-1:0]    rb_lane,
    output logic [tinylstm_net_pkg::W-1:0]          w_rdata,
    output logic [tinylstm_net_pkg::NOUT*tinylstm_net_pkg::W-1:0]     out_flat,       // output codes of the last inference, output o at [o*W +: W]
    output logic [tinylstm_net_pkg::OI_W-1:0]       out_argmax      // index of the largest output code (first on a tie)
);
    // network constants from the generated package (scoped references: no import needed by any tool)
    localparam int W = tinylstm_net_pkg::W;
    localparam int FRAC = tinylstm_net_pkg::FRAC;
    localparam int ACC_W = tinylstm_net_pkg::ACC_W;
    localparam int LANES = tinylstm_net_pkg::LANES;
    localparam int LANE_AW = tinylstm_net_pkg::LANE_AW;
    localparam int NPASS = tinylstm_net_pkg::NPASS;
    localparam int PI_W = tinylstm_net_pkg::PI_W;
    localparam int NFIELD = tinylstm_net_pkg::NFIELD;
    localparam int SCHED_BITS = tinylstm_net_pkg::SCHED_BITS;
    localparam int WSLOTS = tinylstm_net_pkg::WSLOTS;
    localparam int WS_AW = tinylstm_net_pkg::WS_AW;
    localparam int VM_DEPTH = tinylstm_net_pkg::VM_DEPTH;
    localparam int VM_AW = tinylstm_net_pkg::VM_AW;
    localparam int C_DEPTH = tinylstm_net_pkg::C_DEPTH;
    localparam int C_AW = tinylstm_net_pkg::C_AW;
    localparam int GROWS = tinylstm_net_pkg::GROWS;
    localparam int GB_AW = tinylstm_net_pkg::GB_AW;
    localparam int NOUT = tinylstm_net_pkg::NOUT;
    localparam int OUT_BASE = tinylstm_net_pkg::OUT_BASE;
    localparam int OI_W = tinylstm_net_pkg::OI_W;
    localparam int SIG_DEPTH = tinylstm_net_pkg::SIG_DEPTH;
    localparam int SIG_AW = tinylstm_net_pkg::SIG_AW;
    localparam int TANH_DEPTH = tinylstm_net_pkg::TANH_DEPTH;
    localparam int TANH_AW = tinylstm_net_pkg::TANH_AW;
    localparam int LUT_SHIFT = tinylstm_net_pkg::LUT_SHIFT;
    localparam int F_KIND = tinylstm_net_pkg::F_KIND;
    localparam int F_A_BASE = tinylstm_net_pkg::F_A_BASE;
    localparam int F_A_LEN = tinylstm_net_pkg::F_A_LEN;
    localparam int F_B_BASE = tinylstm_net_pkg::F_B_BASE;
    localparam int F_LAST_RND = tinylstm_net_pkg::F_LAST_RND;
    localparam int F_KLEN = tinylstm_net_pkg::F_KLEN;
    localparam int F_NROWS = tinylstm_net_pkg::F_NROWS;
    localparam int F_DST_END = tinylstm_net_pkg::F_DST_END;
    localparam int F_WBASE = tinylstm_net_pkg::F_WBASE;
    localparam int F_WSTRIDE = tinylstm_net_pkg::F_WSTRIDE;
    localparam int F_WSKIP = tinylstm_net_pkg::F_WSKIP;
    localparam int F_DST_BASE = tinylstm_net_pkg::F_DST_BASE;
    localparam int F_DST_LEN = tinylstm_net_pkg::F_DST_LEN;
    localparam int F_C_BASE = tinylstm_net_pkg::F_C_BASE;
    localparam int F_C_ZERO = tinylstm_net_pkg::F_C_ZERO;
    localparam int F_HZ = tinylstm_net_pkg::F_HZ;
    localparam logic [tinylstm_net_pkg::SCHED_BITS-1:0] SCHED = tinylstm_net_pkg::SCHED;
    localparam int GB_RW = GB_AW - 1;                // row bits within one GBUF half
    // ------------------------------------------------------------------------------------------ memories
    logic [LANES*W-1:0] wmem [0:WSLOTS-1];
    logic [W-1:0]       vm   [0:VM_DEPTH-1];
    logic [W-1:0]       cmem [0:C_DEPTH-1];
    logic [W-1:0]       gbuf [0:2*GROWS-1];
    initial $readmemh(WEIGHTS_FILE, wmem);

    wire [SCHED_BITS-1:0] sched = SCHED;

    function automatic logic [15:0] fld(input logic [PI_W-1:0] p, input int f);
        fld = sched[(int'(p) * NFIELD + f) * 16 +: 16];
    endfunction

    localparam logic [1:0] K_LSTM = 2'd0, K_RELU = 2'd1;
    localparam logic signed [ACC_W-1:0] RQ_HALF = ACC_W'(1) <<< (FRAC - 1);
    localparam logic signed [ACC_W-1:0] QMAX = ACC_W'((1 << (W - 1)) - 1);
    localparam logic signed [ACC_W-1:0] QMIN = -ACC_W'(1 << (W - 1));
    localparam logic [W-1:0] ONE = W'(1) << FRAC;
    localparam logic signed [W-1:0] ZERO = '0;  // operand of the bias slot (1.0 fits: at least 2 integer bits)

    // round to nearest (ties up) and saturate a value with 2*FRAC fractional bits
    function automatic logic [W-1:0] rq(input logic signed [ACC_W-1:0] a);
        rq = sat((a + RQ_HALF) >>> FRAC);
    endfunction
    // saturate to W bits: out of range iff the bits above W-1 are not all copies of the sign (no comparator)
    function automatic logic [W-1:0] sat(input logic signed [ACC_W-1:0] s);
        if (s[ACC_W-1:W-1] != {(ACC_W-W+1){s[ACC_W-1]}}) sat = s[ACC_W-1] ? QMIN[W-1:0] : QMAX[W-1:0];
        else                                                sat = s[W-1:0];
    endfunction

    // ------------------------------------------------------------------------------------------ issue
    // The fields of the current pass are registered (loaded at start and at each pass change).
    logic                 iss_run;
    logic [PI_W-1:0]      pi;
    /* verilator lint_off UNUSEDSIGNAL */
    logic [15:0]          rnd, k, wslot, rbase, opaddr, rowbase;
    logic [15:0]          d_a_base, d_a_len, d_b_base, d_klen, d_lastr, d_wstride, d_wskip, d_dst, d_dend, d_nrows;
    logic [15:0]          rows_left;
    /* verilator lint_on UNUSEDSIGNAL */
    logic                 hz_active;
    logic                 last_k, last_round, hz_hit, cap_stall, issue, is_bias, pass_last;
    logic                 bias_q, lk_q, lr_q, n_lr0;
    logic [15:0]          kl, rr;
    logic [1:0]           d_hz, n_hz;             // segment A / B is the previous pass's destination
    logic                 in_b;                   // the next operand is in segment B                 // operands after the next one; rounds after the current one
    logic [15:0]          n_valid;

    // the fields of pass pi + 1, registered while pass pi runs (the pass change is then a register copy)
    logic [15:0] n_a_base, n_a_len, n_b_base, n_klen, n_lastr, n_wstride, n_wskip, n_dst, n_dend, n_nrows, n_wbase;
    always_ff @(posedge clk) begin
        n_a_base  <= fld(pi + PI_W'(1), F_A_BASE);
        n_a_len   <= fld(pi + PI_W'(1), F_A_LEN);
        n_b_base  <= fld(pi + PI_W'(1), F_B_BASE);
        n_klen    <= fld(pi + PI_W'(1), F_KLEN);
        n_lastr   <= fld(pi + PI_W'(1), F_LAST_RND);
        n_wstride <= fld(pi + PI_W'(1), F_WSTRIDE);
        n_wskip   <= fld(pi + PI_W'(1), F_WSKIP);
        n_dst     <= fld(pi + PI_W'(1), F_DST_BASE);
        n_dend    <= fld(pi + PI_W'(1), F_DST_END);
        n_nrows   <= fld(pi + PI_W'(1), F_NROWS);
        n_wbase   <= fld(pi + PI_W'(1), F_WBASE);
        n_lr0     <= fld(pi + PI_W'(1), F_LAST_RND) == 16'd0;
        n_hz      <= 2'(fld(pi + PI_W'(1), F_HZ));
    end
    task automatic load_first();
        d_a_base  <= fld('0, F_A_BASE);
        d_a_len   <= fld('0, F_A_LEN);
        d_b_base  <= fld('0, F_B_BASE);
        d_klen    <= fld('0, F_KLEN);
        d_lastr   <= fld('0, F_LAST_RND);
        d_wstride <= fld('0, F_WSTRIDE);
        d_wskip   <= fld('0, F_WSKIP);
        d_dst     <= fld('0, F_DST_BASE);
        d_dend    <= fld('0, F_DST_END);
        d_nrows   <= fld('0, F_NROWS);
        wslot     <= fld('0, F_WBASE);
        rbase     <= fld('0, F_WBASE);
        bias_q    <= 1'b1;
        lk_q      <= 1'b0;
        lr_q      <= fld('0, F_LAST_RND) == 16'd0;
        rr        <= fld('0, F_LAST_RND);
        d_hz      <= '0;
    endtask
    task automatic load_next();
        d_a_base  <= n_a_base;
        d_a_len   <= n_a_len;
        d_b_base  <= n_b_base;
        d_klen    <= n_klen;
        d_lastr   <= n_lastr;
        d_wstride <= n_wstride;
        d_wskip   <= n_wskip;
        d_dst     <= n_dst;
        d_dend    <= n_dend;
        d_nrows   <= n_nrows;
        wslot     <= n_wbase;
        rbase     <= n_wbase;
        bias_q    <= 1'b1;
        lk_q      <= 1'b0;
        lr_q      <= n_lr0;
        rr        <= n_lastr;
        d_hz      <= n_hz;
    endtask

    // MAC pipeline registers
    logic                 m_valid, m_last, m_bias;
    logic [PI_W-1:0]      m_pass;
    logic [15:0]          m_row, m_nvalid;
    logic [W-1:0]         m_xv;
    logic [LANES*W-1:0]   m_w;
    logic                 p_valid, p_last;
    logic [PI_W-1:0]      p_pass;
    logic [15:0]          p_row, p_nvalid;
    logic signed [2*W-1:0] p_prod [0:LANES-1];
    logic                 p_first;
    logic signed [ACC_W-1:0] acc [0:LANES-1];
    logic signed [ACC_W-1:0] acc_next [0:LANES-1];
    // capture register: the rounded results of the last round, written into GBUF one row per cycle
    logic [W-1:0]         cap [0:LANES-1];
    logic [15:0]          cap_cnt, cap_row;
    logic                 cap_half, cap_load, cap_busy2, p_half_q;
    logic [15:0]          p_nvalid_q, p_row_q;

    always_comb begin
        is_bias    = bias_q;                   // k == 0      (registered flags: off the issue path)
        last_k     = lk_q;                     // k == klen
        last_round = lr_q;                     // rnd == last round
        pass_last  = last_k && last_round;
        hz_hit     = hz_active && !is_bias && (in_b ? d_hz[1] : d_hz[0]);
        // a round's results enter the capture register 2 cycles after its last operand: it must be drained
        cap_stall  = last_k && (cap_busy2 || (m_valid && m_last) || (p_valid && p_last) || cap_load);
        issue      = iss_run && !hz_hit && !(pass_last && hz_active) && !cap_stall;
        rows_left  = d_nrows - rowbase;
        n_valid    = (rows_left < 16'(LANES)) ? rows_left : 16'(LANES);
    end

    // ------------------------------------------------------------------------------------------ MAC lanes
    logic [LANE_AW-1:0] rb_lane_q;
    always_ff @(posedge clk) begin
        m_xv <= vm[opaddr[VM_AW-1:0]];
        m_w  <= wmem[iss_run ? wslot[WS_AW-1:0] : rb_slot[WS_AW-1:0]];
        rb_lane_q <= rb_lane;
    end
    assign w_rdata = m_w[int'(rb_lane_q) * W +: W];

    genvar gl;
    generate
        for (gl = 0; gl < LANES; gl = gl + 1) begin : g_lane
            always_ff @(posedge clk) begin
                p_prod[gl] <= $signed(m_bias ? ONE : m_xv) * $signed(m_w[gl*W +: W]);
                if (p_valid) acc[gl] <= acc_next[gl];   // bubbles (interlock stalls) must not accumulate
            end
            always_comb begin
                // the bias product is b << FRAC (low FRAC bits zero): OR-ing in the rounding half is exact, so
                // the capture needs no adder: rq(sum) = sat((sum + half) >> FRAC) = sat(acc >> FRAC)
                if (p_first) acc_next[gl] = ACC_W'(p_prod[gl]) | RQ_HALF;
                else         acc_next[gl] = acc[gl] + ACC_W'(p_prod[gl]);
            end
        end
    endgenerate

    // ------------------------------------------------------------------------------------------ post-processor
    logic            pp_run;
    logic [PI_W-1:0] pp_pi;
    logic [15:0]     pp_u;
    logic [1:0]      ph;                    // LSTM unit read phase (row 4u + ph)
    logic [15:0]     rc [0:1];              // rows captured into each GBUF half
    /* verilator lint_off UNUSEDSIGNAL */
    logic [15:0]     e_kind, e_lastm1, e_cbase, e_czero, e_dst, need_row, grow;
    logic            lastu_q, lastp_q;      // registered: pp_u is the pass's last unit; pp_pi is the last pass
    logic            pp_hold;               // the cycle after a PP pass change (the e_* registers reload)
    /* verilator lint_on UNUSEDSIGNAL */
    logic            e_lstm, pp_go, pp_lastu, g_re;
    localparam int ND = 12;
    logic [ND-1:0]   tok;                   // LSTM token pipeline (below)
    logic [GB_AW-1:0] g_addr, g_base;       // GBUF read address; base row of the LSTM unit being read
    always_comb begin
        e_lstm   = (e_kind[1:0] == K_LSTM);
        need_row = e_lstm ? {pp_u[13:0], 2'b11} : pp_u;
        // an LSTM unit does not start 5 cycles after the previous one (tok[4]): tanh table collision (above)
        pp_go    = pp_run && !pp_hold && (ph == 2'd0) && (need_row[GB_RW:0] < rc[pp_pi[0]][GB_RW:0]) &&
                   !(e_lstm && tok[4]);      // rows of a half: < 2^GB_RW, so GB_RW + 1 bits compare exactly
        pp_lastu = lastu_q;
        grow     = e_lstm ? {pp_u[13:0], ph} : pp_u;
        g_re     = pp_go || (ph != 2'd0);
        g_addr   = (ph == 2'd0) ? {pp_pi[0], grow[GB_RW-1:0]} : g_base + GB_AW'(ph);
    end

    // the PP pass's fields, registered (one cycle behind pp_pi: pp_hold blocks that cycle)
    always_ff @(posedge clk) begin
        e_kind  <= fld(pp_pi, F_KIND);
        e_lastm1 <= fld(pp_pi, F_DST_LEN) - 16'd2;
        lastp_q <= pp_pi == PI_W'(NPASS - 1);
        // pp_u == last unit, kept as a register (timing): set in the hold cycle of a pass change (pp_u = 0),
        // updated when pp_u advances (pp_u + 1 == DST_LEN - 1)
        if (pp_hold)    lastu_q <= fld(pp_pi, F_DST_LEN) == 16'd1;
        else if (pp_go) lastu_q <= pp_u == e_lastm1;
        e_cbase <= fld(pp_pi, F_C_BASE);
        e_czero <= fld(pp_pi, F_C_ZERO);
        e_dst   <= fld(pp_pi, F_DST_BASE);
    end

    // GBUF read (one row per cycle)
    logic signed [W-1:0] gq;
    always_ff @(posedge clk)
        if (g_re) gq <= gbuf[g_addr];

    // LSTM token pipeline (bit d: a unit is at offset d) and its per-unit info (tok: declared above)
    logic [VM_AW-1:0] t_dst [0:ND-1];
    logic [C_AW-1:0]  t_cidx [0:ND-1];
    logic [ND-1:0]   t_last, t_final, t_czero;
    // dense pipeline (offsets 1, 2)
    logic [1:0]      dtok;
    logic [VM_AW-1:0] dt_dst [0:1];
    logic [1:0]      dt_last, dt_final, dt_relu;

    // shared activation tables: the sigmoid table always looks up the GBUF output (i, f, o at d1, d2, d4); the
    // tanh table looks up g (d3) or c (d6)
    logic signed [W-1:0] sig_y, tanh_x, tanh_y, c_q, h_q, dv, cq;
    logic signed [W-1:0] si_h, sf_h, so_h, so_d, th_g, th_c;
    logic signed [2*W-1:0] fc_p, h_p;
    logic signed [ACC_W-1:0] ig_p, c_s;
    assign tanh_x = tok[7] ? c_q : gq;
    tl_act_lut #(.W(W), .FRAC(FRAC), .DEPTH(SIG_DEPTH), .AW(SIG_AW), .SHIFT(LUT_SHIFT), .TANH(0), .FILE(SIG_FILE))
        u_sig (.clk(clk), .x(gq), .y(sig_y));
    tl_act_lut #(.W(W), .FRAC(FRAC), .DEPTH(TANH_DEPTH), .AW(TANH_AW), .SHIFT(LUT_SHIFT), .TANH(1), .FILE(TANH_FILE))
        u_tanh (.clk(clk), .x(tanh_x), .y(tanh_y));

    logic signed [W-1:0]     cq_z;                   // c(t-1), 0 at t = 0
    always_comb cq_z = t_czero[3] ? ZERO : cq;

    always_ff @(posedge clk) begin
        // token bit j is set in cycle T + 1 + j of a unit whose first GBUF read is in cycle T
        if (tok[1]) si_h <= sig_y;                       // sigmoid(i)
        if (tok[2]) sf_h <= sig_y;                       // sigmoid(f)
        if (tok[2]) cq   <= cmem[t_cidx[2]];             // c(t-1)
        if (tok[3]) th_g <= tanh_y;                      // tanh(g)
        if (tok[3]) fc_p <= sf_h * cq_z;
        if (tok[4]) so_h <= sig_y;                       // sigmoid(o)
        if (tok[4]) ig_p <= ACC_W'(si_h * th_g) + RQ_HALF;  // + half: c = sat((ig + fc) >> n)
        if (tok[5]) c_s  <= ig_p + ACC_W'(fc_p);
        if (tok[5]) so_d <= so_h;                        // the next unit overwrites so_h at our d9
        if (tok[6]) c_q  <= sat(c_s >>> FRAC);
        if (tok[7]) cmem[t_cidx[7]] <= c_q;              // and tanh(c) looked up
        if (tok[8]) th_c <= tanh_y;                      // tanh(c)
        if (tok[9]) h_p  <= so_d * th_c;
        if (tok[10]) h_q <= rq(ACC_W'(h_p));
        if (dtok[0]) dv  <= (dt_relu[0] && gq[W-1]) ? ZERO : gq;
    end

    // ------------------------------------------------------------------------------------------ control
    logic [NOUT*W-1:0] out_q;
    assign out_flat = out_q;
    logic            wr_lstm, wr_dense, wr_en, wr_last, wr_final;
    logic [VM_AW-1:0] wr_addr;
    logic [W-1:0]    wr_val;
    always_comb begin
        wr_lstm  = tok[ND-1];
        wr_dense = dtok[1];
        wr_en    = wr_lstm || wr_dense;
        wr_addr  = wr_lstm ? t_dst[ND-1] : dt_dst[1];
        wr_val   = wr_lstm ? h_q : dv;
        wr_last  = wr_lstm ? t_last[ND-1] : dt_last[1];
        wr_final = wr_lstm ? t_final[ND-1] : dt_final[1];
    end

    always_ff @(posedge clk) begin
        if (!rst_n) begin
            iss_run <= 1'b0; pi <= '0; rnd <= '0; k <= '0; wslot <= '0; rbase <= '0; opaddr <= '0; rowbase <= '0;
            bias_q <= 1'b1; lk_q <= 1'b0; lr_q <= 1'b0; kl <= '0; rr <= '0; d_hz <= '0; in_b <= 1'b0;
            d_a_base <= '0; d_a_len <= '0; d_b_base <= '0; d_klen <= '0; d_lastr <= '0; d_wstride <= '0;
            d_wskip <= '0; d_dst <= '0; d_dend <= '0; d_nrows <= '0; cap_load <= 1'b0; cap_busy2 <= 1'b0;
            hz_active <= 1'b0;
            m_valid <= 1'b0; m_last <= 1'b0; m_bias <= 1'b0; m_pass <= '0; m_row <= '0; m_nvalid <= '0;
            p_valid <= 1'b0; p_last <= 1'b0; p_first <= 1'b0; p_pass <= '0; p_row <= '0; p_nvalid <= '0;
            cap_cnt <= '0; cap_row <= '0; cap_half <= 1'b0;
            pp_run <= 1'b0; pp_pi <= '0; pp_u <= '0; ph <= '0; rc[0] <= '0; rc[1] <= '0; g_base <= '0;
            pp_hold <= 1'b1;
            tok <= '0; dtok <= '0;
            busy <= 1'b0; done <= 1'b0; overrun <= 1'b0; cycles <= '0; out_q <= '0;
        end else begin
            // ---------------- start
            if (start && !busy) begin
                iss_run <= 1'b1; pi <= '0; rnd <= '0; k <= '0; rowbase <= '0;
                load_first();
                hz_active <= 1'b0;
                pp_run <= 1'b1; pp_pi <= '0; pp_u <= '0; ph <= '0; rc[0] <= '0; rc[1] <= '0; pp_hold <= 1'b1;
                busy <= 1'b1; done <= 1'b0; cycles <= '0;
            end
            if (busy) cycles <= cycles + 32'd1;

            // ---------------- issue: k = 0 is the bias slot, then operands 1..klen
            m_valid  <= issue;
            m_last   <= last_k;
            m_bias   <= is_bias;
            m_pass   <= pi;
            m_row    <= rowbase;
            m_nvalid <= n_valid;
            if (issue) begin
                bias_q <= last_k;                        // the next operand is a bias slot after a round's last
                if (is_bias) begin
                    lk_q <= (d_klen == 16'd1);
                    kl   <= d_klen - 16'd1;
                end else begin
                    lk_q <= !last_k && (kl == 16'd1);
                    kl   <= kl - 16'd1;
                end
                if (last_k && !last_round) begin
                    lr_q <= (rr == 16'd1);
                    rr   <= rr - 16'd1;
                end
                in_b <= is_bias ? (d_a_len == 16'd0) : (in_b || k == d_a_len);
                if (is_bias) begin
                    wslot  <= wslot + 16'd1 + d_wskip;
                    opaddr <= (d_a_len != 16'd0) ? d_a_base : d_b_base;
                end else begin
                    wslot  <= wslot + 16'd1;
                    opaddr <= (k == d_a_len) ? d_b_base : opaddr + 16'd1;
                end
                if (!last_k) begin
                    k <= k + 16'd1;
                end else begin
                    k <= '0;
                    if (!last_round) begin
                        rnd     <= rnd + 16'd1;
                        rowbase <= rowbase + 16'(LANES);
                        wslot   <= rbase + d_wstride;
                        rbase   <= rbase + d_wstride;
                    end else begin
                        rnd <= '0; rowbase <= '0;
                        if (pi == PI_W'(NPASS - 1)) begin
                            iss_run <= 1'b0;
                        end else begin
                            pi <= pi + PI_W'(1);
                            load_next();
                        end
                    end
                end
            end

            // ---------------- MAC pipeline control, capture into GBUF
            p_valid <= m_valid; p_last <= m_last; p_pass <= m_pass; p_row <= m_row; p_nvalid <= m_nvalid;
            if (m_valid) p_first <= m_bias;
            if (cap_cnt != 16'd0) begin
                cap_cnt <= cap_cnt - 16'd1;
                cap_row <= cap_row + 16'd1;
                rc[cap_half] <= cap_row + 16'd1;
            end
            cap_busy2 <= (cap_cnt > 16'd3) || (cap_load && p_nvalid_q > 16'd2);  // >= 2 rows left next cycle
            cap_load <= p_valid && p_last;
            if (p_valid && p_last) begin
                p_nvalid_q <= p_nvalid; p_row_q <= p_row; p_half_q <= p_pass[0];
                if (pp_run && p_pass != pp_pi && p_pass[0] == pp_pi[0]) overrun <= 1'b1;
            end
            if (cap_load) begin
                cap_cnt  <= p_nvalid_q;
                cap_row  <= p_row_q;
                cap_half <= p_half_q;
                if (cap_cnt > 16'd1) overrun <= 1'b1;
            end

            // ---------------- post-processor issue
            pp_hold <= 1'b0;
            tok  <= {tok[ND-2:0], pp_go && e_lstm};
            dtok <= {dtok[0], pp_go && !e_lstm};
            if (ph != 2'd0) ph <= ph + 2'd1;
            if (pp_go) begin
                if (e_lstm) begin
                    ph <= 2'd1;
                    g_base <= {pp_pi[0], grow[GB_RW-1:0]};
                end
                if (pp_lastu) begin
                    pp_u <= '0;
                    rc[pp_pi[0]] <= '0;
                    if (lastp_q) pp_run <= 1'b0;
                    else begin
                        pp_pi <= pp_pi + PI_W'(1);
                        pp_hold <= 1'b1;
                    end
                end else begin
                    pp_u <= pp_u + 16'd1;
                end
            end
            // ---------------- write stage
            if (wr_en) begin
                if (wr_last) hz_active <= 1'b0;
                if (32'(wr_addr) >= OUT_BASE && 32'(wr_addr) < OUT_BASE + NOUT)
                    out_q[(int'(wr_addr) - OUT_BASE) * W +: W] <= wr_val;
                if (wr_final) begin
                    busy <= 1'b0;
                    done <= 1'b1;
                end
            end
            if (wr_lstm && wr_dense) overrun <= 1'b1;
            if (tok[7] && tok[2]) overrun <= 1'b1;     // tanh table: c and g looked up in one cycle
            // a pass that ends its issue in the same cycle as the PP finishes the previous one keeps its hazard
            if (issue && pass_last) hz_active <= 1'b1;
        end
    end

    // argmax of the outputs as they are written (output 0 first); a constant 0 for a single output
    generate
        if (NOUT > 1) begin : g_argmax
            logic signed [W-1:0] am_best;
            logic [OI_W-1:0]     am_idx;
            logic                am_out0, am_in;
            always_comb begin
                am_out0 = 32'(wr_addr) == OUT_BASE;
                am_in   = 32'(wr_addr) >= OUT_BASE && 32'(wr_addr) < OUT_BASE + NOUT;
            end
            always_ff @(posedge clk) begin
                if (!rst_n) begin
                    am_best <= '0; am_idx <= '0;
                end else if (wr_en && am_in && (am_out0 || $signed(wr_val) > am_best)) begin
                    am_best <= wr_val;
                    am_idx  <= OI_W'(32'(wr_addr) - OUT_BASE);
                end
            end
            assign out_argmax = am_idx;
        end else begin : g_no_argmax
            assign out_argmax = '0;
        end
    endgenerate

    // per-unit info down the PP pipelines (no reset needed: qualified by the tokens)
    always_ff @(posedge clk) begin
        t_dst[0]   <= VM_AW'(e_dst + pp_u);
        t_cidx[0]  <= C_AW'(e_cbase + pp_u);
        t_last[0]  <= pp_lastu;
        t_final[0] <= pp_lastu && lastp_q;
        t_czero[0] <= e_czero[0];
        for (int d = 1; d < ND; d = d + 1) begin
            t_dst[d] <= t_dst[d - 1]; t_cidx[d] <= t_cidx[d - 1];
            t_last[d] <= t_last[d - 1]; t_final[d] <= t_final[d - 1]; t_czero[d] <= t_czero[d - 1];
        end
        dt_dst[0]   <= VM_AW'(e_dst + pp_u);
        dt_last[0]  <= pp_lastu;
        dt_final[0] <= pp_lastu && lastp_q;
        dt_relu[0]  <= (e_kind[1:0] == K_RELU);
        for (int d = 1; d < 2; d = d + 1) begin
            dt_dst[d] <= dt_dst[d - 1]; dt_last[d] <= dt_last[d - 1]; dt_final[d] <= dt_final[d - 1];
            dt_relu[d] <= dt_relu[d - 1];
        end
    end

    // memories' write ports
    always_ff @(posedge clk) begin
        if (cap_cnt != 16'd0) gbuf[{cap_half, cap_row[GB_RW-1:0]}] <= cap[0];
        // host writes (idle only): the masked bits of one lane's W bits of a wide word
        for (int l = 0; l < LANES; l = l + 1)
            for (int b = 0; b < W; b = b + 1)
                if (w_we && !busy && int'(wb_lane) == l && wb_mask[b]) wmem[wb_slot[WS_AW-1:0]][l*W + b] <= wb_data[b];
        // vector memory: one write port, post-processor while busy, host inputs while idle
        if (wr_en) vm[wr_addr] <= wr_val;
        else if (in_we && !busy) vm[in_addr] <= in_data;
    end

    // capture register: loaded at the end of a round, shifted out one row per cycle
    always_ff @(posedge clk) begin
        if (cap_load) begin
            for (int l = 0; l < LANES; l = l + 1) cap[l] <= sat(acc[l] >>> FRAC);   // acc includes the half
        end else if (cap_cnt != 16'd0) begin
            for (int l = 0; l < LANES - 1; l = l + 1) cap[l] <= cap[l + 1];
        end
    end
endmodule
