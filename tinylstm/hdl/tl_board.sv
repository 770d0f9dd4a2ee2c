// tinylstm: the serial line protocol 2 in the fabric, around tl_core (board-independent part).
//   boot / "info":  tinylstm ready engine=<name> inputs=<n> protocol=2 max_line=<MAX_LINE> [outputs=<K>
//                   classes=<c0>,<c1>,...] [step_inputs=<F>]
//   "selfcheck":    selfcheck 0 PASS|FAIL  then  selfcheck done pass=<p> fail=<f>   (one stored input row)
//   request:        <x1> <x2>,...<xn>   n = NVAL = W*F decimal raw values, step-major
//                   ([+-]digits[.digits][(e|E)[+-]digits]), separated by commas and/or spaces: a comma ends a
//                   field, and so does the first character after a number and the spaces that follow it
//   reply:          ok <prediction> us=<microseconds of the inference>           (regression)
//                   ok <class name> us=<microseconds>                            (classifier: the core's argmax)
//   or:             err empty line | err line too long (max <MAX_LINE> characters) | err value <k> is not a number |
//                   err expected <n> values, got <c>
// The scaler runs here in fixed point (tinylstm.fixedpoint.BoardScaler is the bit-exact model): value i is
// feature j = i mod NFEAT; a value M * 10^e (M: up to 9 significant digits) becomes the input code
// sat(round((M * K[j][e] - C[j]) / 2^G)) with K[j][e] = round(10^e * 2^(n+G) / x_scale[j]) (table KROM) and
// C[j] = round(x_mean[j] * 2^(n+G) / x_scale[j]); a regression's output code becomes round((code * YA + YB) /
// 2^YS), printed with YD decimals (YA, YB from y_scale, y_mean); a classifier prints the class name of the core's
// argmax from the message ROM.
// One request at a time (like `tinylstm monitor`): characters arriving while a reply is computed are dropped.
`timescale 1ns/1ps
module tl_board #(
    parameter int CLKS_PER_BIT = tinylstm_board_pkg::CLKS_PER_BIT,
    parameter WEIGHTS_FILE = "weights.memh",
    parameter SIG_FILE     = "sigmoid.memh",
    parameter TANH_FILE    = "tanh.memh",
    parameter KROM_FILE    = "board_k.memh",
    parameter MSG_FILE     = "board_msg.memh"
) (
    input  logic clk,
    input  logic rst_n,
    input  logic rx,
    output logic tx,
    output logic busy_led
);
    localparam int W = tinylstm_net_pkg::W;
    localparam int NIN = tinylstm_net_pkg::NIN;
    localparam int VM_AW = tinylstm_net_pkg::VM_AW;
    localparam int LANE_AW = tinylstm_net_pkg::LANE_AW;
    localparam int NOUT = tinylstm_net_pkg::NOUT;
    localparam int NRAW = tinylstm_board_pkg::NRAW;     // scaler features (tables)
    localparam int NVAL = tinylstm_board_pkg::NVAL;     // values per request (NIN)
    localparam int IS_CLS = tinylstm_board_pkg::IS_CLS;
    localparam int OI_W = tinylstm_net_pkg::OI_W;
    localparam int NE = tinylstm_board_pkg::NE;
    localparam int EMIN = tinylstm_board_pkg::EMIN;
    localparam int G = tinylstm_board_pkg::G;
    localparam int AW = tinylstm_board_pkg::AW;
    localparam int KWORDS = tinylstm_board_pkg::KWORDS;
    localparam int KROM_DEPTH = tinylstm_board_pkg::KROM_DEPTH;
    localparam int MSG_DEPTH = tinylstm_board_pkg::MSG_DEPTH;
    localparam int YW = tinylstm_board_pkg::YW;
    localparam int YS = tinylstm_board_pkg::YS;
    localparam int YD = tinylstm_board_pkg::YD;
    localparam int CLK_MHZ = tinylstm_board_pkg::CLK_MHZ;
    localparam int MAX_LINE = tinylstm_board_pkg::MAX_LINE;
    localparam int LW = tinylstm_board_pkg::LW;          // line length counter bits
    localparam int CNTW = tinylstm_board_pkg::CNTW;      // field counter bits
    localparam int JW = $clog2(NRAW + 1);
    localparam int KA = $clog2(KROM_DEPTH);
    localparam int MA = $clog2(MSG_DEPTH);
    localparam logic [NRAW*AW-1:0] CTAB = tinylstm_board_pkg::CTAB;
    localparam logic [NRAW*NE-1:0] KSAT = tinylstm_board_pkg::KSAT;
    localparam logic [YW-1:0] YA = tinylstm_board_pkg::YA;
    localparam logic [YW-1:0] YB = tinylstm_board_pkg::YB;
    localparam logic [NIN*W-1:0] SC_CODES = tinylstm_board_pkg::SC_CODES;
    localparam logic [W-1:0] SC_EXPECT = tinylstm_board_pkg::SC_EXPECT;
    localparam logic [OI_W-1:0] SC_ARGMAX = tinylstm_board_pkg::SC_ARGMAX;
    localparam logic [NOUT*16-1:0] CLS_OFF = tinylstm_board_pkg::CLS_OFF;   // class name offsets in MSG_FILE
    localparam logic signed [AW:0] QMAX = (AW+1)'((1 << (W - 1)) - 1);
    localparam logic signed [AW:0] QMIN = -(AW+1)'(1 << (W - 1));
    // message offsets (zero-terminated strings in MSG_FILE)
    localparam int M_BANNER = tinylstm_board_pkg::M_BANNER, M_PASS = tinylstm_board_pkg::M_PASS;
    localparam int M_FAIL = tinylstm_board_pkg::M_FAIL, M_DONE_OK = tinylstm_board_pkg::M_DONE_OK;
    localparam int M_DONE_BAD = tinylstm_board_pkg::M_DONE_BAD, M_EMPTY = tinylstm_board_pkg::M_EMPTY;
    localparam int M_LONG = tinylstm_board_pkg::M_LONG, M_VAL1 = tinylstm_board_pkg::M_VAL1;
    localparam int M_VAL2 = tinylstm_board_pkg::M_VAL2, M_COUNT = tinylstm_board_pkg::M_COUNT;
    localparam int M_OK = tinylstm_board_pkg::M_OK, M_US = tinylstm_board_pkg::M_US;

    // ------------------------------------------------------------------ core
    logic              start, busy, done, overrun;
    logic [31:0]       cycles;
    logic              in_we;
    logic [VM_AW-1:0]  in_addr;
    logic [W-1:0]      in_data, w_rdata;
    logic [NOUT*W-1:0] out_flat;
    logic [tinylstm_net_pkg::OI_W-1:0] out_argmax;
    tl_core #(.WEIGHTS_FILE(WEIGHTS_FILE), .SIG_FILE(SIG_FILE), .TANH_FILE(TANH_FILE)) u_core (
        .clk(clk), .rst_n(rst_n), .start(start), .busy(busy), .done(done), .overrun(overrun), .cycles(cycles),
        .in_we(in_we), .in_addr(in_addr), .in_data(in_data), .w_we(1'b0), .wb_slot(16'd0), .rb_slot(16'd0),
        .wb_lane(LANE_AW'(0)), .wb_data(W'(0)), .wb_mask(W'(0)), .rb_lane(LANE_AW'(0)), .w_rdata(w_rdata),
        .out_flat(out_flat), .out_argmax(out_argmax));
    assign busy_led = busy;

    // ------------------------------------------------------------------ UART
    logic       rx_valid, tx_send, tx_busy;
    logic [7:0] rx_data, tx_data;
    tl_uart_rx #(.CLKS_PER_BIT(CLKS_PER_BIT)) u_rx (.clk(clk), .rst_n(rst_n), .rx(rx), .valid(rx_valid), .data(rx_data));
    tl_uart_tx #(.CLKS_PER_BIT(CLKS_PER_BIT)) u_tx (.clk(clk), .rst_n(rst_n), .send(tx_send), .data(tx_data),
                                                    .busy(tx_busy), .tx(tx));

    // ------------------------------------------------------------------ ROMs (block RAM, synchronous reads)
    logic [15:0] krom [0:KROM_DEPTH-1];
    logic [7:0]  mrom [0:MSG_DEPTH-1];
    initial begin
        $readmemh(KROM_FILE, krom);
        $readmemh(MSG_FILE, mrom);
    end
    logic [KA-1:0] k_addr;
    logic [MA-1:0]  m_addr;
    logic [15:0] k_q;
    logic [7:0]  m_q;
    always_ff @(posedge clk) begin
        k_q <= krom[k_addr];
        m_q <= mrom[m_addr];
    end

    // ------------------------------------------------------------------ line parser
    localparam logic [3:0] F_LEAD = 4'd0, F_SIGN = 4'd1, F_INT = 4'd2, F_DOT0 = 4'd3, F_FRAC = 4'd4, F_E = 4'd5,
                           F_ESIGN = 4'd6, F_EXP = 4'd7, F_TRAIL = 4'd8, F_BAD = 4'd9;
    logic [LW-1:0] len;               // characters of the line (\r excluded)
    logic        overflow, nonblank, cm_lead, m_info, m_self;
    logic [3:0]  cm_k;
    logic [CNTW-1:0] count;           // fields seen (separators + 1 at the end), saturating
    logic [CNTW-1:0] err_field;       // first malformed field among the first NVAL (1-based), 0 = none
    logic [JW-1:0] fj;                // scaler feature of the current field (count mod NRAW)
    logic        redo, split;         // split: a field ends at this character, which is processed next cycle
    logic [3:0]  fs;                  // field state
    logic        f_neg, e_neg;
    logic [29:0] f_m;                 // mantissa (< 10^9)
    logic [6:0]  f_frac, f_adj, f_len;
    logic [9:0]  f_x;                 // exponent digits (capped at 999)
    logic        is_digit, is_space, is_sign, is_e;
    logic [3:0]  dig;
    logic signed [11:0] f_ee, f_xs, f_ei;   // f_ei = fe_ee - EMIN (the K table index)
    logic        fe_go, fe_neg;            // a finished field, latched for the scaler
    logic [JW-1:0] fe_j;
    logic [VM_AW-1:0] fe_i;
    logic [29:0] fe_m;
    logic signed [11:0] fe_ee;
    logic        f_ksat;
    logic [KA-1:0] f_kaddr;
    logic        f_valid;
    always_comb begin
        is_digit = rx_data >= "0" && rx_data <= "9";
        is_space = rx_data == " " || rx_data == 8'h09;
        is_sign  = rx_data == "+" || rx_data == "-";
        is_e     = rx_data == "e" || rx_data == "E";
        dig      = rx_data[3:0];
        f_xs     = 12'(f_x);
        f_ee     = (e_neg ? 12'sd0 - f_xs : f_xs) + 12'(f_adj) - 12'(f_frac);
        f_ei     = fe_ee - 12'(EMIN);
        f_ksat   = 1'b0;
        f_kaddr  = '0;
        for (int j = 0; j < NRAW; j = j + 1)
            if (int'(fe_j) == j) begin
                f_ksat  = KSAT[j * NE + int'(f_ei[5:0])];
                f_kaddr = KA'(j * NE * KWORDS) + (KA'(f_ei[5:0]) << $clog2(KWORDS));
            end
        f_valid  = (fs == F_INT || fs == F_FRAC || fs == F_EXP || fs == F_TRAIL) && f_len <= 7'd40;
    end
    // the received character and its classes, registered (one cycle after rx_valid; characters are >= 10 bit
    // times apart): the line parser acts on these
    logic       rx_go, c_nl, c_comma, c_space, c_sign, c_digit, c_e, c_dot, c_minus, c_info, c_self;
    logic [3:0] c_dig;
    always_ff @(posedge clk) begin
        rx_go   <= rst_n && rx_valid && rx_data != 8'h0D;
        c_nl    <= rx_data == 8'h0A;
        c_comma <= rx_data == ",";
        c_space <= is_space;
        c_sign  <= is_sign;
        c_digit <= is_digit;
        c_e     <= is_e;
        c_dot   <= rx_data == ".";
        c_minus <= rx_data == "-";
        c_info  <= cm_k < 4'd4 && rx_data == info_ch(cm_k);
        c_self  <= cm_k < 4'd9 && rx_data == self_ch(cm_k);
        c_dig   <= dig;
    end
    assign split = fs == F_TRAIL && !c_space && !c_comma && !c_nl;
    // Line parser phase A (the cycle of rx_go or redo, in S_RX): every per-character decision is registered here;
    // phase B (the next cycle, pb) only applies them (timing: the state decode and the decision logic are
    // separate paths). Nothing the decisions read changes between A and B; characters are >= 10 bit times apart.
    logic        pa, pb, d_split, d_fend, d_errf, d_fego, d_cnt_inc, d_fj_wrap, d_full, d_cmadv, d_cmk_inc;
    logic        d_flen_inc, d_fneg, d_eneg, d_mdig, d_fracinc, d_adjinc, d_xdig;
    logic [3:0]  d_fs, fs_next;
    logic [29:0] d_m10;
    logic [9:0]  d_x10;
    logic signed [11:0] d_ee;
    logic        f_mant, f_infrac, f_mlt;
    always_comb begin
        case (fs)
            F_LEAD:  fs_next = c_space ? F_LEAD : c_sign ? F_SIGN : c_digit ? F_INT : c_dot ? F_DOT0 : F_BAD;
            F_SIGN:  fs_next = c_digit ? F_INT : c_dot ? F_DOT0 : F_BAD;
            F_INT:   fs_next = c_digit ? F_INT : c_dot ? F_FRAC : c_e ? F_E : c_space ? F_TRAIL : F_BAD;
            F_DOT0:  fs_next = c_digit ? F_FRAC : F_BAD;
            F_FRAC:  fs_next = c_digit ? F_FRAC : c_e ? F_E : c_space ? F_TRAIL : F_BAD;
            F_E:     fs_next = c_sign ? F_ESIGN : c_digit ? F_EXP : F_BAD;
            F_ESIGN: fs_next = c_digit ? F_EXP : F_BAD;
            F_EXP:   fs_next = c_digit ? F_EXP : c_space ? F_TRAIL : F_BAD;
            F_TRAIL: fs_next = c_space ? F_TRAIL : F_BAD;
            default: fs_next = F_BAD;
        endcase
        f_mant   = fs == F_LEAD || fs == F_SIGN || fs == F_INT || fs == F_DOT0 || fs == F_FRAC;
        f_infrac = fs == F_DOT0 || fs == F_FRAC;
        f_mlt    = f_m < 30'd100000000;
    end
    always_ff @(posedge clk) begin
        pb         <= rst_n && pa;
        d_split    <= split;
        d_fend     <= c_nl || c_comma || split;
        d_errf     <= 32'(count) < NVAL && !f_valid && err_field == '0;
        d_fego     <= 32'(count) < NVAL && f_valid && !overflow;
        d_cnt_inc  <= count != {CNTW{1'b1}};
        d_fj_wrap  <= 32'(fj) == NRAW - 1;
        d_full     <= len >= LW'(MAX_LINE);
        d_cmadv    <= !(c_space && cm_lead);
        d_cmk_inc  <= cm_k != 4'd15;
        d_flen_inc <= !c_space && f_len != 7'd127;
        d_fs       <= fs_next;
        d_fneg     <= fs == F_LEAD && c_minus;
        d_eneg     <= fs == F_E && c_minus;
        d_mdig     <= c_digit && f_mant && f_mlt;
        d_fracinc  <= c_digit && f_mant && f_mlt && f_infrac;
        d_adjinc   <= c_digit && f_mant && !f_mlt && !f_infrac;
        d_m10      <= (f_m << 3) + (f_m << 1) + 30'(c_dig);
        d_xdig     <= c_digit && (fs == F_E || fs == F_ESIGN || fs == F_EXP);
        d_x10      <= (f_x < 10'd100) ? (f_x << 3) + (f_x << 1) + 10'(c_dig) : 10'd999;
        d_ee       <= f_ee;
    end
    function automatic logic [7:0] info_ch(input logic [3:0] i);
        case (i) 4'd0: info_ch = "i"; 4'd1: info_ch = "n"; 4'd2: info_ch = "f"; 4'd3: info_ch = "o";
            default: info_ch = 8'h00; endcase
    endfunction
    function automatic logic [7:0] self_ch(input logic [3:0] i);
        case (i) 4'd0: self_ch = "s"; 4'd1: self_ch = "e"; 4'd2: self_ch = "l"; 4'd3: self_ch = "f";
            4'd4: self_ch = "c"; 4'd5: self_ch = "h"; 4'd6: self_ch = "e"; 4'd7: self_ch = "c"; 4'd8: self_ch = "k";
            default: self_ch = 8'h00; endcase
    endfunction

    // ------------------------------------------------------------------ scaler (one field at a time)
    logic              sc_busy, sc_neg, sc_zero, sc_ovf;
    logic [29:0]       sc_m;
    logic [4:0]        sc_bit;
    logic [2:0]        sc_kw;          // K words still to load
    logic [AW-1:0]     sc_k, sc_acc;
    logic [JW-1:0] sc_j;
    logic [VM_AW-1:0] sc_i;
    logic [KA-1:0] sc_kaddr;
    logic signed [AW:0] sc_val, sc_code, sc_v, sc_c;   // sc_v, sc_c: registered steps (timing)
    logic [1:0]        sc_fin;
    logic [AW-1:0]     sc_sum;
    logic signed [AW:0]   c_negv, sc_cn;      // sc_cn: -C[j] + neg, registered (constant during a field)
    always_comb begin
        // -C[j] + neg for the field's feature: a mux of constants (no adder at run time)
        c_negv  = '0;
        for (int j = 0; j < NRAW; j = j + 1)
            if (int'(sc_j) == j)
                c_negv = sc_neg ? (AW+1)'(1) - (AW+1)'($signed(CTAB[j * AW +: AW]))
                                : (AW+1)'(0) - (AW+1)'($signed(CTAB[j * AW +: AW]));
        sc_sum  = (sc_acc << 1) + (sc_m[29] ? sc_k : '0);
        // ±P - C as ONE adder: -P = ~P + 1, so (neg ? ~P : P) + (-C + neg)
        sc_val  = $signed(sc_neg ? ~{1'b0, sc_acc} : {1'b0, sc_acc}) + sc_cn;
        sc_code = (sc_v + ((AW+1)'(1) <<< (G - 1))) >>> G;
    end

    // ------------------------------------------------------------------ output conversion and printing
    logic [W-1:0]     y_code;
    logic [YW-1:0]    y_acc;
    logic [4:0]       y_bit;
    logic [YW-1:0]    y_sum;
    logic signed [YW-1:0] y_r, y_rr;
    logic [31:0]      y_abs;
    always_comb begin
        y_sum = (y_acc << 1) + (y_code[W-1] ? YA : '0);
        y_r   = $signed(y_acc + (YW'(1) << (YS - 1))) >>> YS;
    end
    logic [31:0] us, us_pre;

    // number printer: value, minimum digits, decimal point before the last YD digits (if pt)
    logic [31:0] n_val, n_pow;
    logic [3:0]  n_digit, n_pos;
    logic        n_started, n_pt;
    logic [32:0] n_sub;            // n_val - n_pow, registered (bit 32: borrow)
    logic        n_sig, n_dot, n_last;   // S_NUM2's decisions, registered on entering it (timing)
    function automatic logic [MA-1:0] cls_off(input logic [OI_W-1:0] k);
        cls_off = '0;
        for (int c = 0; c < NOUT; c = c + 1) if (int'(k) == c) cls_off = MA'(CLS_OFF[c * 16 +: 16]);
    endfunction
    function automatic logic [31:0] pow10(input logic [3:0] p);
        case (p)
            4'd0: pow10 = 32'd1; 4'd1: pow10 = 32'd10; 4'd2: pow10 = 32'd100; 4'd3: pow10 = 32'd1000;
            4'd4: pow10 = 32'd10000; 4'd5: pow10 = 32'd100000; 4'd6: pow10 = 32'd1000000;
            4'd7: pow10 = 32'd10000000; 4'd8: pow10 = 32'd100000000; default: pow10 = 32'd1000000000;
        endcase
    endfunction

    // ------------------------------------------------------------------ control
    typedef enum logic [4:0] {S_RX, S_SCWAIT, S_CLASS, S_LOAD, S_RUN, S_WAIT, S_YMUL, S_YR, S_YABS, S_PROG, S_STR0, S_STR1, S_STR2,
                              S_NUM0, S_NUM1, S_NUM1B, S_NUM2, S_CHAR} state_t;
    state_t st;
    assign pa = st == S_RX && (rx_go || redo);   // line parser phase A
    localparam logic [2:0] R_BANNER = 3'd0, R_SC = 3'd1, R_EMPTY = 3'd2, R_LONG = 3'd3, R_VAL = 3'd4,
                           R_COUNT = 3'd5, R_OK = 3'd6;
    logic [2:0]  reply;
    localparam logic [2:0] R_CLASS = 3'd7;
    logic [MA-1:0] cls_addr;           // message ROM address of the predicted class name
    logic [2:0]  step;
    logic        selfcheck, sc_pass, y_neg;
    logic [$clog2(NIN+1)-1:0] ld_i;
    logic [W-1:0] sc_code_i;
    always_comb begin
        sc_code_i = '0;
        for (int i = 0; i < NIN; i = i + 1) if (int'(ld_i) == i) sc_code_i = SC_CODES[i * W +: W];
    end
    logic [7:0]  ch;               // character to send in S_CHAR
    state_t      ret;              // state after S_CHAR / a string / a number

    always_ff @(posedge clk) begin
        if (!rst_n) begin
            st <= S_PROG; reply <= R_BANNER; step <= '0; ret <= S_PROG;
            len <= '0; overflow <= 1'b0; nonblank <= 1'b0; cm_lead <= 1'b1; m_info <= 1'b1; m_self <= 1'b1;
            cm_k <= '0; count <= '0; err_field <= '0; fj <= '0; redo <= 1'b0; cls_addr <= '0;
            fs <= F_LEAD; f_neg <= 1'b0; e_neg <= 1'b0; f_m <= '0; f_frac <= '0; f_adj <= '0; f_len <= '0; f_x <= '0;
            sc_busy <= 1'b0; sc_kw <= '0; sc_bit <= '0; sc_acc <= '0; sc_k <= '0; sc_m <= '0;
            sc_neg <= 1'b0; sc_zero <= 1'b0; sc_ovf <= 1'b0; sc_j <= '0; sc_kaddr <= '0;
            sc_fin <= '0; sc_v <= '0; sc_c <= '0; sc_cn <= '0; y_rr <= '0; y_abs <= '0;
            fe_go <= 1'b0; fe_j <= '0; fe_i <= '0; fe_neg <= 1'b0; fe_m <= '0; fe_ee <= '0; sc_i <= '0;
            start <= 1'b0; in_we <= 1'b0; in_addr <= '0; in_data <= '0; ld_i <= '0;
            selfcheck <= 1'b0; sc_pass <= 1'b0; y_code <= '0; y_acc <= '0; y_bit <= '0; y_neg <= 1'b0;
            us <= '0; us_pre <= '0; tx_send <= 1'b0; tx_data <= '0; ch <= '0; m_addr <= '0; k_addr <= '0;
            n_val <= '0; n_pow <= '0; n_digit <= '0; n_pos <= '0; n_started <= 1'b0; n_pt <= 1'b0;
            n_sub <= '0; n_sig <= 1'b0; n_dot <= 1'b0; n_last <= 1'b0;
        end else begin
            start <= 1'b0;
            in_we <= 1'b0;
            tx_send <= 1'b0;
            // ---------------- scaler start (one cycle after the field's end)
            fe_go <= 1'b0;
            sc_cn <= c_negv;                       // sc_j, sc_neg are set >= 30 cycles before sc_val is used
            if (fe_go) begin
                sc_busy <= 1'b1; sc_j <= fe_j; sc_i <= fe_i; sc_neg <= fe_neg;
                sc_m <= fe_m; sc_bit <= 5'd30; sc_acc <= '0; sc_k <= '0; sc_ovf <= 1'b0;
                sc_zero <= (fe_m == '0);
                sc_kw <= 3'(KWORDS + 2);
                if (fe_m == '0 || fe_ee < 12'(EMIN)) begin              // zero
                    sc_m <= '0; sc_zero <= 1'b1; sc_kaddr <= '0;
                end else if (fe_ee >= 12'(EMIN + NE) || f_ksat) begin
                    sc_ovf <= 1'b1; sc_kaddr <= '0;
                end else begin
                    sc_kaddr <= f_kaddr;
                end
            end
            // ---------------- scaler: load K (KWORDS words, most significant first), then Horner over M's bits
            k_addr <= sc_kaddr;
            if (sc_busy) begin
                if (sc_kw != 3'd0) begin
                    sc_kw    <= sc_kw - 3'd1;
                    sc_kaddr <= sc_kaddr + 1'b1;
                    if (sc_kw <= 3'(KWORDS)) sc_k <= {sc_k[AW-17:0], k_q};   // k_q lags the address by 2 cycles
                end else if (sc_bit != 5'd0) begin
                    sc_bit <= sc_bit - 5'd1;
                    sc_m   <= {sc_m[28:0], 1'b0};
                    if (sc_sum[AW-1:AW-2] != 2'b00 || sc_acc[AW-1:AW-2] != 2'b00) sc_ovf <= 1'b1;
                    sc_acc <= sc_sum;
                end else if (sc_fin == 2'd0) begin
                    sc_v   <= sc_val;                                // ±P - C
                    sc_fin <= 2'd1;
                end else if (sc_fin == 2'd1) begin
                    sc_c   <= sc_code;                               // rounded, >> G
                    sc_fin <= 2'd2;
                end else begin
                    sc_busy <= 1'b0;
                    sc_fin  <= 2'd0;
                    in_we   <= 1'b1;
                    in_addr <= sc_i;
                    if (sc_ovf && !sc_zero) in_data <= sc_neg ? QMIN[W-1:0] : QMAX[W-1:0];
                    else if (sc_c > QMAX) in_data <= QMAX[W-1:0];
                    else if (sc_c < QMIN) in_data <= QMIN[W-1:0];
                    else in_data <= sc_c[W-1:0];
                end
            end

            if (pa) redo <= 1'b0;
            // ---------------- receive a line, phase B: apply the decisions registered in phase A
            //                  (pb implies st == S_RX: only phase B leaves S_RX)
            if (pb) begin
                redo <= d_split;
                if (d_fend) begin
                    // end of a field
                    if (d_errf) err_field <= count + CNTW'(1);
                    // latch the field; the scaler starts next cycle (timing: f_ee is registered first)
                    fe_go  <= d_fego;
                    fe_j   <= fj; fe_i <= VM_AW'(count); fe_neg <= f_neg; fe_m <= f_m; fe_ee <= d_ee;
                    if (d_cnt_inc) count <= count + CNTW'(1);
                    fj <= d_fj_wrap ? '0 : fj + JW'(1);
                    fs <= F_LEAD; f_neg <= 1'b0; e_neg <= 1'b0; f_m <= '0; f_frac <= '0; f_adj <= '0; f_len <= '0;
                    f_x <= '0;
                end
                if (d_split) begin
                    // the character starts the next field: processed again (redo: phase A, then B)
                end else if (c_nl) begin
                    st <= S_SCWAIT;
                end else if (d_full) begin
                    overflow <= 1'b1;
                end else begin
                    len <= len + LW'(1);
                    if (!c_space) nonblank <= 1'b1;
                    if (d_cmadv) begin
                        cm_lead <= 1'b0;
                        if (d_cmk_inc) cm_k <= cm_k + 4'd1;
                        if (!c_info) m_info <= 1'b0;
                        if (!c_self) m_self <= 1'b0;
                    end
                    if (!c_comma) begin
                        if (d_flen_inc) f_len <= f_len + 7'd1;
                        fs <= d_fs;
                        if (d_fneg) f_neg <= 1'b1;
                        if (d_eneg) e_neg <= 1'b1;
                        // mantissa digits: up to 9 significant digits, later integer digits scale by 10
                        if (d_mdig) f_m <= d_m10;
                        if (d_fracinc) f_frac <= f_frac + 7'd1;
                        if (d_adjinc) f_adj <= f_adj + 7'd1;
                        if (d_xdig) f_x <= d_x10;
                    end
                end
            end
            case (st)
            S_RX: ;
            // ---------------- end of line: classify (after the last field's scaler finished)
            S_SCWAIT: if (!sc_busy && !in_we && !fe_go) st <= S_CLASS;
            S_CLASS: begin
                step <= '0;
                st   <= S_PROG;
                selfcheck <= 1'b0;
                if (overflow)                      reply <= R_LONG;
                else if (!nonblank)                reply <= R_EMPTY;
                else if (m_info && cm_k == 4'd4)   reply <= R_BANNER;
                else if (m_self && cm_k == 4'd9) begin
                    selfcheck <= 1'b1; ld_i <= '0; st <= S_LOAD;
                end
                else if (err_field != '0)          reply <= R_VAL;
                else if (32'(count) != NVAL)       reply <= R_COUNT;
                else                               st <= S_RUN;
                len <= '0; overflow <= 1'b0; nonblank <= 1'b0; cm_lead <= 1'b1; m_info <= 1'b1; m_self <= 1'b1;
                cm_k <= '0;
            end
            S_LOAD: begin                              // self-check: the stored input codes
                in_we   <= 1'b1;
                in_addr <= VM_AW'(ld_i);
                in_data <= sc_code_i;
                if (32'(ld_i) == NIN - 1) st <= S_RUN;
                ld_i <= ld_i + 1'b1;
            end
            S_RUN: begin
                start <= 1'b1; us <= '0; us_pre <= '0;
                st <= S_WAIT;
            end
            S_WAIT: begin
                if (us_pre == 32'(CLK_MHZ - 1)) begin us_pre <= '0; us <= us + 32'd1; end
                else us_pre <= us_pre + 32'd1;
                if (done && !start) begin
                    if (selfcheck) begin
                        sc_pass <= out_flat[W-1:0] == SC_EXPECT && out_argmax == SC_ARGMAX;
                        reply <= R_SC; st <= S_PROG;
                    end else if (IS_CLS != 0) begin
                        cls_addr <= cls_off(out_argmax);
                        reply <= R_CLASS; st <= S_PROG; step <= '0;
                    end else begin
                        y_code <= out_flat[W-1:0]; y_acc <= '0; y_bit <= 5'(W); st <= S_YMUL;
                    end
                end
            end
            S_YMUL: if (y_bit != 5'd0) begin           // y_acc = code * YA + YB, Horner over the code's bits
                y_acc  <= (y_bit == 5'(W)) ? (y_code[W-1] ? -YA : '0) : y_sum;
                y_code <= {y_code[W-2:0], 1'b0};
                y_bit  <= y_bit - 5'd1;
            end else begin
                y_acc <= y_acc + YB;
                st <= S_YR;
            end
            S_YR: begin
                y_rr <= y_r;
                st <= S_YABS;
            end
            S_YABS: begin
                y_neg <= y_rr < 0;
                y_abs <= (y_rr < 0) ? 32'(-y_rr) : 32'(y_rr);
                st <= S_PROG; reply <= R_OK; step <= '0;
            end
            // ---------------- reply programs: strings (S_STR*) and numbers (S_NUM*)
            S_PROG: begin
                step <= step + 3'd1;
                ret  <= S_PROG;
                case ({reply, step})
                    {R_BANNER, 3'd0}: begin m_addr <= MA'(M_BANNER); st <= S_STR0; end
                    {R_SC, 3'd0}:     begin m_addr <= sc_pass ? MA'(M_PASS) : MA'(M_FAIL); st <= S_STR0; end
                    {R_SC, 3'd1}:     begin ch <= 8'h0A; st <= S_CHAR; end
                    {R_SC, 3'd2}:     begin m_addr <= sc_pass ? MA'(M_DONE_OK) : MA'(M_DONE_BAD); st <= S_STR0; end
                    {R_EMPTY, 3'd0}:  begin m_addr <= MA'(M_EMPTY); st <= S_STR0; end
                    {R_LONG, 3'd0}:   begin m_addr <= MA'(M_LONG); st <= S_STR0; end
                    {R_VAL, 3'd0}:    begin m_addr <= MA'(M_VAL1); st <= S_STR0; end
                    {R_VAL, 3'd1}:    begin n_val <= 32'(err_field); n_pt <= 1'b0; st <= S_NUM0; end
                    {R_VAL, 3'd2}:    begin m_addr <= MA'(M_VAL2); st <= S_STR0; end
                    {R_COUNT, 3'd0}:  begin m_addr <= MA'(M_COUNT); st <= S_STR0; end
                    {R_COUNT, 3'd1}:  begin n_val <= 32'(count); n_pt <= 1'b0; st <= S_NUM0; end
                    {R_OK, 3'd0}:     begin m_addr <= MA'(M_OK); st <= S_STR0; end
                    {R_OK, 3'd1}:     if (y_neg) begin ch <= "-"; st <= S_CHAR; end
                    {R_OK, 3'd2}:     begin n_val <= y_abs; n_pt <= 1'b1; st <= S_NUM0; end
                    {R_OK, 3'd3}:     begin m_addr <= MA'(M_US); st <= S_STR0; end
                    {R_OK, 3'd4}:     begin n_val <= us; n_pt <= 1'b0; st <= S_NUM0; end
                    {R_CLASS, 3'd0}:  begin m_addr <= MA'(M_OK); st <= S_STR0; end
                    {R_CLASS, 3'd1}:  begin m_addr <= cls_addr; st <= S_STR0; end
                    {R_CLASS, 3'd2}:  begin m_addr <= MA'(M_US); st <= S_STR0; end
                    {R_CLASS, 3'd3}:  begin n_val <= us; n_pt <= 1'b0; st <= S_NUM0; end
                    default: begin                     // end of the program: newline, then back to receiving
                        ch <= 8'h0A; st <= S_CHAR; ret <= S_RX;
                        count <= '0; err_field <= '0; fj <= '0;
                    end
                endcase
            end
            S_STR0: st <= S_STR1;                      // ROM address presented
            S_STR1: st <= S_STR2;                      // m_q valid
            S_STR2: if (!tx_busy && !tx_send) begin
                if (m_q == 8'h00) begin
                    st <= ret;
                end else begin
                    tx_data <= m_q; tx_send <= 1'b1;
                    m_addr <= m_addr + 1'b1;
                    st <= S_STR0;
                end
            end
            S_CHAR: if (!tx_busy && !tx_send) begin
                tx_data <= ch; tx_send <= 1'b1; st <= ret;
            end
            S_NUM0: begin                              // start at 10^9
                n_pos <= 4'd9; n_pow <= pow10(4'd9); n_digit <= '0; n_started <= 1'b0;
                st <= S_NUM1;
            end
            S_NUM1: begin                              // repeated subtraction: n_val - n_pow registered
                n_sub <= {1'b0, n_val} - {1'b0, n_pow};
                st <= S_NUM1B;
            end
            S_NUM1B: if (!n_sub[32]) begin             // n_val >= n_pow: one more for this digit
                n_val <= n_sub[31:0]; n_digit <= n_digit + 4'd1;
                st <= S_NUM1;
            end else begin
                // print the digit if significant, or within the minimum digits (YD + 1 with a point, else 1);
                // the decimal point goes before the digit at position YD - 1
                n_sig  <= n_digit != 4'd0 || n_started || n_pos == 4'd0 || (n_pt && 32'(n_pos) <= YD);
                n_dot  <= n_pt && 32'(n_pos) == YD - 1 && ch != ".";
                n_last <= n_pos == 4'd0;
                st <= S_NUM2;
            end
            S_NUM2: if (!tx_busy && !tx_send) begin
                if (n_sig) begin
                    if (n_dot) begin
                        tx_data <= "."; tx_send <= 1'b1; ch <= "."; n_dot <= 1'b0;   // the point, then this digit
                    end else begin
                        tx_data <= "0" + 8'(n_digit); tx_send <= 1'b1; n_started <= 1'b1; ch <= "0";
                        if (n_last) st <= S_PROG;
                        else begin n_pos <= n_pos - 4'd1; n_pow <= pow10(n_pos - 4'd1); n_digit <= '0; st <= S_NUM1; end
                    end
                end else begin
                    n_pos <= n_pos - 4'd1; n_pow <= pow10(n_pos - 4'd1); n_digit <= '0; st <= S_NUM1;
                end
            end
            default: st <= S_RX;
            endcase
        end
    end

    logic unused;
    assign unused = ^{overrun, cycles, w_rdata, out_flat, y_rr[YW-1], ret, CLS_OFF};
endmodule
