// The cm model of payload version 1, frozen: the decoder keeps it so that streams written
// before version 2 still decode bit-exactly. Never change what it computes (the test
// model_ctxmix.frozen_stream pins its bytes); new work goes into model-ctxmix.hpp. A copy
// of the version-1 primitives (logistic tables, counters, hashing, mixer, APM) lives here
// too, so that the current model can change them freely. Included by codecs/codec-cm.cpp
// and the tests.
#pragma once

#include "model/model-ctxmix.hpp"

namespace lmgc::detail::ctxmix::v1 {

// ---------------------------------------------------------------------------------------
// Table memory: 64-byte aligned, so that a slot is one cache line (not two), and kept by
// the thread for its next model: fresh memory for every chunk (~20 MiB) cost page faults
// and clearing worth ~6% of the coding time. A thread keeps at most 4 blocks.
template <typename T> class table_memory {
    struct freer {
        void operator()(T* p) const { ::operator delete[](p, std::align_val_t{64}); }
    };

  public:
    using block = std::unique_ptr<T[], freer>;
    // A block of n elements, contents unspecified.
    static block take(std::size_t n) {
        auto& pool = spare();
        for (auto it = pool.begin(); it != pool.end(); ++it)
            if (it->first == n) {
                block b = std::move(it->second);
                pool.erase(it);
                return b;
            }
        return block(static_cast<T*>(::operator new[](n * sizeof(T), std::align_val_t{64})));
    }
    static void give(std::size_t n, block b) {
        auto& pool = spare();
        if (pool.size() >= 4) pool.erase(pool.begin());
        pool.emplace_back(n, std::move(b));
    }

  private:
    static std::vector<std::pair<std::size_t, block>>& spare() {
        thread_local std::vector<std::pair<std::size_t, block>> pool;
        return pool;
    }
};

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
// Adaptive bit counters: a 22-bit probability (P(1) * 2^22) in a 32-bit word.
// A fixed rate of 1/16 measured better than count-based rates (1/n, floored): gradients
// drift, and the model restarts at every chunk anyway.

constexpr std::uint32_t counter_init = 1u << 21;
constexpr int counter_shift = 4;

LMGC_CM_INLINE int counter_p12(std::uint32_t v) {
    return static_cast<int>(v >> 10);
}

LMGC_CM_INLINE void counter_update(std::uint32_t& v, int y) {
    const auto p = static_cast<std::int32_t>(v);
    const std::int32_t target = (y << 22) - y; // 2^22 - 1 or 0
    v = static_cast<std::uint32_t>(p + ((target - p) >> counter_shift));
}

// counters of a binary tree over up to 4 bits (node 1 = root). A check mismatch means
// another context owns the slot: it is taken over and reset. A slot's first use resets it
// too; a bitmap marks the slots used, so a new model clears 32 KiB instead of 16 MiB.

class slot_table {
  public:
    explicit slot_table(unsigned bits)
        : mask_((std::uint64_t{1} << bits) - 1), data_(table_memory<std::uint32_t>::take(words())),
          used_((mask_ >> 6) + 1, 0) {}
    slot_table(const slot_table&) = delete;
    slot_table& operator=(const slot_table&) = delete;
    ~slot_table() { table_memory<std::uint32_t>::give(words(), std::move(data_)); }
    // Starts loading the slot of h into the cache (changes nothing).
    void prefetch(std::uint64_t h) const { __builtin_prefetch(&data_[(h & mask_) * 16], 1); }
    std::uint32_t* find(std::uint64_t h) {
        const std::uint64_t i = h & mask_;
        std::uint32_t* s = &data_[i * 16];
        const auto chk = static_cast<std::uint32_t>(h >> 32) | 1u;
        std::uint64_t& u = used_[i >> 6];
        const std::uint64_t bit = std::uint64_t{1} << (i & 63);
        if (!(u & bit) || s[0] != chk) {
            u |= bit;
            s[0] = chk;
            for (int k = 1; k < 16; ++k) s[k] = counter_init;
        }
        return s;
    }

  private:
    std::size_t words() const { return (mask_ + 1) * 16; }
    std::uint64_t mask_;
    table_memory<std::uint32_t>::block data_;
    std::vector<std::uint64_t> used_;
};

// Hashed counters without check, for decisions with one or few counters per context.
class counter_table {
  public:
    explicit counter_table(unsigned bits)
        : mask_((std::uint64_t{1} << bits) - 1),
          data_(table_memory<std::uint32_t>::take(mask_ + 1)) {
        std::fill(data_.get(), data_.get() + mask_ + 1, counter_init);
    }
    counter_table(const counter_table&) = delete;
    counter_table& operator=(const counter_table&) = delete;
    ~counter_table() { table_memory<std::uint32_t>::give(mask_ + 1, std::move(data_)); }
    std::uint32_t* at(std::uint64_t h) { return &data_[h & mask_]; }

  private:
    std::uint64_t mask_;
    table_memory<std::uint32_t>::block data_;
};

// Hash of a context key (small fields packed into one word): low bits pick the slot, high
// bits are its check value.
inline std::uint64_t key(std::uint64_t k) {
    k *= 0x9E3779B97F4A7C15ull;
    k ^= k >> 29;
    k *= 0xBF58476D1CE4E5B9ull;
    k ^= k >> 32;
    return k;
}

// ---------------------------------------------------------------------------------------
// Logistic mixer: p = squash(sum_i w_i * stretch(p_i)), weights (16.16 fixed point) chosen
// by a small context and trained online to reduce coding cost.

template <int N> class mixer {
  public:
    static constexpr int skip_below = 256;
    mixer(int n_sets, int lr) : w_(static_cast<std::size_t>(n_sets) * N, 65536 * 3 / 10), lr_(lr) {}
    int x[N] = {};
    // Mixes the inputs in x with weight set `set`; returns a 12-bit probability.
    LMGC_CM_INLINE int mix(int set) {
        cw_ = &w_[static_cast<std::size_t>(set) * N];
        std::int64_t dot = 0;
        for (int i = 0; i < N; ++i) dot += static_cast<std::int64_t>(x[i]) * cw_[i];
        st_ = static_cast<int>(dot >> 16);
        st_ = st_ < -2047 ? -2047 : (st_ > 2047 ? 2047 : st_);
        pr_ = squash(st_);
        return pr_;
    }
    int last_stretch() const { return st_; }
    LMGC_CM_INLINE void update(int y) {
        const int e = (y << 12) - pr_;
        // A confident, right prediction teaches little: skip the update (saves time).
        if (e > -skip_below && e < skip_below) return;
        const int err = e * lr_;
        for (int i = 0; i < N; ++i) {
            std::int32_t w = cw_[i] + ((x[i] * err + 512) >> 10);
            cw_[i] = w < -(1 << 22) ? -(1 << 22) : (w > (1 << 22) ? (1 << 22) : w);
        }
    }

  private:
    std::vector<std::int32_t> w_;
    std::int32_t* cw_ = nullptr;
    int lr_;
    int pr_ = 2048;
    int st_ = 0;
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

// The model. Drive it with code_values() (the fast path, any coder with the io shape
// below) or decision by decision through predict_p16()/update() (the prior interface); both
// compute the same probabilities.
//
// A value is coded as: zero flag; for a zero, its sign; else the exponent relative to a
// predicted one (r = e - ê: "r = 0?", "r > 0?", then |r| in unary up to a cap, then an
// escape with an Elias-gamma code), the sign, the top mantissa bits, the other mantissa bits
// raw. Each context owns one 64-byte slot per value, so a value touches few cache lines.
template <typename F> class float_model {
  public:
    using U = typename F::uint;

    // values: the chunk's values; the encoder passes them all, the decoder a buffer it
    // fills (the model reads only values before the current one and writes the current one
    // when it is complete).
    float_model(U* values, std::size_t n, std::span<const segment> segs, float_params fp)
        : vals_(values), n_(n), segs_(segs.begin(), segs.end()), fp_(fp), tab_(table_bits(n)),
          ctab_(table_bits(n) + 2), mz_(27, 6), me_(16 * 4, 3), ms_(32, 4), mm_(16, 4), az_(256),
          as_(4096) {
        if (segs_.empty() || segs_.front().start != 0) segs_.insert(segs_.begin(), segment{});
        raw_bits_ = F::man_bits - fp_.zero_low - fp_.mant_modelled;
        for (auto& c : esc_) c = counter_init;
        start_value();
    }

    // Codes values up to index `upto`. io.bit(p16, y, field) codes bit y with
    // P(1) = p16 / 65536 and returns it (a decoder ignores y and returns the decoded bit);
    // field names the part of the value (0 zero flag, 1 sign of a zero, 2 exponent, 3 sign,
    // 4 mantissa) for diagnostics. io.raw(v, n) codes n <= 24 raw bits and returns them.
    template <typename IO> LMGC_CM_INLINE void code_values(IO& io, std::size_t upto) {
        if (upto > n_) upto = n_;
        while (i_ < upto) {
            const U v = IO::decoding ? U{0} : vals_[i_];
            const int z = io.bit(p_zero(), (v & F::abs_mask) == 0, 0);
            u_zero(z);
            if (z) {
                u_zsign(io.bit(p_zsign(), static_cast<int>(v >> F::sign_shift), 1));
                continue;
            }
            while (stage_ == stage::exp) u_exp(io.bit(p_exp(), exp_bit(v), 2));
            while (stage_ == stage::esc) u_esc(io.bit(p_esc(), IO::decoding ? 0 : esc_bit(v), 2));
            if (stage_ == stage::esc_raw) {
                const unsigned nb = esc_len_;
                u_esc_raw(io.raw(IO::decoding ? 0u : esc_raw_bits(v), nb), nb);
            }
            u_sign(io.bit(p_sign(), static_cast<int>(v >> F::sign_shift), 3));
            while (stage_ == stage::mant)
                u_mant(io.bit(p_mant(), static_cast<int>((v >> (F::man_bits - 1 - mant_done_)) & 1),
                              4));
            for (unsigned left = raw_bits_; left > 0;) {
                const unsigned take = left > 24 ? 24 : left;
                left -= take;
                const U mask = static_cast<U>((U{1} << take) - 1);
                const auto r =
                    io.raw(static_cast<std::uint32_t>((v >> (fp_.zero_low + left)) & mask), take);
                u_raw(static_cast<U>(r), take);
            }
        }
    }

    // --- decision-by-decision interface ------------------------------------------------
    bool done() const { return i_ >= n_; }
    // P(next decision = 1) in units of 2^-16, within [1, 65535].
    int predict_p16() {
        switch (stage_) {
        case stage::zero:
            return p_zero();
        case stage::zsign:
            return p_zsign();
        case stage::exp:
            return p_exp();
        case stage::esc:
            return p_esc();
        case stage::esc_raw:
            return 32768;
        case stage::sign:
            return p_sign();
        case stage::mant:
            return p_mant();
        case stage::raw:
            return 32768;
        }
        return 32768;
    }
    void update(int y) {
        switch (stage_) {
        case stage::zero:
            return u_zero(y);
        case stage::zsign:
            return u_zsign(y);
        case stage::exp:
            return u_exp(y);
        case stage::esc:
            return u_esc(y);
        case stage::esc_raw:
            return u_esc_raw(static_cast<unsigned>(y), 1);
        case stage::sign:
            return u_sign(y);
        case stage::mant:
            return u_mant(y);
        case stage::raw:
            return u_raw(static_cast<U>(y), 1);
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
            return exp_bit(v);
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
    static constexpr std::uint64_t none = 0xFFFF;
    static constexpr int n_ze = 4, n_sign = 2, n_mant = 2;
    // Unary exponent steps before the escape, above and below the prediction.
    static constexpr unsigned cap_up = 6, cap_down = 6;
    static constexpr std::uint32_t zero_fast_run = 32;
    static constexpr unsigned n_exp_values = 1u << F::exp_bits;

    static unsigned table_bits(std::size_t n) {
        unsigned b = 12;
        while (b < 18 && (std::uint64_t{1} << b) < n) ++b;
        return b;
    }

    // A neighbour's exponent relative to the prediction, clamped: 0..16 (8 = equal),
    // 17 zero, 18 no such neighbour.
    LMGC_CM_INLINE static unsigned rel(std::uint64_t l, unsigned eh) {
        const int d = static_cast<int>(l) - 1 - static_cast<int>(eh);
        const auto r = static_cast<unsigned>((d < -8 ? -8 : (d > 8 ? 8 : d)) + 8);
        return l == none ? 18u : (l == 0 ? 17u : r);
    }

    // ---- per value: geometry and contexts ----------------------------------------------
    // The predicted exponent: the running mean of recent log-magnitudes, rounded.
    LMGC_CM_INLINE static unsigned predicted_exponent(int avg) {
        const int eh = ((avg + 8) >> 4) - 1;
        return static_cast<unsigned>(eh < 0 ? 0
                                            : (eh >= int(n_exp_values) ? n_exp_values - 1 : eh));
    }

    // The keys of the zero flag and exponent slots of value i at kernel position pos and
    // column col, from the magnitudes of earlier values (bits 0..11 of feat_) and the
    // running state (avg_, run_). Zero flag and exponent share each context's slot: word 1
    // the zero flag, words 2..15 the exponent nodes 1..14. Keys pack small fields into
    // one word.
    LMGC_CM_INLINE void slot_keys(std::size_t i, std::uint32_t pos, std::uint32_t col,
                                  std::uint64_t* out) const {
        const std::uint16_t* f = &feat_[i + 3];
        const bool has_up = pos >= W_ && i >= W_;
        const bool has_k = K_ > 1 && i >= K_;
        const bool has_r = R_ > 0 && i >= R_;
        const unsigned eh = predicted_exponent(avg_);
        const std::uint64_t frac = static_cast<unsigned>(avg_ & 15) >> 2;
        const unsigned la = f[-1] & 4095u, lb = f[-2] & 4095u, lc = f[-3] & 4095u;
        const std::uint64_t lup = has_up ? f[-std::ptrdiff_t(W_)] & 4095u : none;
        const std::uint64_t lleft = col > 0 ? la : none;
        const std::uint64_t lk = has_k ? f[-std::ptrdiff_t(K_)] & 4095u : none;
        const std::uint64_t lr = has_r ? f[-std::ptrdiff_t(R_)] & 4095u : none;
        const std::uint64_t ra = rel(la, eh), rb = rel(lb, eh), rc = rel(lc, eh),
                            rup = rel(lup, eh), rleft = rel(lleft, eh), rk = rel(lk, eh),
                            rr = rel(lr, eh);
        const std::uint64_t pc = K_ <= 25 ? pos : 26 + 2 * has_up + (col > 0);
        const std::uint64_t run =
            la != 0 ? 0 : (run_ < 16 ? run_ : (run_ < 64 ? 16 + (run_ >> 4) : 20 + (run_ >= 1024)));
        out[0] = key(1 | rup << 8 | rleft << 13 | pc << 18);
        out[1] = key(2 | rr << 8 | rk << 13 | frac << 18);
        out[2] = key(3 | ra << 8 | rb << 13 | rc << 18 | run << 23);
        out[3] = key(4 | ra << 8 | std::uint64_t{eh} << 13);
    }

    void next_segment() {
        while (next_seg_ < segs_.size() && segs_[next_seg_].start <= i_) {
            const segment& s = segs_[next_seg_++];
            K_ = s.kernel;
            W_ = s.width;
            R_ = s.row;
            pos_ = static_cast<std::uint32_t>((i_ - s.start + s.phase) % K_);
            col_ = pos_ % W_;
        }
        next_start_ = next_seg_ < segs_.size() ? segs_[next_seg_].start : ~std::uint64_t{0};
    }

    LMGC_CM_INLINE void start_value() {
        stage_ = stage::zero; // also after the last value: the drivers' loops must stop
        if (i_ >= n_) return;
        if (i_ >= next_start_) next_segment();
        const std::size_t i = i_;
        // Features of earlier values (feat_ has 3 zero entries in front: index i + 3).
        const std::uint16_t* f = &feat_[i + 3];
        const unsigned a = f[-1], b = f[-2], c = f[-3];
        const bool has_up = pos_ >= W_ && i >= W_;
        const bool has_left = col_ > 0;
        const unsigned up = has_up ? f[-std::ptrdiff_t(W_)] : 0u;
        const bool has_k = K_ > 1 && i >= K_;
        const unsigned kp = has_k ? f[-std::ptrdiff_t(K_)] : 0u;

        ehat_ = predicted_exponent(avg_);
        // The slot keys were computed (and their slots prefetched) one value ahead when the
        // geometry allowed it (set_exponent()).
        if (ahead_i_ != i) slot_keys(i, pos_, col_, ahead_);
        for (int j = 0; j < n_ze; ++j) ze_[j] = tab_.find(ahead_[j]);

        const unsigned la = a & 4095, lb = b & 4095, lc = c & 4095;
        const std::uint64_t lup = has_up ? up & 4095 : none;
        const std::uint64_t lleft = has_left ? la : none;
        const std::uint64_t lk = has_k ? kp & 4095 : none;
        ra_ = rel(la, ehat_);
        const std::uint64_t rleft = rel(lleft, ehat_);
        const std::uint64_t za = la == 0, zb = lb == 0, zc = lc == 0;
        // Position class: the kernel position for small kernels, else (has up, has left).
        pc_ = K_ <= 25 ? pos_ : 26 + 2 * has_up + has_left;
        const std::uint64_t pc = pc_;
        const std::uint64_t ra = ra_;
        if (!zero_fast()) { // only the mixed zero flag reads these
            const unsigned zup = has_up ? (lup == 0) : 2u, zk = has_k ? (lk == 0) : 2u;
            zset_ = za + 2 * zk + 6 * zup;
            zapm_ = za | zb << 1 | zc << 2 | zup << 3 | zk << 5;
        }
        eset_ = ra_ == 8 ? 0u : (ra_ < 8 ? 1u : (ra_ <= 16 ? 2u : 3u));

        // sign (slots found once the exponent is known)
        const std::uint64_t sa = a >> 12 & 3, sup = has_up ? up >> 12 & 3 : 3u,
                            sk = has_k ? kp >> 12 & 3 : 3u;
        skey_[0] =
            22 | sa << 8 | std::uint64_t{b >> 12 & 3} << 10 | std::uint64_t{c >> 12 & 3} << 12;
        skey_[1] = 24 | sa << 8 | sk << 10 | sup << 12 | pc << 14;
        sapm_ = (pc_ < 30 ? pc_ : 30) * 64 + sa * 16 + sup * 4 + sk;
        as_.prefetch(sapm_);

        // mantissa (slots found once the exponent is known)
        mkey_[0] = 31;
        mkey_[1] = 32 | ra << 8 | rleft << 13;

        stage_ = stage::zero;
        cur_ = 0;
    }

    // The running state (zero runs, mean magnitude) takes in a value's log-magnitude class.
    LMGC_CM_INLINE void note_magnitude(unsigned l) {
        const int is_zero = l == 0;
        if (is_zero == last_zero_)
            ++run_;
        else
            run_ = 1, last_zero_ = is_zero;
        if (!is_zero) {
            if (!seen_nonzero_) avg_ = static_cast<int>(l) * 16, seen_nonzero_ = true;
            avg_ += (static_cast<int>(l) * 16 - avg_ + 4) >> 3;
        }
    }

    LMGC_CM_INLINE void end_value() {
        const U v = cur_;
        vals_[i_] = v; // the decoder's output; for the encoder, its input unchanged
        // Features: log-magnitude class l (0 zero, 1 + exponent otherwise) and sign class
        // (0 zero, 1 positive, 2 negative). A nonzero value's magnitude was noted by
        // set_exponent().
        const unsigned l = noted_ ? e_ + 1 : 0;
        const unsigned sg = l ? 1 + static_cast<unsigned>(v >> F::sign_shift) : 0u;
        feat_[i_ + 3] = static_cast<std::uint16_t>(l | sg << 12);
        if (!noted_) note_magnitude(0);
        noted_ = false;
        ++i_;
        if (++col_ == W_) col_ = 0;
        if (++pos_ == K_) pos_ = 0, col_ = 0;
        start_value();
    }

    // ---- the decisions -----------------------------------------------------------------
    static int to_p16(int p16) { return p16 < 32 ? 32 : (p16 > 65504 ? 65504 : p16); }

    int finish(int pr12, int st, apm& a, std::size_t actx, int mixw) {
        const int pa = a.pp(st, actx);
        return to_p16((pr12 * 16 * mixw + pa * (4 - mixw)) >> 2);
    }

    // Far from any zero (dense data), the zero flag is a single adaptive counter: it costs
    // almost nothing either way, and mixing it would cost time.
    bool zero_fast() const { return last_zero_ == 0 && run_ >= zero_fast_run; }
    LMGC_CM_INLINE int p_zero() {
        if (zero_fast()) return to_p16(counter_p12(zfast_) * 16 + 8);
        for (int j = 0; j < n_ze; ++j) mz_.x[j] = stretch(counter_p12(ze_[j][1]));
        mz_.x[n_ze] = 256;
        const int pr = mz_.mix(static_cast<int>(zset_));
        return finish(pr, mz_.last_stretch(), az_, zapm_, 1);
    }
    LMGC_CM_INLINE void u_zero(int y) {
        if (zero_fast()) {
            counter_update(zfast_, y);
        } else {
            for (int j = 0; j < n_ze; ++j) counter_update(ze_[j][1], y);
            mz_.update(y);
            az_.update(y, 6);
        }
        if (y) {
            stage_ = stage::zsign;
        } else {
            stage_ = stage::exp;
            node_ = 1;
        }
    }

    LMGC_CM_INLINE int p_zsign() { return to_p16(counter_p12(zsign_) * 16 + 8); }
    LMGC_CM_INLINE void u_zsign(int y) {
        counter_update(zsign_, y);
        cur_ = static_cast<U>(static_cast<U>(y) << F::sign_shift);
        end_value();
    }

    // Exponent nodes: 1 "r = 0?", 2 "r > 0?", 3..8 "r = k?" (k = 1..6), 9..14 "r = -k?"
    // (k = 1..6); after the last step the escape codes the rest.
    int exp_bit(U v) const {
        const int e = static_cast<int>((v >> F::man_bits) & F::exp_mask);
        const int r = e - static_cast<int>(ehat_);
        if (node_ == 1) return r == 0;
        if (node_ == 2) return r > 0;
        const int k = node_ <= 8 ? static_cast<int>(node_) - 2 : static_cast<int>(node_) - 8;
        return (r < 0 ? -r : r) == k;
    }
    LMGC_CM_INLINE int p_exp() {
        for (int j = 0; j < n_ze; ++j) me_.x[j] = stretch(counter_p12(ze_[j][node_ + 1]));
        me_.x[n_ze] = 256;
        const int pr = me_.mix(static_cast<int>(node_ * 4 + eset_));
        return to_p16(pr * 16 + 8);
    }
    LMGC_CM_INLINE void u_exp(int y) {
        for (int j = 0; j < n_ze; ++j) counter_update(ze_[j][node_ + 1], y);
        me_.update(y);
        int r = 0;
        if (node_ == 1) {
            if (y) return set_exponent(static_cast<int>(ehat_));
            node_ = 2;
            return;
        }
        if (node_ == 2) {
            node_ = y ? 3 : 9;
            return;
        }
        if (y) {
            r = node_ <= 8 ? static_cast<int>(node_) - 2 : -(static_cast<int>(node_) - 8);
            return set_exponent(static_cast<int>(ehat_) + r);
        }
        if (node_ == 8 || node_ == 14) {
            esc_up_ = node_ == 8;
            esc_len_ = 0;
            stage_ = stage::esc;
            return;
        }
        ++node_;
    }

    // Escape: t = |r| - cap - 1 >= 0 as Elias gamma: the bit length of t + 1 in unary
    // (modelled), then its low bits raw.
    unsigned esc_t(U v) const {
        const int e = static_cast<int>((v >> F::man_bits) & F::exp_mask);
        const int r = e - static_cast<int>(ehat_);
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
    int p_esc() { return to_p16(counter_p12(esc_[esc_up_ * 16 + esc_len_]) * 16 + 8); }
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
        int e = static_cast<int>(ehat_) + (esc_up_ ? mag : -mag);
        // Only a corrupt stream leaves the range; keep the model's indices in bounds.
        if (e < 0 || e >= int(n_exp_values)) e = static_cast<int>(ehat_);
        set_exponent(e);
    }

    LMGC_CM_INLINE void set_exponent(int e) {
        e_ = static_cast<unsigned>(e);
        cur_ = static_cast<U>(static_cast<U>(e_) << F::man_bits);
        stage_ = stage::sign;
        const std::uint64_t re = rel(e_ + 1, ehat_);
        for (int j = 0; j + 1 < n_sign; ++j) ss_[j] = ctab_.at(key(skey_[j]));
        ss_[n_sign - 1] = ctab_.at(key(skey_[n_sign - 1] | re << 19));
        if (fp_.mant_modelled > 0) {
            const std::uint64_t le = e_ + 1;
            for (int j = 0; j < n_mant; ++j) {
                mslots_[j] = ctab_.at(key(mkey_[j] | le << 20) & ~std::uint64_t{15});
                __builtin_prefetch(mslots_[j], 1);
            }
        }
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
            slot_keys(nx, pos, col, ahead_);
            ahead_i_ = nx;
            for (int j = 0; j < n_ze; ++j) tab_.prefetch(ahead_[j]);
        }
    }

    LMGC_CM_INLINE int p_sign() {
        for (int j = 0; j < n_sign; ++j) ms_.x[j] = stretch(counter_p12(*ss_[j]));
        ms_.x[n_sign] = 256;
        const int pr = ms_.mix(static_cast<int>(pc_ < 31 ? pc_ : 31));
        return finish(pr, ms_.last_stretch(), as_, sapm_, 2);
    }
    LMGC_CM_INLINE void u_sign(int y) {
        for (int j = 0; j < n_sign; ++j) counter_update(*ss_[j], y);
        ms_.update(y);
        as_.update(y, 7);
        cur_ |= static_cast<U>(static_cast<U>(y) << F::sign_shift);
        if (fp_.mant_modelled > 0) {
            stage_ = stage::mant;
            mant_done_ = 0;
            node_ = 1;
        } else {
            start_raw();
        }
    }

    LMGC_CM_INLINE int p_mant() {
        for (int j = 0; j < n_mant; ++j) mm_.x[j] = stretch(counter_p12(mslots_[j][node_]));
        mm_.x[n_mant] = 256;
        const int pr = mm_.mix(static_cast<int>(node_));
        return to_p16(pr * 16 + 8);
    }
    LMGC_CM_INLINE void u_mant(int y) {
        for (int j = 0; j < n_mant; ++j) counter_update(mslots_[j][node_], y);
        mm_.update(y);
        node_ = node_ * 2 + static_cast<unsigned>(y);
        ++mant_done_;
        if (mant_done_ == fp_.mant_modelled) {
            cur_ |= static_cast<U>(static_cast<U>(node_ - (1u << mant_done_))
                                   << (F::man_bits - mant_done_));
            start_raw();
        }
    }

    LMGC_CM_INLINE void start_raw() {
        raw_left_ = raw_bits_;
        if (raw_left_ == 0) {
            end_value();
        } else {
            stage_ = stage::raw;
        }
    }
    // n raw bits (most significant first) arrive.
    LMGC_CM_INLINE void u_raw(U bits, unsigned n) {
        raw_left_ -= n;
        cur_ |= static_cast<U>(bits << (fp_.zero_low + raw_left_));
        if (raw_left_ == 0) end_value();
    }

    U* vals_;
    std::size_t n_;
    // Per coded value: log-magnitude class (bits 0..11), sign class (bits 12..13).
    // Zero-filled and taken only as written (a lazy buffer: see model-ctxmix.hpp).
    lazy_buffer feat_buf_{(n_ + 3) * sizeof(std::uint16_t)};
    std::uint16_t* feat_ = reinterpret_cast<std::uint16_t*>(feat_buf_.span().data());
    std::vector<segment> segs_;
    float_params fp_;
    slot_table tab_;
    counter_table ctab_;
    mixer<n_ze + 1> mz_;
    mixer<n_ze + 1> me_;
    mixer<n_sign + 1> ms_;
    mixer<n_mant + 1> mm_;
    apm az_, as_;
    std::uint32_t zsign_ = counter_init, zfast_ = counter_init;
    std::uint32_t esc_[32];

    std::size_t i_ = 0;
    std::size_t next_seg_ = 0;
    std::uint64_t next_start_ = 0; // start of segs_[next_seg_], or ~0
    std::uint64_t R_ = 0;
    std::uint32_t K_ = 1, W_ = 1, pos_ = 0, col_ = 0;
    unsigned pc_ = 0;
    unsigned raw_bits_ = 0;

    // running state across values
    std::uint32_t run_ = 0;
    int last_zero_ = 0;
    int avg_ = 0; // running mean of log-magnitude classes of nonzero values, 4 fraction bits
    bool seen_nonzero_ = false;

    // current value
    stage stage_ = stage::zero;
    U cur_ = 0;
    unsigned ehat_ = 0, ra_ = 0, eset_ = 0;
    unsigned e_ = 0, node_ = 1, mant_done_ = 0, raw_left_ = 0;
    unsigned esc_up_ = 0, esc_len_ = 0, esc_got_ = 0;
    std::uint32_t esc_acc_ = 0;
    std::uint64_t skey_[n_sign], mkey_[n_mant];
    bool noted_ = false;                    // the current value's magnitude is in the running state
    std::size_t ahead_i_ = ~std::size_t{0}; // the value whose slot keys ahead_ holds
    std::uint64_t ahead_[n_ze];
    std::uint32_t *ze_[n_ze], *ss_[n_sign], *mslots_[n_mant];
    std::size_t zset_ = 0, zapm_ = 0, sapm_ = 0;
};

} // namespace lmgc::detail::ctxmix::v1
