// The context-mixing prior ("cm"): an adaptive, weights-free model of IEEE-754 values
// (f32, f16, bf16, f64) that predicts each value one binary decision at a time (zero flag,
// exponent bits, sign, top mantissa bits; the low mantissa bits go raw). Several context
// models are mixed in the logistic domain by an online-learned mixer and refined by APM/SSE
// stages. Everything is integer (fixed point): encoder and decoder compute bit-identical
// probabilities on every compiler and CPU. Included by model-ctxmix*.cpp, codecs/codec-cm.cpp
// and the tests; the coder is a template parameter, so model/ does not depend on coder/.
#pragma once

#include "common/common-dtype.hpp"
#include "common/common-file.hpp"
#include "model/model-prior.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <span>
#include <utility>
#include <vector>

// The per-decision functions are small and hot: inlined into the coding loop.
#define LMGC_CM_INLINE [[gnu::always_inline]] inline

namespace lmgc::detail::ctxmix {

// ---------------------------------------------------------------------------------------
// Fixed-point logistic primitives (the lpaq family's, all integer).
// Probabilities are 12-bit (0..4095 = P(1) * 4096); the logistic ("stretch") domain is
// ln(p / (1 - p)) * 256, clamped to [-2047, 2047].

constexpr int squash_calc(int d) {
    if (d > 2047) return 4095;
    if (d < -2047) return 1;
    constexpr int t[33] = {1,    2,    3,    6,    10,   16,   27,   45,   73,   120,  194,
                           310,  488,  747,  1101, 1546, 2047, 2549, 2994, 3348, 3607, 3785,
                           3901, 3975, 4022, 4050, 4068, 4079, 4085, 4089, 4092, 4093, 4094};
    const int w = d & 127;
    const int k = (d >> 7) + 16;
    return (t[k] * (128 - w) + t[k + 1] * w + 64) >> 7;
}

struct logistic_tables {
    std::array<std::int16_t, 4096> stretch{};
    std::array<std::int16_t, 4095> squash{}; // index d + 2047
};

constexpr logistic_tables make_logistic_tables() {
    logistic_tables t;
    for (int d = -2047; d <= 2047; ++d)
        t.squash[d + 2047] = static_cast<std::int16_t>(squash_calc(d));
    // stretch = inverse of squash: the smallest d whose squash reaches p.
    int pi = 0;
    for (int d = -2047; d <= 2047; ++d) {
        const int v = squash_calc(d);
        for (int p = pi; p <= v; ++p) t.stretch[p] = static_cast<std::int16_t>(d);
        pi = v + 1;
    }
    for (int p = pi; p < 4096; ++p) t.stretch[p] = 2047;
    return t;
}

inline constexpr logistic_tables tables = make_logistic_tables();

inline int squash(int d) {
    d = d < -2047 ? -2047 : (d > 2047 ? 2047 : d);
    return tables.squash[d + 2047];
}
inline int stretch(int p12) {
    return tables.stretch[p12];
}

// ---------------------------------------------------------------------------------------
// Adaptive bit counters: a 16-bit probability (P(1) * 2^16). A fixed rate of 1/16 measured
// better than count-based rates (1/n, floored): gradients drift, and the model restarts at
// every chunk anyway. 16 bits code as well as 22 (version 1 had 32-bit counters), halve the
// tables, and a counter store (16-bit) cannot alias the model's int fields, so the compiler
// keeps those in registers.
using counter = std::uint16_t;
constexpr counter counter_init = 1u << 15;
constexpr int counter_shift = 4;

LMGC_CM_INLINE int counter_p12(counter v) {
    return v >> 4;
}

LMGC_CM_INLINE void counter_update(counter& v, int y, int shift = counter_shift) {
    const int p = v;
    const int target = (y << 16) - y; // 65535 or 0
    v = static_cast<counter>(p + ((target - p) >> shift));
}

// ---------------------------------------------------------------------------------------
// A table of counters, all counter_init, 64-byte aligned: a slot of 16 counters (32 bytes)
// never straddles two cache lines. The model's contexts take few distinct values, so each
// has a direct table (version 1 hashed them into a 16 MiB table).
class counter_block {
    struct freer {
        void operator()(counter* p) const { ::operator delete[](p, std::align_val_t{64}); }
    };

  public:
    explicit counter_block(std::size_t n)
        : p_(static_cast<counter*>(::operator new[](n * sizeof(counter), std::align_val_t{64}))) {
        std::fill(p_.get(), p_.get() + n, counter_init);
    }
    counter* data() const { return p_.get(); }

  private:
    std::unique_ptr<counter[], freer> p_;
};

// ---------------------------------------------------------------------------------------
// Logistic mixer: p = squash(sum_i w_i * stretch(p_i)), weights (16.16 fixed point) chosen
// by a small context and trained online to reduce coding cost. A mixer holds the weight
// sets; one prediction and its training live in a mix_step, which the coding loop keeps
// in registers. N inputs (the last one the bias, 256), stored in 4 or 8 lanes (the unused
// ones 0) so that training is a few vector instructions.

template <int N> struct mix_step {
    static constexpr int lanes = N <= 4 ? 4 : 8;
    static constexpr int skip_below = 256;
    alignas(4 * lanes) std::int32_t x[lanes] = {};
    std::int32_t* w = nullptr;
    int st = 0, pr = 2048;
    // Mixes the inputs in x with weight set w; returns a 12-bit probability (1..4094).
    LMGC_CM_INLINE int predict(std::int32_t* weights) {
        w = weights;
        std::int64_t dot = 0;
        for (int i = 0; i < N; ++i) dot += static_cast<std::int64_t>(x[i]) * w[i];
        const auto d = static_cast<int>(dot >> 16);
        st = d < -2047 ? -2047 : (d > 2047 ? 2047 : d);
        pr = tables.squash[st + 2047];
        return pr;
    }
    // Trains the weight set on the coded bit y with learning rate lr.
    LMGC_CM_INLINE void learn(int y, int lr) const {
        const int e = (y << 12) - pr;
        // A confident, right prediction teaches little: skip the update (saves time).
        if (e > -skip_below && e < skip_below) return;
        // w += (x * err + 512) >> 10 in every lane, as one vector operation (GCC/Clang vector
        // extension: SSE2 or AVX2 instructions). Weights wrap around instead of saturating:
        // no real data comes near (a weight moves by at most 2^16 per update), and the
        // arithmetic stays defined and identical on both sides for any input.
        typedef std::int32_t vs __attribute__((vector_size(lanes * 4)));
        typedef std::uint32_t vu __attribute__((vector_size(lanes * 4)));
        vs xv, wv;
        std::memcpy(&xv, x, sizeof xv);
        std::memcpy(&wv, w, sizeof wv);
        const vs d = (xv * (e * lr) + 512) >> 10;
        wv = reinterpret_cast<vs>(reinterpret_cast<vu>(wv) + reinterpret_cast<vu>(d));
        std::memcpy(w, &wv, sizeof wv);
    }
};

template <int N> class mixer {
  public:
    static constexpr int lanes = mix_step<N>::lanes;
    explicit mixer(int n_sets) : w_(static_cast<std::size_t>(n_sets) * lanes) {
        for (std::size_t k = 0; k < w_.size(); ++k) w_[k] = k % lanes < N ? 65536 * 3 / 10 : 0;
    }
    // Weight set k.
    LMGC_CM_INLINE std::int32_t* set(std::size_t k) { return &w_[k * lanes]; }

  private:
    std::vector<std::int32_t> w_;
};

// Adaptive probability map (SSE): refines a probability given a context, by interpolating
// between 33 buckets over the stretch domain. Output has 16-bit precision.
class apm {
  public:
    explicit apm(std::size_t n_ctx) : t_(n_ctx * 33) {
        for (std::size_t c = 0; c < n_ctx; ++c)
            for (int j = 0; j < 33; ++j)
                t_[c * 33 + j] = static_cast<std::uint16_t>(squash((j - 16) * 128) * 16);
    }
    // pr: 12-bit probability; returns a 16-bit one.
    int pp(int st, std::size_t ctx) {
        const int s = st + 2048; // 1..4095
        const int lo = s >> 7, w = s & 127;
        const std::size_t base = ctx * 33 + static_cast<std::size_t>(lo);
        idx_ = base + (w >> 6);
        return (t_[base] * (128 - w) + t_[base + 1] * w) >> 7;
    }
    // Starts loading the buckets of context ctx into the cache (changes nothing).
    void prefetch(std::size_t ctx) const {
        __builtin_prefetch(&t_[ctx * 33], 1);
        __builtin_prefetch(&t_[ctx * 33 + 32], 1);
    }
    void update(int y, int rate) {
        const int g = (y << 16) + (y << rate) - y - y;
        t_[idx_] = static_cast<std::uint16_t>(t_[idx_] + ((g - t_[idx_]) >> rate));
    }

  private:
    std::vector<std::uint16_t> t_;
    std::size_t idx_ = 0;
};

// ---------------------------------------------------------------------------------------
// Geometry: where the values sit in their tensor. A segment of the chunk holds values of a
// tensor with kernels of K values (rows of W), K | row stride R (0 = none): the value one
// kernel row up (i - W), one kernel back (i - K) and one row back (i - R) are contexts.
// Position in the kernel is (i - start + phase) mod K.

struct segment {
    std::uint64_t start = 0; // first value index (chunk-relative)
    std::uint32_t kernel = 1;
    std::uint32_t width = 1;
    std::uint32_t phase = 0;
    std::uint64_t row = 0;
};
constexpr std::uint32_t segment_kernel_max = 1u << 16;

// Why a segment list cannot be coded for a chunk of n values, or nullptr when it can. The
// one rule for both sides: the encoder falls back to a plain geometry rather than write a
// list this refuses, and the decoder refuses what this refuses. Starts increase from 0 and
// stay at or below n; 1 <= kernel <= segment_kernel_max, width divides
// kernel, phase < kernel, row is 0 or a multiple of kernel. The row may exceed n (a chunk
// shorter than one row of its tensor): the model then never finds a value one row back.
const char* segments_invalid(std::span<const segment> segs, std::uint64_t n);

// What the encoder knows about tensors in a chunk (from the file's shapes).
struct tensor_hint {
    std::int64_t start = 0; // first value, chunk-relative (may be < 0)
    std::uint64_t n_values = 0;
    std::vector<std::int64_t> shape;
};

// Finds segments for values (n values of `bits_per_value` bits) from the tensor shapes where
// they say more than a flat vector, and from the data where not: kernel size and phase by
// how well the neighbour geometry predicts signs and exponents block by block.
// Deterministic; only the encoder runs it (the segments travel in the payload).
template <typename U>
std::vector<segment> find_segments(std::span<const U> values, unsigned exp_bits, unsigned man_bits,
                                   std::span<const tensor_hint> hints);

// ---------------------------------------------------------------------------------------
// IEEE-754 formats.

template <typename U, unsigned E, unsigned M> struct fp_format {
    using uint = U;
    static constexpr unsigned exp_bits = E;
    static constexpr unsigned man_bits = M;
    static constexpr unsigned sign_shift = E + M;
    static constexpr U exp_mask = (U{1} << E) - 1;
    static constexpr U man_mask = (U{1} << M) - 1;
    static constexpr U abs_mask = (U{1} << (E + M)) - 1;
};
using fmt_f32 = fp_format<std::uint32_t, 8, 23>;
using fmt_f16 = fp_format<std::uint16_t, 5, 10>;
using fmt_bf16 = fp_format<std::uint16_t, 8, 7>;
using fmt_f64 = fp_format<std::uint64_t, 11, 52>;

struct float_params {
    unsigned mant_modelled = 2; // top mantissa bits coded with the model (<= 4); rest raw
    unsigned zero_low = 0;      // low mantissa bits known to be zero in every value (not coded)
};
constexpr unsigned mant_modelled_max = 4;

// The model. Drive it with code_values() (the fast path, any coder with the io shape
// below) or decision by decision through predict_p16()/update() (the prior interface); both
// compute the same probabilities with the same per-decision functions (the test
// model_ctxmix.prior_interface_matches_the_fast_path compares them decision by decision).
//
// A value is coded as: zero flag; for a zero, its sign; else the exponent relative to a
// predicted one (r = e - ê: "r > 0?", then r in unary up to a cap (from 1 up, or from 0
// down), then an escape with an Elias-gamma code), the sign, the top mantissa bits, the
// other mantissa bits raw. Contexts have direct tables of small slots (32 bytes), so a
// value touches few cache lines.
template <typename F> class float_model {
  public:
    using U = typename F::uint;

    // values: the chunk's values; the encoder passes them all, the decoder a buffer it
    // fills (the model reads only values before the current one and writes the current one
    // when it is complete).
    float_model(U* values, std::size_t n, std::span<const segment> segs, float_params fp)
        : vals_(values), n_(n), segs_(segs.begin(), segs.end()), fp_(fp), mz_(27), me_(16 * 4),
          ms_(32), az_(256) {
        if (segs_.empty() || segs_.front().start != 0) segs_.insert(segs_.begin(), segment{});
        raw_bits_ = F::man_bits - fp_.zero_low - fp_.mant_modelled;
        raw_mask_ =
            static_cast<std::uint32_t>((std::uint64_t{1} << (raw_bits_ < 32 ? raw_bits_ : 32)) - 1);
        for (auto& c : esc_) c = counter_init;
        for (auto& c : zrun_) c = counter_init;
        for (auto& c : sign0_) c = counter_init;
        for (int k = 0; k < 3; ++k) feat_[k] = static_cast<std::uint16_t>(mag_zero);
        begin_value();
    }

    // Codes values up to index `upto`. io.bit(p16, y, field) codes bit y with
    // P(1) = p16 / 65536 and returns it (a decoder ignores y and returns the decoded bit);
    // field names the part of the value (0 zero flag, 1 sign of a zero, 2 exponent, 3 sign,
    // 4 mantissa) for diagnostics. io.raw(v, n) codes n <= 32 raw bits and returns them.
    // The hot state of a decision lives in locals here (the prior interface keeps it in
    // members), so that the compiler can keep it in registers.
    template <typename IO> LMGC_CM_INLINE void code_values(IO& io, std::size_t upto) {
        if (upto > n_) upto = n_;
        // Segment by segment: the third zero/exponent context exists only in segments with
        // rows, and the code for each case is compiled apart (flat data pays nothing).
        while (i_ < upto) {
            const std::size_t end = next_start_ < upto ? next_start_ : upto;
            if (row_)
                code_range<true>(io, end);
            else
                code_range<false>(io, end);
        }
    }
    template <bool Row, typename IO> LMGC_CM_INLINE void code_range(IO& io, std::size_t upto) {
        while (i_ < upto) {
            const U v = IO::decoding ? U{0} : vals_[i_];
            // Zero flag.
            int z;
            if (zero_fast()) {
                z = io.bit(p16_of(counter_p12(zfast_)), (v & F::abs_mask) == 0, 0);
                counter_update(zfast_, z);
            } else {
                mix_step<n_ze + 1> s;
                z = io.bit(zero_predict(s, Row), (v & F::abs_mask) == 0, 0);
                zero_learn(s, z, Row);
            }
            if (z) {
                const int y =
                    io.bit(p16_of(counter_p12(zsign_)), static_cast<int>(v >> F::sign_shift), 1);
                zsign_learn(y);
                continue;
            }

            // Exponent: the unary steps run on locals; the escape (rare) on the members.
            const exp_ctx c = exp_context();
            const int r = IO::decoding ? 0 : exponent_of(v) - static_cast<int>(ehat_);
            for (unsigned node = 1;;) {
                exp_step s;
                const int y =
                    io.bit(exp_predict(c, node, s, Row), IO::decoding ? 0 : exp_bit(r, node), 2);
                exp_learn(c, node, s, y, Row);
                const int next = exp_next(node, y);
                if (next > 0) {
                    node = static_cast<unsigned>(next);
                    continue;
                }
                if (next == 0) {
                    set_exponent(static_cast<int>(ehat_) + exp_residual(node));
                } else {
                    begin_escape(node);
                    while (stage_ == stage::esc)
                        u_esc(io.bit(p_esc(), IO::decoding ? 0 : esc_bit(v), 2));
                    if (stage_ == stage::esc_raw) {
                        const unsigned nb = esc_len_;
                        u_esc_raw(io.raw(IO::decoding ? 0u : esc_raw_bits(v), nb), nb);
                    }
                }
                break;
            }

            // Sign, top mantissa bits, the rest raw; the decoder assembles the value in val
            // (the encoder has it: v).
            U val = cur_; // the exponent
            {
                mix_step<n_sign + 1> s;
                const int y = io.bit(sign_predict(s), static_cast<int>(v >> F::sign_shift), 3);
                sign_learn(s, y);
                val |= static_cast<U>(static_cast<U>(y) << F::sign_shift);
            }
            unsigned node = 1;
            for (unsigned k = 0; k < fp_.mant_modelled; ++k) {
                const int y = io.bit(mant_predict(node),
                                     static_cast<int>((v >> (F::man_bits - 1 - k)) & 1), 4);
                mant_learn(node, y);
                node = node * 2 + static_cast<unsigned>(y);
            }
            val |= static_cast<U>(static_cast<U>(node - (1u << fp_.mant_modelled))
                                  << (F::man_bits - fp_.mant_modelled));
            if (raw_bits_ <= 32) { // one call (all but f64)
                if (raw_bits_ > 0) {
                    const auto bits = io.raw(
                        static_cast<std::uint32_t>(v >> fp_.zero_low) & raw_mask_, raw_bits_);
                    val |= static_cast<U>(static_cast<U>(bits) << fp_.zero_low);
                }
            } else {
                for (unsigned left = raw_bits_; left > 0;) {
                    const unsigned take = left > 32 ? 32 : left;
                    left -= take;
                    const auto mask = static_cast<std::uint32_t>((std::uint64_t{1} << take) - 1);
                    const auto bits =
                        io.raw(static_cast<std::uint32_t>(v >> (fp_.zero_low + left)) & mask, take);
                    val |= static_cast<U>(static_cast<U>(bits) << (fp_.zero_low + left));
                }
            }
            cur_ = IO::decoding ? val : v;
            end_value();
        }
    }

    // --- decision-by-decision interface ------------------------------------------------
    bool done() const { return i_ >= n_; }
    // P(next decision = 1) in units of 2^-16, within [1, 65535].
    int predict_p16() {
        switch (stage_) {
        case stage::zero:
            return zero_fast() ? p16_of(counter_p12(zfast_)) : zero_predict(s4_, row_);
        case stage::zsign:
            return p16_of(counter_p12(zsign_));
        case stage::exp:
            return exp_predict(exp_context(), node_, e4_, row_);
        case stage::esc:
            return p_esc();
        case stage::esc_raw:
            return 32768;
        case stage::sign:
            return sign_predict(s3_);
        case stage::mant:
            return mant_predict(node_);
        case stage::raw:
            return 32768;
        }
        return 32768;
    }
    void update(int y) {
        switch (stage_) {
        case stage::zero:
            if (zero_fast())
                counter_update(zfast_, y);
            else
                zero_learn(s4_, y, row_);
            stage_ = y ? stage::zsign : stage::exp;
            node_ = 1;
            return;
        case stage::zsign:
            return zsign_learn(y);
        case stage::exp: {
            exp_learn(exp_context(), node_, e4_, y, row_);
            const int next = exp_next(node_, y);
            if (next > 0)
                node_ = static_cast<unsigned>(next);
            else if (next == 0)
                set_exponent(static_cast<int>(ehat_) + exp_residual(node_));
            else
                begin_escape(node_);
            return;
        }
        case stage::esc:
            return u_esc(y);
        case stage::esc_raw:
            return u_esc_raw(static_cast<unsigned>(y), 1);
        case stage::sign:
            sign_learn(s3_, y);
            cur_ |= static_cast<U>(static_cast<U>(y) << F::sign_shift);
            stage_ = stage::mant;
            node_ = 1;
            mant_done_ = 0;
            return next_mantissa();
        case stage::mant:
            mant_learn(node_, y);
            node_ = node_ * 2 + static_cast<unsigned>(y);
            ++mant_done_;
            return next_mantissa();
        case stage::raw:
            --raw_left_;
            cur_ |= static_cast<U>(static_cast<U>(y) << (fp_.zero_low + raw_left_));
            if (raw_left_ == 0) end_value();
            return;
        }
    }
    // The bit the next decision codes for value v (the encoder's side of the interface).
    int bit_of(U v) const {
        switch (stage_) {
        case stage::zero:
            return (v & F::abs_mask) == 0;
        case stage::zsign:
        case stage::sign:
            return static_cast<int>(v >> F::sign_shift);
        case stage::exp:
            return exp_bit(exponent_of(v) - static_cast<int>(ehat_), node_);
        case stage::esc:
            return esc_bit(v);
        case stage::esc_raw:
            return static_cast<int>((esc_raw_bits(v) >> (esc_len_ - 1 - esc_got_)) & 1);
        case stage::mant:
            return static_cast<int>((v >> (F::man_bits - 1 - mant_done_)) & 1);
        case stage::raw:
            return static_cast<int>((v >> (fp_.zero_low + raw_left_ - 1)) & 1);
        }
        return 0;
    }
    std::size_t index() const { return i_; }

  private:
    enum class stage { zero, zsign, exp, esc, esc_raw, sign, mant, raw };
    static constexpr int n_ze = 3, n_sign = 2, n_mant = 2;
    // Learning rates of the mixers (zero flag, exponent, sign).
    static constexpr int lr_zero = 2, lr_exp = 1, lr_sign = 4;
    // The mantissa counters adapt more slowly (1/32): what little they find is stable.
    static constexpr int mant_shift = 5;
    // Unary exponent steps before the escape, above and below the prediction.
    static constexpr unsigned cap_up = 6, cap_down = 6;
    static constexpr std::uint32_t zero_fast_run = 32, zero_run_min = 4;
    static constexpr unsigned n_exp_values = 1u << F::exp_bits;

    // Magnitude codes (feat_ bits 0..13): 1 + exponent for a nonzero value, mag_zero for a
    // zero, mag_none for a neighbour that does not exist. They are spaced so that one table
    // lookup, rel_table[code + n_exp_values - ê], gives a neighbour's class relative to ê.
    static constexpr unsigned mag_zero = 2 * n_exp_values + 1, mag_none = 3 * n_exp_values + 2;
    static constexpr unsigned mag_mask = 0x3FFF, sign_shift_feat = 14;
    static_assert(mag_none <= mag_mask);

    // A neighbour's exponent relative to the prediction, clamped: 0..16 (8 = equal),
    // 17 zero, 18 no such neighbour; indexed by code + n_exp_values - ê.
    struct rel_table_t {
        std::array<std::uint8_t, 4 * n_exp_values + 3> t{};
    };
    static constexpr rel_table_t make_rel_table() {
        rel_table_t r;
        const int m = static_cast<int>(n_exp_values);
        for (int k = 0; k < 4 * m + 3; ++k) {
            const int d = k - m - 1; // code - 1 - ê for a nonzero code
            if (k >= 2 && k <= 2 * m)
                r.t[k] = static_cast<std::uint8_t>((d < -8 ? -8 : (d > 8 ? 8 : d)) + 8);
            else if (k >= 2 * m + 2 && k <= 3 * m + 1)
                r.t[k] = 17;
            else if (k >= 3 * m + 3)
                r.t[k] = 18;
        }
        return r;
    }
    static constexpr rel_table_t rel_table = make_rel_table();
    LMGC_CM_INLINE static unsigned rel(unsigned code, unsigned eh) {
        return rel_table.t[code + n_exp_values - eh];
    }

    LMGC_CM_INLINE static int exponent_of(U v) {
        return static_cast<int>((v >> F::man_bits) & F::exp_mask);
    }

    // ---- per value: geometry and contexts ----------------------------------------------
    // The predicted exponent: the running mean of recent log-magnitudes, rounded.
    LMGC_CM_INLINE static unsigned predicted_exponent(int avg) {
        const int eh = ((avg + 8) >> 4) - 1;
        return static_cast<unsigned>(eh < 0 ? 0
                                            : (eh >= int(n_exp_values) ? n_exp_values - 1 : eh));
    }

    // What the magnitudes before a value say about it: the keys of its zero flag and
    // exponent slots, and the classes its other contexts need. Computed one value ahead
    // where the geometry allows (set_exponent()).
    struct mag_context {
        counter* slots[n_ze];
        unsigned mctx; // the mantissa context (a, left), its exponent still missing
        unsigned eh, eset, pc;
    };
    // The exponent mixer's weight class from rel a: equal to ê, below, above, zero or none.
    static constexpr std::uint8_t eset_of[19] = {1, 1, 1, 1, 1, 1, 1, 1, 0, 2,
                                                 2, 2, 2, 2, 2, 2, 2, 3, 3};

    // The mag_context of value i at kernel position pos and column col, from the magnitudes
    // of earlier values (feat_) and ê. Zero flag and exponent share each context's slot:
    // counter 1 the zero flag, 2..15 the exponent nodes 1..14. The contexts: (up, left,
    // kernel position), (a, ê) and (one row back, one kernel back, ê fraction: the top two
    // bits of the running mean's four); keys pack small fields into one word. The third
    // finds the value's neighbours in the tensor's previous row, and exists only in segments
    // with rows (from the shapes: VGG16 .safetensors 0.55% smaller, ViT 0.7%); elsewhere
    // its mixer input is 0 and its slot is not touched (on flat data it gained 0.03% for
    // ~6% more instructions). (Version 1 also had (a, b, c, zero run): with slower mixers
    // and the zero-run mode it gained nothing.)
    LMGC_CM_INLINE void mag_keys(std::size_t i, std::uint32_t pos, std::uint32_t col,
                                 mag_context& out) const {
        const std::uint16_t* f = &feat_[i + 3];
        const bool has_up = pos >= W_ && i >= W_;
        const unsigned eh = eh_;
        const unsigned la = f[-1] & mag_mask;
        const unsigned lup = has_up ? f[-std::ptrdiff_t(W_)] & mag_mask : mag_none;
        const unsigned lleft = col > 0 ? la : mag_none;
        const std::uint64_t ra = rel(la, eh), rup = rel(lup, eh), rleft = rel(lleft, eh);
        const std::uint64_t pc = K_ <= 25 ? pos : 26 + 2 * has_up + (col > 0);
        out.slots[2] = slots2_.data(); // unused without rows
        if (row_) {
            const bool has_k = K_ > 1 && i >= K_;
            const bool has_r = i >= R_;
            const unsigned lk = has_k ? f[-std::ptrdiff_t(K_)] & mag_mask : mag_none;
            const unsigned lr = has_r ? f[-std::ptrdiff_t(R_)] & mag_mask : mag_none;
            const std::uint64_t frac = static_cast<unsigned>(avg_ & 15) >> 2;
            out.slots[2] += ((rel(lr, eh) * 19 + rel(lk, eh)) * 4 + frac) * 16;
        }
        out.slots[0] = slots0_.data() + ((pc * 19 + rup) * 19 + rleft) * 16;
        out.slots[1] = slots1_.data() + (ra * n_exp_values + eh) * 16;
        out.mctx = static_cast<unsigned>((ra * 19 + rleft) * 19);
        out.eh = eh;
        out.eset = eset_of[ra];
        out.pc = static_cast<unsigned>(pc);
    }

    void next_segment() {
        while (next_seg_ < segs_.size() && segs_[next_seg_].start <= i_) {
            const segment& s = segs_[next_seg_++];
            K_ = s.kernel;
            W_ = s.width;
            R_ = s.row;
            row_ = R_ > 0;
            pos_ = static_cast<std::uint32_t>((i_ - s.start + s.phase) % K_);
            col_ = pos_ % W_;
        }
        next_start_ = next_seg_ < segs_.size() ? segs_[next_seg_].start : ~std::uint64_t{0};
    }

    // Sets up value i_ (the current one). Inside a run of zeros its contexts wait until the
    // zero flag says the value is not zero (load_contexts()).
    LMGC_CM_INLINE void begin_value() {
        stage_ = stage::zero; // also after the last value: the drivers' loops must stop
        node_ = 1;
        cur_ = 0;
        if (i_ >= n_) return;
        if (i_ >= next_start_) [[unlikely]]
            next_segment();
        if (!zero_run()) load_contexts();
    }

    // The contexts of value i_.
    LMGC_CM_INLINE void load_contexts() {
        const std::size_t i = i_;
        // The magnitude contexts were found (and their slots prefetched) one value ahead
        // when the geometry allowed it (set_exponent()).
        if (ahead_i_ != i) mag_keys(i, pos_, col_, ahead_);
        for (int j = 0; j < n_ze; ++j) ze_[j] = ahead_.slots[j];
        ehat_ = ahead_.eh;
        eset_ = ahead_.eset;
        mctx_ = ahead_.mctx;
        const unsigned pc = ahead_.pc;
        pc_ = pc;

        // Neighbours in the kernel (feat_ has 3 entries in front: index i + 3).
        const std::uint16_t* f = &feat_[i + 3];
        const bool has_up = pos_ >= W_ && i >= W_;
        const bool has_k = K_ > 1 && i >= K_;
        constexpr unsigned none = mag_none | 3u << sign_shift_feat;
        const unsigned up = has_up ? f[-std::ptrdiff_t(W_)] : none;
        const unsigned kp = has_k ? f[-std::ptrdiff_t(K_)] : none;
        if (!zero_fast()) { // only the mixed zero flag reads these
            const unsigned za = (f[-1] & mag_mask) == mag_zero, zb = (f[-2] & mag_mask) == mag_zero,
                           zc = (f[-3] & mag_mask) == mag_zero;
            const unsigned zup = has_up ? ((up & mag_mask) == mag_zero) : 2u,
                           zk = has_k ? ((kp & mag_mask) == mag_zero) : 2u;
            zset_ = za + 2 * zk + 6 * zup;
            zapm_ = za | zb << 1 | zc << 2 | zup << 3 | zk << 5;
        }

        // Sign: (signs of a, b, c) in sign0_, (sign of a, up, kernel back, kernel position,
        // the value's own exponent) in sign1_ once the exponent is known; the APM takes
        // the same context without the exponent.
        sbase_ =
            pc * 64 + (up >> sign_shift_feat) * 16 + (kp >> sign_shift_feat) * 4 + (signs_ & 3);
    }

    // The running state (zero runs, mean magnitude, zero-flag mode, ê) takes in a value's
    // log-magnitude class (0 zero, else 1 + exponent).
    LMGC_CM_INLINE void note_magnitude(unsigned l) {
        const int is_zero = l == 0;
        if (is_zero == last_zero_)
            ++run_;
        else
            run_ = 1, last_zero_ = is_zero;
        if (!is_zero) {
            if (!seen_nonzero_) avg_ = static_cast<int>(l) * 16, seen_nonzero_ = true;
            avg_ += (static_cast<int>(l) * 16 - avg_ + 4) >> 3;
            eh_ = predicted_exponent(avg_);
            zmode_ = run_ >= zero_fast_run ? zmode_fast : zmode_mixed;
        } else {
            zmode_ = run_ >= zero_run_min ? zmode_run : zmode_mixed;
        }
    }

    // The current value is complete (cur_): store it and move to the next.
    LMGC_CM_INLINE void end_value() {
        const U v = cur_;
        vals_[i_] = v; // the decoder's output; for the encoder, its input unchanged
        // Features: magnitude code and sign class (0 zero, 1 positive, 2 negative). A nonzero
        // value's magnitude was noted by set_exponent().
        if (noted_) {
            const unsigned sg = 1 + static_cast<unsigned>(v >> F::sign_shift);
            feat_[i_ + 3] = static_cast<std::uint16_t>((e_ + 1) | sg << sign_shift_feat);
            signs_ = (signs_ << 2 | sg) & 63;
        } else {
            feat_[i_ + 3] = static_cast<std::uint16_t>(mag_zero);
            note_magnitude(0);
            signs_ = signs_ << 2 & 63;
        }
        noted_ = false;
        ++i_;
        if (++col_ == W_) col_ = 0;
        if (++pos_ == K_) pos_ = 0, col_ = 0;
        begin_value();
    }

    // ---- the decisions -----------------------------------------------------------------
    static int to_p16(int p16) { return p16 < 32 ? 32 : (p16 > 65504 ? 65504 : p16); }
    // A 12-bit probability (0..4095) as a 16-bit one, inside the coder's range.
    LMGC_CM_INLINE static int p16_of(int pr12) { return pr12 * 16 + 8; }

    int finish(int pr12, int st, apm& a, std::size_t actx, int mixw) {
        const int pa = a.pp(st, actx);
        return to_p16((pr12 * 16 * mixw + pa * (4 - mixw)) >> 2);
    }

    // Zero flag. Far from any zero (dense data) it is a single adaptive counter (zfast_): it
    // costs almost nothing either way, and mixing it would cost time. Inside a run of zeros
    // (zero_run_min or more) it is one counter per run length class: the run's values need
    // no contexts at all, and the mixed flag predicted them no better.
    bool zero_fast() const { return zmode_ == zmode_fast; }
    bool zero_run() const { return zmode_ == zmode_run; }
    counter& zrun_counter() {
        const unsigned b =
            run_ < 16 ? run_ : (run_ < 64 ? 16 + (run_ >> 4) : (run_ < 1024 ? 20u : 21u));
        return zrun_[b];
    }
    LMGC_CM_INLINE int zero_predict(mix_step<n_ze + 1>& s, bool row) {
        if (zero_run()) return p16_of(counter_p12(zrun_counter()));
        for (int j = 0; j < 2; ++j) s.x[j] = stretch(counter_p12(ze_[j][1]));
        s.x[2] = row ? stretch(counter_p12(ze_[2][1])) : 0;
        s.x[n_ze] = 256;
        const int pr = s.predict(mz_.set(zset_));
        return finish(pr, s.st, az_, zapm_, 1);
    }
    LMGC_CM_INLINE void zero_learn(const mix_step<n_ze + 1>& s, int y, bool row) {
        if (zero_run()) {
            counter_update(zrun_counter(), y);
            if (!y) load_contexts();
            return;
        }
        for (int j = 0; j < 2; ++j) counter_update(ze_[j][1], y);
        if (row) counter_update(ze_[2][1], y);
        s.learn(y, lr_zero);
        az_.update(y, 6);
    }
    // A zero's sign ends the value.
    LMGC_CM_INLINE void zsign_learn(int y) {
        counter_update(zsign_, y);
        cur_ = static_cast<U>(static_cast<U>(y) << F::sign_shift);
        end_value();
    }

    // Exponent nodes: 1 "r > 0?", then 2..7 "r = k?" (k = 1..6), or 8 "r = 0?" and 9..14
    // "r = -k?" (k = 1..6); after the last step the escape codes the rest. (Version 1 asked
    // "r = 0?" first: 2.94 decisions per value on VGG16 instead of 2.8, and 0.04% larger.)
    struct exp_ctx {
        counter* z[n_ze];
        std::int32_t* w; // weight sets of the class of rel a (set = node * 4 + class)
    };
    LMGC_CM_INLINE exp_ctx exp_context() {
        exp_ctx c;
        for (int j = 0; j < n_ze; ++j) c.z[j] = ze_[j];
        c.w = me_.set(eset_);
        return c;
    }
    LMGC_CM_INLINE static int exp_bit(int r, unsigned node) {
        if (node == 1) return r > 0;
        return r == exp_residual_of[node];
    }
    // One exponent decision: the mixer step and the counters it read (written back from
    // these values: if two contexts share a slot, the last write wins, on both sides).
    struct exp_step : mix_step<n_ze + 1> {
        int c[n_ze];
    };
    LMGC_CM_INLINE static int exp_predict(const exp_ctx& c, unsigned node, exp_step& s,
                                         bool row) {
        for (int j = 0; j < 2; ++j) {
            s.c[j] = c.z[j][node + 1];
            s.x[j] = tables.stretch[static_cast<unsigned>(s.c[j]) >> 4];
        }
        if (row) {
            s.c[2] = c.z[2][node + 1];
            s.x[2] = tables.stretch[static_cast<unsigned>(s.c[2]) >> 4];
        } else {
            s.x[2] = 0;
        }
        s.x[n_ze] = 256;
        return p16_of(s.predict(c.w + node * 4 * mix_step<n_ze + 1>::lanes));
    }
    LMGC_CM_INLINE static void exp_learn(const exp_ctx& c, unsigned node, const exp_step& s,
                                         int y, bool row) {
        const int target = (y << 16) - y;
        for (int j = 0; j < 2; ++j)
            c.z[j][node + 1] = static_cast<counter>(s.c[j] + ((target - s.c[j]) >> counter_shift));
        if (row)
            c.z[2][node + 1] = static_cast<counter>(s.c[2] + ((target - s.c[2]) >> counter_shift));
        s.learn(y, lr_exp);
    }
    // After bit y at node: the next node (> 0), 0 when the exponent is known, -1 for the
    // escape.
    static constexpr std::int8_t exp_next_node[15][2] = {
        {0, 0}, {8, 2},  {3, 0},  {4, 0},  {5, 0},  {6, 0},  {7, 0}, {-1, 0},
        {9, 0}, {10, 0}, {11, 0}, {12, 0}, {13, 0}, {14, 0}, {-1, 0}};
    LMGC_CM_INLINE static int exp_next(unsigned node, int y) { return exp_next_node[node][y]; }
    // r once node said yes.
    static constexpr std::int8_t exp_residual_of[15] = {0, 0,  1,  2,  3,  4,  5, 6,
                                                        0, -1, -2, -3, -4, -5, -6};
    LMGC_CM_INLINE static int exp_residual(unsigned node) { return exp_residual_of[node]; }

    // Escape: t = |r| - cap - 1 >= 0 as Elias gamma: the bit length of t + 1 in unary
    // (modelled), then its low bits raw.
    void begin_escape(unsigned node) {
        esc_up_ = node == 7;
        esc_len_ = 0;
        stage_ = stage::esc;
    }
    unsigned esc_t(U v) const {
        const int r = exponent_of(v) - static_cast<int>(ehat_);
        return static_cast<unsigned>((r < 0 ? -r : r) -
                                     static_cast<int>(esc_up_ ? cap_up : cap_down) - 1);
    }
    int esc_bit(U v) const {
        const unsigned t1 = esc_t(v) + 1;
        unsigned nb = 0;
        while (nb < 31 && (t1 >> (nb + 1)) != 0) ++nb;
        return esc_len_ == nb; // 1 = "the length is esc_len_"
    }
    std::uint32_t esc_raw_bits(U v) const {
        const unsigned t1 = esc_t(v) + 1;
        return t1 & ((1u << esc_len_) - 1);
    }
    int p_esc() { return p16_of(counter_p12(esc_[esc_up_ * 16 + esc_len_])); }
    void u_esc(int y) {
        counter_update(esc_[esc_up_ * 16 + esc_len_], y);
        if (y || esc_len_ == F::exp_bits) {
            esc_acc_ = 1;
            esc_got_ = 0;
            if (esc_len_ == 0) return finish_escape();
            stage_ = stage::esc_raw;
            return;
        }
        ++esc_len_;
    }
    void u_esc_raw(unsigned bits, unsigned n) {
        esc_acc_ = (esc_acc_ << n) | bits;
        esc_got_ += n;
        if (esc_got_ == esc_len_) finish_escape();
    }
    void finish_escape() {
        const int mag =
            static_cast<int>(esc_acc_ - 1) + static_cast<int>(esc_up_ ? cap_up : cap_down) + 1;
        set_exponent(static_cast<int>(ehat_) + (esc_up_ ? mag : -mag));
    }

    // The exponent is known: find the sign and mantissa counters, and the next value's
    // magnitude contexts.
    LMGC_CM_INLINE void set_exponent(int e) {
        // Only a corrupt stream leaves the range (ê + r below 0 or above the top exponent);
        // keep the model's indices in bounds.
        if (static_cast<unsigned>(e) >= n_exp_values) [[unlikely]]
            e = static_cast<int>(ehat_);
        e_ = static_cast<unsigned>(e);
        cur_ = static_cast<U>(static_cast<U>(e_) << F::man_bits);
        stage_ = stage::sign;
        const unsigned re = rel(e_ + 1, ehat_);
        ss_[0] = &sign0_[signs_];
        ss_[1] = sign1_.data() + re * sign1_stride + sbase_;
        mslots_[0] = mant0_.data() + (e_ << fp_.mant_modelled);
        mslots_[1] = mant1_.data() + ((mctx_ + re) << fp_.mant_modelled);
        __builtin_prefetch(mslots_[1], 1);
        // The next value's zero flag and exponent contexts need only this value's
        // magnitude: find their keys now and start loading their slots, while this value's
        // sign and mantissa are coded. (Not across a segment start: its geometry changes.)
        note_magnitude(e_ + 1);
        noted_ = true;
        feat_[i_ + 3] = static_cast<std::uint16_t>(e_ + 1); // sign bits come in end_value()
        const std::size_t nx = i_ + 1;
        if (nx < n_ && nx < next_start_) {
            std::uint32_t pos = pos_ + 1, col = col_ + 1;
            if (col == W_) col = 0;
            if (pos == K_) pos = 0, col = 0;
            mag_keys(nx, pos, col, ahead_);
            ahead_i_ = nx;
            for (int j = 0; j < 2; ++j) __builtin_prefetch(ahead_.slots[j], 1);
            if (row_) __builtin_prefetch(ahead_.slots[2], 1);
        }
    }

    LMGC_CM_INLINE int sign_predict(mix_step<n_sign + 1>& s) {
        for (int j = 0; j < n_sign; ++j) s.x[j] = stretch(counter_p12(*ss_[j]));
        s.x[n_sign] = 256;
        const int pr = s.predict(ms_.set(pc_));
        return p16_of(pr);
    }
    LMGC_CM_INLINE void sign_learn(const mix_step<n_sign + 1>& s, int y) {
        for (int j = 0; j < n_sign; ++j) counter_update(*ss_[j], y);
        s.learn(y, lr_sign);
    }

    // The mantissa's two predictions are averaged in the logistic domain: no mixer (it
    // measured worse than the plain average, and costs time). node: 1 + the bits so far.
    LMGC_CM_INLINE int mant_predict(unsigned node) const {
        const int st =
            stretch(counter_p12(mslots_[0][node])) + stretch(counter_p12(mslots_[1][node]));
        return p16_of(tables.squash[(st >> 1) + 2047]);
    }
    LMGC_CM_INLINE void mant_learn(unsigned node, int y) {
        for (int j = 0; j < n_mant; ++j) counter_update(mslots_[j][node], y, mant_shift);
    }
    // Prior interface: after the sign or a mantissa bit, the next stage.
    void next_mantissa() {
        if (mant_done_ < fp_.mant_modelled) return;
        cur_ |= static_cast<U>(static_cast<U>(node_ - (1u << mant_done_))
                               << (F::man_bits - mant_done_));
        raw_left_ = raw_bits_;
        if (raw_left_ == 0)
            end_value();
        else
            stage_ = stage::raw;
    }

    U* vals_;
    std::size_t n_;
    // Per coded value: magnitude code (bits 0..13), sign class (bits 14..15); 3 entries in
    // front, as if the chunk started after three zeros (set in the constructor; every other
    // entry is written before it is read). A lazy buffer: a large one is an anonymous mapping
    // that takes memory only as values are coded, so a hostile chunk size costs address
    // space, not memory (a filled vector would take it all at once; calloc, under ASan, the
    // shadow of the whole block).
    lazy_buffer feat_buf_{(n_ + 3) * sizeof(std::uint16_t)};
    std::uint16_t* feat_ = reinterpret_cast<std::uint16_t*>(feat_buf_.span().data());
    std::vector<segment> segs_;
    float_params fp_;
    // The slots of the zero flag and exponent contexts: 16 counters each (counter 1 the
    // zero flag, 2..15 the exponent nodes), by (kernel position, rel up, rel left) and by
    // (rel a, ê).
    counter_block slots0_{30 * 19 * 19 * 16};
    counter_block slots1_{19 * n_exp_values * 16};
    counter_block slots2_{19 * 19 * 4 * 16};
    mixer<n_ze + 1> mz_;
    mixer<n_ze + 1> me_;
    mixer<n_sign + 1> ms_;
    apm az_;
    counter zsign_ = counter_init, zfast_ = counter_init;
    counter esc_[32];
    counter zrun_[22];
    // Direct (unhashed) counters. Sign: by the last three signs; by the signs of a, up and
    // kernel back, the kernel position and the value's exponent relative to ê. Mantissa: by
    // the exponent; by (rel a, rel left, the exponent relative to ê), 2^mant_modelled
    // counters each (the tree of the top mantissa bits, node 1 = root).
    static constexpr std::size_t sign1_stride = 30 * 64;
    counter sign0_[64];
    counter_block sign1_{19 * sign1_stride};
    counter_block mant0_{std::size_t{n_exp_values} << fp_.mant_modelled};
    counter_block mant1_{std::size_t{19 * 19 * 19} << fp_.mant_modelled};

    std::size_t i_ = 0;
    std::size_t next_seg_ = 0;
    std::uint64_t next_start_ = 0; // start of segs_[next_seg_], or ~0
    std::uint32_t K_ = 1, W_ = 1, pos_ = 0, col_ = 0;
    std::uint64_t R_ = 0;
    bool row_ = false; // the segment has rows: the third zero/exponent context is used
    unsigned pc_ = 0;
    unsigned raw_bits_ = 0;
    std::uint32_t raw_mask_ = 0; // the low raw_bits_ bits (up to 32)

    // running state across values
    std::uint32_t run_ = 0;
    int last_zero_ = 0;
    int avg_ = 0; // running mean of log-magnitude classes of nonzero values, 4 fraction bits
    bool seen_nonzero_ = false;
    unsigned eh_ = 0; // predicted_exponent(avg_)
    // How the next zero flag is coded: mixed, by zfast_ (after zero_fast_run nonzero
    // values), by zrun_ (inside a run of zero_run_min or more zeros).
    static constexpr unsigned zmode_mixed = 0, zmode_fast = 1, zmode_run = 2;
    unsigned zmode_ = zmode_mixed;

    // current value
    stage stage_ = stage::zero;
    U cur_ = 0;
    unsigned ehat_ = 0, eset_ = 0;
    unsigned e_ = 0, node_ = 1, mant_done_ = 0, raw_left_ = 0;
    unsigned esc_up_ = 0, esc_len_ = 0, esc_got_ = 0;
    std::uint32_t esc_acc_ = 0;
    unsigned mctx_ = 0;                     // mag_context::mctx of the current value
    unsigned signs_ = 0;                    // sign classes of the last three values, 2 bits each
    std::size_t sbase_ = 0;                 // sign context without the exponent (also the APM's)
    bool noted_ = false;                    // the current value's magnitude is in the running state
    std::size_t ahead_i_ = ~std::size_t{0}; // the value whose contexts ahead_ holds
    mag_context ahead_;
    counter *ze_[n_ze], *ss_[n_sign], *mslots_[n_mant];
    std::size_t zset_ = 0, zapm_ = 0;
    // The pending decision of the prior interface (between predict_p16() and update()).
    mix_step<n_ze + 1> s4_;
    exp_step e4_;
    mix_step<n_sign + 1> s3_;
};

// ---------------------------------------------------------------------------------------
// The model behind the generic prior interface: symbols are the binary decisions (raw
// mantissa bits are decisions of probability 1/2). The codec uses the fast path instead;
// both compute the same probabilities.

class float_prior : public model_prior_i {
  public:
    // values: the chunk's little-endian elements (the decoder passes zeros of the right size).
    // t: f32, f16, bf16 or f64. Throws lmgc::error(internal) for other types.
    static std::unique_ptr<float_prior> make(dtype t, std::span<const std::uint8_t> values,
                                             std::span<const segment> segs, float_params fp);
    // All values coded.
    virtual bool done() const = 0;
    // Encoder side: the symbol the next step codes (from the values given to make()).
    virtual std::size_t next_symbol() const = 0;
    // The values as coded so far (the decoder's output), little-endian.
    virtual void copy_values(std::span<std::uint8_t> out) const = 0;
};

// The trailing mantissa bits that are zero in every value (e.g. bf16 data stored as f32);
// they are not coded.
template <typename F> unsigned common_zero_low_bits(std::span<const typename F::uint> values) {
    typename F::uint acc = 0;
    for (const auto v : values) acc |= v;
    unsigned z = 0;
    while (z < F::man_bits && ((acc >> z) & 1) == 0) ++z;
    return z;
}

} // namespace lmgc::detail::ctxmix
