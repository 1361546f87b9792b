// "fast": a lossless coder of float tensors (f32, f16, bf16, f64) built for speed, near a
// gigabyte per second and core. Each value splits into a symbol (its magnitude class: zero, the
// leading bit of a denormal, or the exponent; and its sign, as agreement with the sign of the
// value a chosen lag back) and raw bits (the mantissa below the class's leading bit). Symbols
// go through tANS tables, one per context (a running level of the recent exponents, and the
// class of the value a lag back), built once per chunk and stored in the payload; raw bits are
// stored as they are. Integer arithmetic only: the same bytes on every CPU and compiler.
// Payload: docs/format.md ("fast" payload); design and measurements: docs/fast.md.
#include "codecs/codec-tans.hpp"
#include "codecs/codec.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <cstring>
#include <type_traits>

// The decoder's second pass has an AVX2 version for 16-bit types, taken where the CPU has AVX2
// (or never, with the codec option simd=0).
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define LMGC_FAST_AVX2 1
#else
#define LMGC_FAST_AVX2 0
#endif

namespace lmgc::detail {
namespace {

using namespace tans;

// Payload versions: 1; 2 where lag classes see the class of a denormal too small for the
// bits they look at (f16 gradients: zero and tiny denormals no longer share a lag class).
constexpr std::uint8_t payload_version_1 = 1, payload_version_2 = 2;
constexpr std::uint8_t mode_coded = 0, mode_stored = 1;

// --- Contexts ------------------------------------------------------------------------------
//
// A class maps to a bucket: 0 for zero, else its distance to the chunk's `center` class,
// clamped to 1..15 (8 = the center). The level state q is 0 at the start of a lane and after
// a zero, else the bucket in half steps, smoothed over about 8 values:
//   q' = 0 if b = 0;  2b if q = 0;  (7q + 2b + 4) >> 3 otherwise   (q' in 2..30).
// On gradients this level predicts the next exponent better than the previous exponent does
// (docs/fast.md), and costs the decoder nothing: each table entry holds the next level,
// computed when the table is built.
//
// With lag classes on, the context is q + 31 * l, l the class of the value `lag` back in the
// lane (the previous kernel row or kernel: conv gradients repeat their magnitudes there):
// 0 none or exponent field 0, 1 below the center, 2 at it, 3 above it.
constexpr unsigned n_levels = 31;
constexpr unsigned n_buckets = 16;
constexpr unsigned lag_classes_max = 4;

struct level_table {
    std::array<std::array<std::uint8_t, n_buckets>, n_levels> next{};
    constexpr level_table() {
        for (unsigned q = 0; q < n_levels; ++q)
            for (unsigned b = 0; b < n_buckets; ++b)
                next[q][b] = static_cast<std::uint8_t>(b == 0   ? 0
                                                       : q == 0 ? 2 * b
                                                                : (7 * q + 2 * b + 4) >> 3);
    }
};
constexpr level_table levels;

// Table sizes 2^table_log: 2^10 slots for large chunks (2^11 gains < 0.03% and doubles the
// decoder's tables), fewer for small ones, and half as many with lag classes: their 4x more
// tables (508 KB of decoder entries at 2^10) missed the L1 cache twice as often (VGG16-BN:
// ~15% faster decoding for a 0.04-0.15% larger payload, docs/fast.md).
constexpr unsigned table_log_min = 5, table_log_max = 10;

// Element formats: exponent and mantissa bits.
template <typename T, unsigned E, unsigned M> struct float_format {
    using uint = T;
    static constexpr unsigned bits = sizeof(T) * 8, exp_bits = E, man_bits = M;
    // Magnitude classes: 0 zero, 1 + p a denormal whose leading mantissa bit is p (0..M-1),
    // M + e a value with exponent field e (1..2^E - 1, infinities and NaNs included).
    static constexpr unsigned n_classes = M + (1u << E);
    // Symbols: 2 * class + (sign XOR the sign `lag` back).
    static constexpr unsigned n_symbols = 2 * n_classes;
    // A decode table entry (u32) holds the symbol (sym_bits), the bits to read (4) and the
    // next state's index, (next level << table_log) + base, in the rest.
    static constexpr unsigned sym_bits = std::bit_width(n_symbols - 1);
    static constexpr unsigned nb_shift = sym_bits, next_shift = sym_bits + 4;
    // Lag classes where that index has room for them and for the trap after them (see the
    // decoder): all types but f64.
    static constexpr bool lag_classes_ok =
        (std::uint64_t{n_levels * lag_classes_max} << table_log_max) < (1ull << (32 - next_shift));
    static constexpr unsigned n_contexts_max = n_levels * (lag_classes_ok ? lag_classes_max : 1);
    // Key = context * n_symbols + symbol: the encoder's per-value code.
    using key =
        std::conditional_t<(n_symbols * n_contexts_max <= 65536), std::uint16_t, std::uint32_t>;
};
using fmt_f32 = float_format<std::uint32_t, 8, 23>;
using fmt_f16 = float_format<std::uint16_t, 5, 10>;
using fmt_bf16 = float_format<std::uint16_t, 8, 7>;
using fmt_f64 = float_format<std::uint64_t, 11, 52>;
static_assert(fmt_f32::lag_classes_ok && fmt_bf16::lag_classes_ok && fmt_f16::lag_classes_ok &&
              !fmt_f64::lag_classes_ok);
static_assert((std::uint64_t{n_levels} << table_log_max) < (1ull << (32 - fmt_f64::next_shift)));

template <typename F> std::array<std::uint8_t, F::n_classes> buckets_for(unsigned center) {
    std::array<std::uint8_t, F::n_classes> b{};
    for (unsigned c = 1; c < F::n_classes; ++c)
        b[c] = static_cast<std::uint8_t>(
            std::clamp(static_cast<int>(c) - static_cast<int>(center) + 8, 1, 15));
    return b;
}

// Lag classes look at the top 10 bits of the magnitude of the value `lag` back (its exponent
// field and, for f16 and its many denormals, part of the mantissa). A nonzero magnitude
// below them (a denormal whose leading bit is under bit lag_index_shift) has index
// lag_index_tiny + its bit width instead (its class): in payload version 1 those entries
// are all lag class 0, as zero's; in version 2 each has its class's.
constexpr unsigned lag_index_bits = 10;
constexpr unsigned lag_index_tiny = 1u << lag_index_bits;
constexpr unsigned lag_index_entries = lag_index_tiny + 64;
template <typename F> constexpr unsigned lag_index_shift = F::bits - 1 - lag_index_bits;
using lag_class_map = std::array<std::uint8_t, lag_index_entries>;

// The smallest magnitude of class c.
template <typename F> typename F::uint smallest_of_class(unsigned c) {
    using U = typename F::uint;
    constexpr unsigned M = F::man_bits;
    return c == 0 ? U(0) : c <= M ? static_cast<U>(U(1) << (c - 1)) : static_cast<U>(U(c - M) << M);
}

// The lag class of each index: 0 for zero (index 0), else the bucket of the smallest
// magnitude with that index, below (1), at (2) or above (3) the center; tiny denormals as
// zero in payload version 1. All 0 without lag classes.
template <typename F>
lag_class_map lag_classes_for(unsigned center, unsigned n_lag, unsigned version) {
    using U = typename F::uint;
    lag_class_map l{};
    if (n_lag == 1) return l;
    const auto bucket = buckets_for<F>(center);
    auto of_class = [&](unsigned cls) {
        const unsigned b = bucket[cls];
        return static_cast<std::uint8_t>(b < 8 ? 1 : b == 8 ? 2 : 3);
    };
    for (unsigned v = 1; v < lag_index_tiny; ++v) {
        const U a = static_cast<U>(U(v) << lag_index_shift<F>);
        l[v] = of_class(a >> F::man_bits
                            ? F::man_bits + static_cast<unsigned>(a >> F::man_bits)
                            : static_cast<unsigned>(std::bit_width(a))); // 1 + leading bit
    }
    if (version >= payload_version_2)
        for (unsigned w = 1; w <= lag_index_shift<F> && w <= F::man_bits; ++w)
            l[lag_index_tiny + w] = of_class(w); // a denormal of bit width w: class w
    return l;
}

// The lag index of magnitude a; `tiny`: whether the chunk's index tells tiny denormals apart
// from zero (where it does not, their entries equal zero's and a >> shift gives the same).
template <typename F, bool tiny = true, typename A> LMGC_FAST_INLINE unsigned lag_index(A a) {
    const unsigned top = static_cast<unsigned>(a >> lag_index_shift<F>);
    if constexpr (tiny)
        return top ? top : lag_index_tiny + static_cast<unsigned>(std::bit_width(a));
    else
        return top;
}

// A sample of a chunk's values for judging lags (see take_lag_sample).
struct lag_sample {
    static constexpr std::size_t run = 32;
    struct value {
        std::uint64_t at;  // its index
        std::uint16_t key; // (level * 4 + 0) * 16 + bucket: the lag class is added
        std::uint8_t sign; // 1 if negative; 2 if zero (no sign to code)
    };
    std::vector<value> values;
};

// Scratch memory kept by each thread between chunks (fresh pages cost more than coding them).
struct scratch {
    std::uint32_t trap_at = 0, trap_entry = 0; // where the decoder's trap region is, what it holds
    std::size_t trap_size = 0;
    std::vector<std::uint16_t> keys16;
    std::vector<std::uint32_t> keys32, hist, dtable, pass_tables;
    std::vector<sym_tt> tt;
    std::vector<std::uint16_t> norm, spread, state_table, present;
    std::vector<std::uint32_t> entries;
    std::vector<std::uint64_t> log2_small;
    std::vector<std::uint16_t> class_table;
    int class_table_for = -1; // its type and zero_low
    lag_sample lag_values;
    std::vector<std::uint32_t> lag_joint;
    bytes raw_bits, tans, desc, stream;
};
scratch& thread_scratch() {
    thread_local scratch s;
    return s;
}

// Per-thread memory of one type (the decoder's per-symbol table).
template <typename T> std::vector<T>& thread_vector() {
    thread_local std::vector<T> v;
    return v;
}

// --- Encoder ------------------------------------------------------------------------------

void encode_stored(byte_span raw, dtype type, bytes& out) {
    byte_writer w(out);
    w.u8(payload_version_1);
    w.u8(static_cast<std::uint8_t>(type));
    w.u8(mode_stored);
    w.raw(raw);
}

// Class of a nonzero magnitude a, and its raw bits (below the leading bit) and their count.
template <typename F> struct classified {
    unsigned cls, nbits;
    std::uint64_t bits;
};
template <typename F>
LMGC_FAST_INLINE classified<F> classify(typename F::uint a, unsigned zero_low) {
    using U = typename F::uint;
    constexpr unsigned M = F::man_bits;
    constexpr U man_mask = (U(1) << M) - 1;
    if (a > man_mask)
        return {M + static_cast<unsigned>(a >> M), M - zero_low,
                static_cast<std::uint64_t>(a & man_mask) >> zero_low};
    const unsigned p = static_cast<unsigned>(std::bit_width(a)) - 1; // a denormal
    return {1 + p, p - zero_low, static_cast<std::uint64_t>((a ^ (U(1) << p)) >> zero_low)};
}

// How the first pass finds a value's class. With branches where normals are the rule; in
// chunks with many denormals (f16 gradients) those branches mispredict, so there a table for
// 16-bit types (~12% fewer instructions than the arithmetic; f16 compression 6-28% faster in
// an alternated A/B) and arithmetic without branches for wider types. The table would cost
// bf16 chunks of normals ~17% more instructions than the branches.
enum class class_way { branches, arithmetic, table };

// How the first pass finds the lag key of a value from the value `lag` back: none (no lag
// classes: level 1, f64, lags under 2; ~4 instructions per value fewer), from its top bits
// (payload version 1), or from its class (version 2).
enum class lag_key_way { none, top_bits, by_class };

// For a 16-bit type, per magnitude a: 2 * class | (raw bits, below the leading bit and above
// zero_low) << 10. Built once per thread, type and zero_low.
template <typename F>
const std::uint16_t* class_table_for(std::vector<std::uint16_t>& table, int& built_for,
                                     unsigned zero_low) {
    using U = typename F::uint;
    static_assert(sizeof(U) == 2 && 2 * F::n_classes <= 1024 && F::man_bits < 64);
    const int key = static_cast<int>(zero_low * 256 + F::man_bits);
    if (built_for != key) {
        table.resize(std::size_t{1} << 15);
        for (unsigned a = 0; a < (1u << 15); ++a) {
            if (!a) {
                table[a] = 0;
                continue;
            }
            const auto cl = classify<F>(static_cast<U>(a), zero_low);
            table[a] = static_cast<std::uint16_t>(2 * cl.cls | cl.nbits << 10);
        }
        built_for = key;
    }
    return table.data();
}

// The encoder's first pass: per value its key (context * S + symbol), the histogram of keys
// and the raw bits. Keys are stored in step order (step j, lane k at 4 * j + k), so that the
// tANS pass walks them with one pointer (a register each lane's pointer would take).
template <typename F> struct first_pass {
    using U = typename F::uint;
    using K = typename F::key;
    static constexpr unsigned M = F::man_bits, W = F::bits;
    static constexpr U sign_bit = U(1) << (W - 1), man_mask = (U(1) << M) - 1;
    // Values are worked on in at least 32 bits (16-bit arithmetic costs zero extensions).
    using A = std::conditional_t<sizeof(U) < 4, std::uint32_t, U>;

    // Both tables in one array, so that one register addresses them: the level after a class
    // (by level * n_classes + class, times S), then the lag key (by the top bits of the value
    // `lag` back: lag class * 31 * S).
    static constexpr std::size_t lag_keys_at = std::size_t{n_levels} * F::n_classes;
    // And for 16-bit types the lag key by 2 * class (+ 1) of the value `lag` back.
    static constexpr std::size_t lag_by_class_at = lag_keys_at + lag_index_entries;
    static constexpr std::size_t tables_size =
        lag_by_class_at + (sizeof(U) == 2 ? 2 * F::n_classes : 0);
    const std::uint8_t* in;
    const std::uint32_t* tables;
    K* keys;
    std::uint32_t* hist;
    unsigned zero_low;
    std::size_t lag; // 0: no lag
    bit_writer raw;
    // by_class: payload version 2 (needs class_table); none: one lag class, every key's is 0.
    lag_key_way lag_key = lag_key_way::top_bits;
    std::uint32_t zero_run = 0; // key 0 (a +0 at level 0) counted apart: it repeats in runs
    std::uint32_t level[n_lanes] = {};
    // 16-bit types: per magnitude, 2 * class | raw bits count << 10 (see class_table_for).
    const std::uint16_t* class_table = nullptr;

    // Codes value i at level c (times S), the value `lag` back being `back` (0 if none);
    // returns the next level. The loops call it with their state in locals: a store through
    // a byte pointer (the raw bits) could alias any object in memory, which would send that
    // state back to memory at every value.
    // `how`: see class_way; `lk`: see lag_key_way.
    template <bool shifted = true, class_way how = class_way::branches,
              lag_key_way lk = lag_key_way::top_bits>
    LMGC_FAST_INLINE static std::uint32_t value(const first_pass& p, const std::uint8_t* at,
                                                std::size_t slot, std::uint32_t c, A back,
                                                bit_writer& w, std::uint32_t& zero_run) {
        const A u = load_le<U>(at);
        const A a = u & static_cast<A>(~A(sign_bit));
        unsigned cls = 0;
        if constexpr (how == class_way::table) {
            const unsigned e = p.class_table[a];
            cls = (e & 0x3ffu) >> 1;
            if constexpr (shifted)
                w.add((a >> p.zero_low) & ((A(1) << (e >> 10)) - 1), e >> 10);
            else
                w.add(a & ((A(1) << (e >> 10)) - 1), e >> 10);
        } else if constexpr (how == class_way::arithmetic) {
            // t: the leading bit's position + 1 (M + 1 for normals, 0 for zero); the raw bits
            // are the bits below position `lead` (for zero: lead = zero_low, no bits).
            const unsigned e = static_cast<unsigned>(a >> M);
            const unsigned t = std::min(static_cast<unsigned>(std::bit_width(a)), M + 1);
            cls = e + t - (e != 0);
            const unsigned lead =
                shifted ? static_cast<unsigned>(
                              std::max(static_cast<int>(t) - 1, static_cast<int>(p.zero_low)))
                        : t - (t != 0);
            const A below = a & ((A(1) << lead) - 1);
            if constexpr (shifted)
                w.add(static_cast<std::uint64_t>(below >> p.zero_low), lead - p.zero_low);
            else
                w.add(below, lead);
        } else if (a > man_mask) {
            cls = M + static_cast<unsigned>(a >> M);
            if constexpr (shifted)
                w.add(static_cast<std::uint64_t>(a & man_mask) >> p.zero_low, M - p.zero_low);
            else
                w.add(a & man_mask, M);
        } else if (a) {
            const auto cl = classify<F>(static_cast<U>(a), p.zero_low);
            cls = cl.cls;
            w.add(cl.bits, cl.nbits);
        }
        // Raw bits are flushed once per (7 + 4 * M <= 63 ? 4 : 7 + 2 * M <= 63 ? 2 : 1) values.
        if constexpr (7 + 2 * M > 63) w.flush();
        const unsigned level_class = c + 2 * cls; // c = level * S, S = 2 * classes
        const A back_a = back & static_cast<A>(~A(sign_bit));
        // Version 2 (by_class, 16-bit types with a class table): the class table gives the
        // class of the value `lag` back, and with it its lag class (arithmetic that tells
        // tiny denormals apart cost ~10 instructions per value more).
        unsigned lag_key = 0;
        if constexpr (lk == lag_key_way::by_class)
            lag_key = p.tables[lag_by_class_at + (p.class_table[back_a] & 0x3ffu)];
        else if constexpr (lk == lag_key_way::top_bits)
            lag_key = p.tables[lag_keys_at + lag_index<F, false>(back_a)];
        const unsigned key = level_class + lag_key + static_cast<unsigned>((u ^ back) >> (W - 1));
        p.keys[slot] = static_cast<K>(key);
        if (key)
            ++p.hist[key];
        else
            ++zero_run;
        return p.tables[level_class >> 1];
    }
    // The value `lag` back from value i, at step j of its lane (0 if none).
    LMGC_FAST_INLINE U back(std::size_t i, std::size_t j) const {
        return lag && j >= lag ? load_le<U>(in + (i - lag) * sizeof(U)) : U(0);
    }

    void one(std::size_t i, std::size_t j, unsigned k) {
        const std::uint8_t* at = in + i * sizeof(U);
        const std::size_t slot = n_lanes * j + k;
        level[k] = lag_key == lag_key_way::by_class
                       ? value<true, class_way::branches, lag_key_way::by_class>(
                             *this, at, slot, level[k], back(i, j), raw, zero_run)
                       : value(*this, at, slot, level[k], back(i, j), raw, zero_run);
        raw.flush();
    }
    // After the values of lanes 0..k of a step.
    LMGC_FAST_INLINE static void flush_after(unsigned k, bit_writer& w) {
        if constexpr (7 + 4 * M <= 63) {
            if (k == 3) w.flush();
        } else if constexpr (7 + 2 * M <= 63) {
            if (k & 1) w.flush();
        }
    }

    // Steps 0..all-1, where every lane has a value.
    void steps(std::size_t q, std::size_t all, class_way how) {
        auto run = [&](auto shifted) {
            constexpr auto top = lag_key_way::top_bits, none = lag_key_way::none;
            if (how == class_way::table) {
                if constexpr (sizeof(U) == 2) {
                    if (lag_key == lag_key_way::by_class)
                        steps_of<shifted(), class_way::table, lag_key_way::by_class>(q, all);
                    else if (lag_key == top)
                        steps_of<shifted(), class_way::table, top>(q, all);
                    else
                        steps_of<shifted(), class_way::table, none>(q, all);
                }
            } else if (how == class_way::arithmetic) {
                lag_key == none ? steps_of<shifted(), class_way::arithmetic, none>(q, all)
                                : steps_of<shifted(), class_way::arithmetic, top>(q, all);
            } else {
                lag_key == none ? steps_of<shifted(), class_way::branches, none>(q, all)
                                : steps_of<shifted(), class_way::branches, top>(q, all);
            }
        };
        if (zero_low)
            run(std::true_type{});
        else
            run(std::false_type{});
    }
    template <bool shifted, class_way how, lag_key_way lk>
    LMGC_FAST_CLONES void steps_of(std::size_t q, std::size_t all) {
        const first_pass p = *this;
        bit_writer w = raw;
        std::uint32_t zeros = 0;
        std::uint32_t c0 = 0, c1 = 0, c2 = 0, c3 = 0;
        const std::size_t from = lag ? std::min(lag, all) : all;
        // Lane k's value at step j: at in_k + j * sizeof(U), the one `lag` back lag_bytes before.
        const std::uint8_t* in0 = in;
        const std::uint8_t* in1 = in + q * sizeof(U);
        const std::uint8_t* in2 = in + 2 * q * sizeof(U);
        const std::uint8_t* in3 = in + 3 * q * sizeof(U);
        for (std::size_t j = 0; j < from; ++j) {
            const std::size_t o = j * sizeof(U);
            c0 = value<shifted, how, lk>(p, in0 + o, 4 * j + 0, c0, 0, w, zeros);
            flush_after(0, w);
            c1 = value<shifted, how, lk>(p, in1 + o, 4 * j + 1, c1, 0, w, zeros);
            flush_after(1, w);
            c2 = value<shifted, how, lk>(p, in2 + o, 4 * j + 2, c2, 0, w, zeros);
            flush_after(2, w);
            c3 = value<shifted, how, lk>(p, in3 + o, 4 * j + 3, c3, 0, w, zeros);
            flush_after(3, w);
        }
        const std::ptrdiff_t lag_bytes = static_cast<std::ptrdiff_t>(lag * sizeof(U));
        auto back_of = [&](const std::uint8_t* at)
                           LMGC_FAST_LAMBDA { return load_le<U>(at - lag_bytes); };
        for (std::size_t j = from; j < all; ++j) {
            const std::size_t o = j * sizeof(U);
            c0 = value<shifted, how, lk>(p, in0 + o, 4 * j + 0, c0, back_of(in0 + o), w, zeros);
            flush_after(0, w);
            c1 = value<shifted, how, lk>(p, in1 + o, 4 * j + 1, c1, back_of(in1 + o), w, zeros);
            flush_after(1, w);
            c2 = value<shifted, how, lk>(p, in2 + o, 4 * j + 2, c2, back_of(in2 + o), w, zeros);
            flush_after(2, w);
            c3 = value<shifted, how, lk>(p, in3 + o, 4 * j + 3, c3, back_of(in3 + o), w, zeros);
            flush_after(3, w);
        }
        level[0] = c0, level[1] = c1, level[2] = c2, level[3] = c3;
        raw = w;
        zero_run += zeros;
    }
};

// log2(x) in 16.16 fixed point, for x > 0, from integers only (repeated squaring), so that
// the encoder's choices are the same on every machine.
std::uint64_t log2_fix(std::uint64_t x) {
    const unsigned e = static_cast<unsigned>(std::bit_width(x)) - 1;
    std::uint64_t m = e >= 30 ? x >> (e - 30) : x << (30 - e); // 1.m in [2^30, 2^31)
    std::uint64_t r = e;
    for (int i = 0; i < 16; ++i) {
        m = (m * m) >> 30;
        r <<= 1;
        if (m >= (1ull << 31)) m >>= 1, r |= 1;
    }
    return r;
}

// One pass over a chunk's values: the OR of all, the largest magnitude, and the smallest
// nonzero magnitude - 1 (all ones if none).
template <typename U> struct value_scan { U all_or, max_a, min_a1; };
template <typename U>
LMGC_FAST_CLONES value_scan<U> scan_values(const std::uint8_t* in, std::size_t n) {
    constexpr U magnitude = static_cast<U>(~U(0)) >> 1;
    U all_or = 0, max_a = 0, min_a1 = static_cast<U>(~U(0));
    for (std::size_t i = 0; i < n; ++i) {
        const U u = load_le<U>(in + i * sizeof(U));
        const U a = u & magnitude;
        all_or |= u;
        max_a = std::max(max_a, a);
        min_a1 = std::min(min_a1, static_cast<U>(a - 1));
    }
    return {all_or, max_a, min_a1};
}

// log2_fix of the small counts, computed once per thread (the estimate below takes thousands
// per chunk, each ~80 instructions).
constexpr std::uint32_t log2_memo_size = 4096;
struct log2_memo {
    std::vector<std::uint64_t>& small; // the thread's, filled at the first use
    std::uint64_t operator()(std::uint64_t x) {
        if (x >= log2_memo_size) return log2_fix(x);
        if (small.empty()) {
            small.resize(log2_memo_size);
            for (std::uint32_t i = 1; i < log2_memo_size; ++i) small[i] = log2_fix(i);
        }
        return small[x];
    }
};

// The symbols a chunk can have: 0 and 1 (zero), and from 2 * lo to hi - 1 (its classes).
struct symbol_range {
    unsigned lo, hi;
    template <typename Fn> void each(Fn&& fn) const {
        fn(0u);
        fn(1u);
        for (unsigned s = lo; s < hi; ++s) fn(s);
    }
};

// Estimated bits of the symbols with the lag classes (hist: 4 * 31 contexts of S symbols) and
// without them (the classes merged), counting each table's description (about 12 bits per
// symbol, 8 per context). True if the classes save more than n / 32 bits.
bool lag_classes_pay(const std::uint32_t* hist, unsigned S, symbol_range syms, std::size_t n,
                     log2_memo& log2_of) {
    std::uint64_t with = 0, without = 0; // in 1/65536 bit
    auto add_context = [&](std::uint64_t& bits, std::uint64_t total, std::uint64_t sum_xlogx,
                           unsigned present) {
        if (total) bits += total * log2_of(total) - sum_xlogx + (12u * present + 8) * 65536;
    };
    for (unsigned q = 0; q < n_levels; ++q) {
        std::uint64_t total1 = 0, xlogx1 = 0;
        unsigned present1 = 0;
        for (unsigned l = 0; l < lag_classes_max; ++l) {
            const std::uint32_t* h = hist + (q + l * n_levels) * S;
            std::uint64_t total = 0, xlogx = 0;
            unsigned present = 0;
            syms.each([&](unsigned s) {
                if (h[s]) total += h[s], xlogx += h[s] * log2_of(h[s]), ++present;
            });
            add_context(with, total, xlogx, present);
        }
        syms.each([&](unsigned s) {
            std::uint64_t c = 0;
            for (unsigned l = 0; l < lag_classes_max; ++l) c += hist[(q + l * n_levels) * S + s];
            if (c) total1 += c, xlogx1 += c * log2_of(c), ++present1;
        });
        add_context(without, total1, xlogx1, present1);
    }
    return with + (std::uint64_t{n} << 16) / 32 < without;
}

// The lag whose sign best predicts a value's sign (signs agree along kernel rows, or between
// neighbouring kernels), from a sample of the chunk; 0 when none predicts well. Integer
// counts only, so the choice is the same everywhere.
template <typename F> std::size_t sign_lag(const std::uint8_t* in, std::size_t n) {
    using U = typename F::uint;
    constexpr unsigned W = F::bits;
    static constexpr std::size_t candidates[] = {1,  2,  3,  4,  5,  6,  7,  8, 9,
                                                 10, 12, 14, 16, 18, 25, 27, 49};
    constexpr std::size_t run = 32, every = 1024, max_lag = 49;
    static_assert(run + max_lag <= 128 && run <= 64 && max_lag < 64);
    std::size_t best = 0, best_score = 0, total = 0;
    std::array<std::size_t, std::size(candidates)> agree{};
    // Per run, the signs of the run and of the max_lag values before it as bits (bit i: value
    // r - max_lag + i), and which values of the run are nonzero: each lag's agreements are
    // then one popcount (~5x fewer instructions than comparing value by value).
    for (std::size_t r = max_lag; r + run <= n; r += every) {
        const std::uint8_t* w = in + (r - max_lag) * sizeof(U);
        std::uint64_t lo = 0, hi = 0, nonzero = 0;
        for (unsigned i = 0; i < 64; ++i)
            lo |= std::uint64_t{static_cast<U>(load_le<U>(w + i * sizeof(U)) >> (W - 1))} << i;
        for (unsigned i = 64; i < max_lag + run; ++i)
            hi |= std::uint64_t{static_cast<U>(load_le<U>(w + i * sizeof(U)) >> (W - 1))}
                  << (i - 64);
        for (unsigned t = 0; t < run; ++t)
            nonzero |=
                std::uint64_t{static_cast<U>(load_le<U>(w + (max_lag + t) * sizeof(U)) << 1) != 0}
                << t;
        total += static_cast<std::size_t>(std::popcount(nonzero));
        // The run's signs start at bit max_lag; those c values back at bit max_lag - c.
        const auto signs_from = [&](unsigned b) {
            return (b ? (lo >> b) | (hi << (64 - b)) : lo) & ((std::uint64_t{1} << run) - 1);
        };
        const std::uint64_t own = signs_from(max_lag);
        for (std::size_t c = 0; c < std::size(candidates); ++c)
            agree[c] += static_cast<std::size_t>(std::popcount(
                ~(own ^ signs_from(static_cast<unsigned>(max_lag - candidates[c]))) & nonzero));
    }
    for (std::size_t c = 0; c < std::size(candidates); ++c) {
        const std::size_t a = agree[c], score = a * 2 > total ? a * 2 - total : total - a * 2;
        if (score > best_score) best = candidates[c], best_score = score;
    }
    // Worth it from 53% agreement (or disagreement: the coder learns either), and only if
    // that is 4 standard deviations away from chance on this sample.
    const bool clear = best_score * 16 >= total && best_score * best_score >= 16 * total;
    return total && clear ? best : 0;
}

// Row lags: a whole row back (conv layers with 64-512 input channels of 3x3 kernels, linear
// layers), where a layer's rows repeat their magnitudes (VGG16's last conv layers); and the
// row of the tensor the chunk is in, if not among them, from 65 values to row_lag_max (the
// samples start there). Kernel lags are the sign's (up to 49, below short_lag_max).
constexpr std::size_t row_lags[] = {512, 576, 768, 1024, 1152, 2048, 2304, 3072, 4096, 4608};
constexpr std::size_t row_lag_max = 4608, short_lag_max = 64;

// Runs of lag_sample::run values, one every `every` values from row_lag_max on, each value
// with the level before it (from 16 values before the run on, as the coder's would be), its
// bucket and its sign.
template <typename F>
void take_lag_sample(const std::uint8_t* in, std::size_t n, std::size_t every,
                     const std::array<std::uint8_t, F::n_classes>& bucket, unsigned zero_low,
                     lag_sample& s) {
    using U = typename F::uint;
    constexpr U magnitude = static_cast<U>(~U(0)) >> 1;
    constexpr std::size_t run = lag_sample::run, warm_up = 16;
    s.values.clear();
    for (std::size_t r = row_lag_max; r + run <= n; r += every) {
        unsigned q = 0;
        for (std::size_t t = r - warm_up; t < r + run; ++t) {
            const U u = load_le<U>(in + t * sizeof(U));
            const U a = u & magnitude;
            const unsigned b = a ? bucket[classify<F>(a, zero_low).cls] : 0;
            if (t >= r)
                s.values.push_back({t, static_cast<std::uint16_t>(q * 4 * n_buckets + b),
                                    static_cast<std::uint8_t>(a ? u >> (F::bits - 1) : 2)});
            q = levels.next[q][b];
        }
    }
}

// Counts the sample against the values `lag` back: into cell(value's key, lag class of the one
// back, the value's index in the sample), and the sign agreements.
struct lag_counts {
    std::uint64_t agree = 0, signed_values = 0;
};
template <typename F, typename Cell>
lag_counts count_lag(const std::uint8_t* in, std::size_t lag, const lag_sample& s,
                     const lag_class_map& lag_class, Cell&& cell) {
    using U = typename F::uint;
    constexpr U magnitude = static_cast<U>(~U(0)) >> 1;
    lag_counts c;
    for (std::size_t i = 0; i < s.values.size(); ++i) {
        const auto v = s.values[i];
        const U b = load_le<U>(in + (v.at - lag) * sizeof(U));
        ++cell(v.key, lag_class[lag_index<F>(static_cast<U>(b & magnitude))], i);
        c.signed_values += v.sign != 2;
        c.agree += v.sign == static_cast<unsigned>(b >> (F::bits - 1));
    }
    return c;
}

// What the sign agreements save, in 1/65536 bit: the values' count minus their entropy.
std::int64_t sign_information(const lag_counts& c, log2_memo& log2_of) {
    auto xlogx = [&](std::uint64_t x) { return x ? x * log2_of(x) : 0; };
    if (!c.signed_values) return 0;
    return static_cast<std::int64_t>(c.signed_values * 65536 + xlogx(c.agree) +
                                     xlogx(c.signed_values - c.agree) - xlogx(c.signed_values));
}

// What the value `lag` back tells about a value on the sample, in 1/65536 bit: its sign's
// agreement, and (lag >= 2: the coder has no lag classes at lag 1) what the lag class saves in
// coding the value's bucket given its level, measured across the two halves of the sample (each
// half's runs coded with the other's counts, add-1/2): with 1984 contexts on a few thousand
// values, the figure within one sample is biased by ~0.1 bit per value, enough to take a row
// lag where it does not pay. Integer arithmetic only, as everywhere in the encoder's choices.
template <typename F>
std::int64_t lag_information(const std::uint8_t* in, std::size_t lag, const lag_sample& s,
                             const lag_class_map& lag_class, std::vector<std::uint32_t>& joint,
                             log2_memo& log2_of) {
    constexpr std::size_t cells = std::size_t{n_levels} * 4 * n_buckets;
    joint.assign(2 * cells, 0); // the counts of even and odd runs
    const std::int64_t sign = sign_information(
        count_lag<F>(in, lag, s, lag_class,
                     [&](unsigned key, unsigned l, std::size_t i) -> std::uint32_t& {
                         return joint[(i / lag_sample::run & 1) * cells + key + n_buckets * l];
                     }),
        log2_of);
    if (lag < 2) return sign;
    // Bits of one half's buckets coded with the other half's counts, with and without the
    // lag class in the context: counts c of a context with total t code a bucket in
    // log2(2t + 16) - log2(2c + 1) bits.
    std::int64_t with = 0, without = 0;
    for (unsigned half = 0; half < 2; ++half) {
        const std::uint32_t* model = joint.data() + (half ^ 1) * cells;
        const std::uint32_t* coded = joint.data() + half * cells;
        for (unsigned q = 0; q < n_levels; ++q) {
            const std::uint32_t* m = model + q * 4 * n_buckets;
            const std::uint32_t* c = coded + q * 4 * n_buckets;
            std::uint64_t m_level = 0, m_row[4] = {};
            for (unsigned l = 0; l < 4; ++l)
                for (unsigned b = 0; b < n_buckets; ++b) m_row[l] += m[l * n_buckets + b];
            for (unsigned l = 0; l < 4; ++l) m_level += m_row[l];
            for (unsigned b = 0; b < n_buckets; ++b) {
                const std::uint64_t m_col = std::uint64_t{m[b]} + m[n_buckets + b] +
                                            m[2 * n_buckets + b] + m[3 * n_buckets + b];
                std::uint64_t c_col = 0;
                for (unsigned l = 0; l < 4; ++l) {
                    const std::uint64_t n = c[l * n_buckets + b];
                    if (!n) continue;
                    c_col += n;
                    with += static_cast<std::int64_t>(n * (log2_of(2 * m_row[l] + n_buckets) -
                                                           log2_of(2 * m[l * n_buckets + b] + 1)));
                }
                if (c_col)
                    without += static_cast<std::int64_t>(
                        c_col * (log2_of(2 * m_level + n_buckets) - log2_of(2 * m_col + 1)));
            }
        }
    }
    return sign + (without - with);
}

// A glance at the same, on a smaller sample: the sign's agreement and the information of the
// lag class about the bucket, within the sample and without the level (64 cells).
template <typename F>
std::int64_t lag_screen(const std::uint8_t* in, std::size_t lag, const lag_sample& s,
                        const lag_class_map& lag_class, log2_memo& log2_of) {
    std::uint32_t joint[4][n_buckets] = {};
    const std::int64_t information =
        sign_information(count_lag<F>(in, lag, s, lag_class,
                                      [&](unsigned key, unsigned l, std::size_t) -> std::uint32_t& {
                                          return joint[l][key % n_buckets];
                                      }),
                         log2_of);
    if (lag < 2) return information;
    auto xlogx = [&](std::uint64_t x) { return x ? x * log2_of(x) : 0; };
    std::uint64_t plus = 0, minus = 0, all = 0, col[n_buckets] = {};
    for (unsigned l = 0; l < 4; ++l) {
        std::uint64_t row = 0;
        for (unsigned b = 0; b < n_buckets; ++b)
            row += joint[l][b], col[b] += joint[l][b], plus += xlogx(joint[l][b]);
        minus += xlogx(row), all += row;
    }
    for (unsigned b = 0; b < n_buckets; ++b) minus += xlogx(col[b]);
    plus += xlogx(all);
    return information + static_cast<std::int64_t>(plus > minus ? plus - minus : 0);
}

// The lag, for the sign and the lag classes: the sign's lag, or a row lag where the value one
// row back tells clearly more. VGG16-BN's last conv layers (rows of 512 kernels of 3x3) repeat
// their magnitudes one row on; there the row lag saves 0.12-0.26 bit per f32 value.
template <typename F>
std::size_t choose_lag(const std::uint8_t* in, std::size_t n, std::size_t tensor_row,
                       const std::array<std::uint8_t, F::n_classes>& bucket, unsigned center,
                       unsigned zero_low, unsigned version, log2_memo& log2_of) {
    const std::size_t short_lag = sign_lag<F>(in, n);
    if constexpr (!F::lag_classes_ok) {
        return short_lag;
    } else {
        const std::size_t lane = n / n_lanes;
        if (lane < 8 * row_lags[0]) return short_lag; // a row lag needs rows in the lane
        auto& sc = thread_scratch();
        auto& sample = sc.lag_values;
        const auto lag_class = lag_classes_for<F>(center, lag_classes_max, version);
        // At a glance (1 value in 512): the row lag that looks best, and whether it looks a
        // tenth of a bit per value better than the short lag. Most chunks stop here.
        take_lag_sample<F>(in, n, 16384, bucket, zero_low, sample);
        std::size_t row_lag = 0;
        std::int64_t row_glance = 0;
        auto glance = [&](std::size_t lag) {
            const std::int64_t i = lag_screen<F>(in, lag, sample, lag_class, log2_of);
            if (i > row_glance) row_lag = lag, row_glance = i;
        };
        for (const std::size_t lag : row_lags) {
            if (lane < 8 * lag) break;
            glance(lag);
        }
        // The row of the tensor the chunk is in, where the list does not have it.
        if (tensor_row > short_lag_max && tensor_row <= row_lag_max && lane >= 8 * tensor_row &&
            std::find(std::begin(row_lags), std::end(row_lags), tensor_row) == std::end(row_lags))
            glance(tensor_row);
        auto tenth_of_a_bit = [&] {
            return static_cast<std::int64_t>(sample.values.size()) * 65536 / 10;
        };
        if (!row_lag ||
            row_glance <=
                tenth_of_a_bit() +
                    (short_lag ? lag_screen<F>(in, short_lag, sample, lag_class, log2_of) : 0))
            return short_lag;
        // A closer look (1 value in 64). The row lag is taken where it tells a tenth of a bit
        // per value more: it takes the short lag's sign agreement away, and the estimate leaves
        // out the lag classes' table descriptions (on the ViT stand-in, row lags estimated at
        // 0.07-0.09 bit lost in fact; on VGG16-BN, estimates from 0.08 gained).
        take_lag_sample<F>(in, n, 2048, bucket, zero_low, sample);
        const std::int64_t short_information =
            short_lag ? lag_information<F>(in, short_lag, sample, lag_class, sc.lag_joint, log2_of)
                      : 0;
        const std::int64_t row_information =
            lag_information<F>(in, row_lag, sample, lag_class, sc.lag_joint, log2_of);
        return row_information > short_information + tenth_of_a_bit() ? row_lag : short_lag;
    }
}

// tANS encoding of steps all-1 down to 0, where every lane has a value.
template <typename K>
LMGC_FAST_CLONES void encode_steps(tans_writer& tw, const K* keys, std::size_t all,
                                   const sym_tt* tt, const std::uint16_t* state_table) {
    encode_whole_steps(tw, keys, all, tt, state_table);
}

template <typename F>
void encode_values(byte_span raw, dtype type, std::size_t row, bool lag_classes, bytes& out) {
    using U = typename F::uint;
    using K = typename F::key;
    constexpr unsigned S = F::n_symbols, M = F::man_bits, W = F::bits;
    constexpr U sign_bit = U(1) << (W - 1), man_mask = (U(1) << M) - 1;
    const std::size_t n = raw.size() / sizeof(U), base = out.size();
    const std::uint8_t* in = raw.data();
    auto& sc = thread_scratch();

    // Low mantissa bits that are zero in every value are not stored. And the range of the
    // symbols (from the smallest and largest nonzero magnitudes), so that the loops over the
    // histograms below skip the symbols no value has.
    const auto [man_or_all, max_a, min_a1] = scan_values<U>(in, n);
    const U man_or = man_or_all & man_mask;
    const unsigned zero_low = man_or ? static_cast<unsigned>(std::countr_zero(man_or)) : M;
    const symbol_range syms =
        max_a ? symbol_range{2 * classify<F>(static_cast<U>(min_a1 + 1), zero_low).cls,
                             2 * classify<F>(max_a, zero_low).cls + 2}
              : symbol_range{2, 2};

    // The center: the median class of the nonzero values in a sample of every 16th value. And
    // whether the first pass takes the class without branches (class_way): from 1 denormal in
    // 32 nonzero values on, their branches would mispredict more than that costs.
    unsigned center = 0;
    bool branchless = false;
    {
        std::array<std::uint32_t, F::n_classes> h{};
        std::uint32_t nonzero = 0;
        for (std::size_t i = 0; i < n; i += 16) {
            const U a = load_le<U>(in + i * sizeof(U)) & static_cast<U>(~sign_bit);
            if (a) ++h[classify<F>(a, zero_low).cls], ++nonzero;
        }
        std::uint32_t acc = 0, denormals = 0;
        for (unsigned c = 1; c <= M; ++c) denormals += h[c];
        branchless = nonzero && denormals * 32 >= nonzero;
        for (unsigned c = 1; c < F::n_classes && nonzero; ++c)
            if ((acc += h[c]) * 2 >= nonzero) {
                center = c;
                break;
            }
    }
    const auto bucket = buckets_for<F>(center);

    // The lag, for the sign and (from 2 on, where the type has room) the lag classes.
    log2_memo log2_of{sc.log2_small};
    // Payload version 2 where lag classes may see denormals below their index's bits, in
    // 16-bit chunks with many denormals (where the first pass has a class table; where
    // denormals are few, version 2 gains little).
    // Without lag classes (level 1) the lag is the sign's alone: the row lags pay through them.
    constexpr U tiny_below = static_cast<U>(U(1) << lag_index_shift<F>);
    const bool has_tiny = lag_classes && sizeof(U) == 2 && branchless && min_a1 + 1 < tiny_below;
    const std::size_t lag =
        lag_classes ? choose_lag<F>(in, n, row, bucket, center, zero_low,
                                    has_tiny ? payload_version_2 : payload_version_1, log2_of)
                    : sign_lag<F>(in, n);
    unsigned n_lag = lag_classes && F::lag_classes_ok && lag >= 2 ? lag_classes_max : 1;
    const bool tiny_lag = n_lag > 1 && has_tiny;

    // One pass, lanes interleaved as the decoder reads them: each value's key (context * S +
    // symbol), the histogram of keys, and the raw bits.
    const lanes ln(n);
    K* keys;
    if constexpr (sizeof(K) == 2)
        keys = grow(sc.keys16, n_lanes * ln.q);
    else
        keys = grow(sc.keys32, n_lanes * ln.q);
    grow(sc.raw_bits, n * sizeof(U) + 16);
    sc.hist.assign(std::size_t{n_levels} * n_lag * S, 0);
    std::uint32_t* hist = sc.hist.data();
    using pass = first_pass<F>;
    std::uint32_t* tables = grow(sc.pass_tables, pass::tables_size);
    for (unsigned q = 0; q < n_levels; ++q)
        for (unsigned cls = 0; cls < F::n_classes; ++cls)
            tables[q * F::n_classes + cls] = levels.next[q][bucket[cls]] * S;
    const auto lag_class =
        lag_classes_for<F>(center, n_lag, tiny_lag ? payload_version_2 : payload_version_1);
    for (unsigned e = 0; e < lag_index_entries; ++e)
        tables[pass::lag_keys_at + e] = lag_class[e] * n_levels * S;
    if constexpr (sizeof(U) == 2)
        for (unsigned c = 0; c < F::n_classes; ++c) {
            // Every magnitude of class c has the lag class of the smallest one.
            tables[pass::lag_by_class_at + 2 * c] = tables[pass::lag_by_class_at + 2 * c + 1] =
                tables[pass::lag_keys_at + lag_index<F>(smallest_of_class<F>(c))];
        }
    pass fp{in, tables, keys, hist, zero_low, lag, bit_writer(sc.raw_bits.data())};
    fp.lag_key = tiny_lag    ? lag_key_way::by_class
                 : n_lag > 1 ? lag_key_way::top_bits
                             : lag_key_way::none;
    const std::size_t all = ln.len[n_lanes - 1];
    class_way how = branchless ? class_way::arithmetic : class_way::branches;
    if constexpr (sizeof(U) == 2) {
        if (branchless) {
            fp.class_table = class_table_for<F>(sc.class_table, sc.class_table_for, zero_low);
            how = class_way::table;
        }
    }
    fp.steps(ln.q, all, how);
    for (std::size_t j = all; j < ln.q; ++j)
        for (unsigned k = 0; k < n_lanes; ++k)
            if (j < ln.len[k]) fp.one(k * ln.q + j, j, k);
    const bit_writer rw = fp.raw;
    hist[0] += fp.zero_run;
    const std::size_t raw_size = static_cast<std::size_t>(rw.end() - sc.raw_bits.data());

    // Lag classes are kept where they pay for their tables and the decoder's extra work
    // (a thirty-second of a bit per value); else the contexts merge back to the levels.
    // The keys keep their lag classes: the merged contexts' encoder entries are copied to them.
    const unsigned key_contexts = n_levels * n_lag;
    if (n_lag > 1 && !lag_classes_pay(hist, S, syms, n, log2_of)) {
        for (unsigned q = 0; q < n_levels; ++q)
            for (unsigned l = 1; l < n_lag; ++l)
                syms.each([&](unsigned s) { hist[q * S + s] += hist[(q + l * n_levels) * S + s]; });
        n_lag = 1;
    }
    const unsigned n_contexts = n_levels * n_lag;

    const unsigned table_log = static_cast<unsigned>(
        std::clamp(static_cast<int>(std::bit_width(n)) - 2, int{table_log_min},
                   int{table_log_max} - (n_lag > 1 ? 1 : 0)));
    const unsigned size = 1u << table_log;

    // Per context: the normalized distribution, its description, the encoder's tables.
    std::array<std::uint8_t, (n_levels * lag_classes_max + 7) / 8> ctx_mask{};
    grow(sc.norm, S);
    grow(sc.spread, size);
    grow(sc.present, S);
    grow(sc.state_table, std::size_t{n_contexts} * size);
    grow(sc.tt, std::size_t{key_contexts} * S);
    grow(sc.desc, std::size_t{n_contexts} * S * 6 + 64);
    std::uint16_t* present = sc.present.data();
    std::uint16_t* norm = sc.norm.data();
    bit_writer dw(sc.desc.data());
    for (unsigned c = 0; c < n_contexts; ++c) {
        const std::uint32_t* h = &hist[c * S];
        std::uint64_t total = 0;
        unsigned n_present = 0;
        syms.each([&](unsigned s) {
            if (h[s]) present[n_present++] = static_cast<std::uint16_t>(s), total += h[s];
        });
        if (!total) continue;
        ctx_mask[c / 8] |= static_cast<std::uint8_t>(1u << (c % 8));
        if (!normalize(h, present, n_present, total, table_log, norm)) {
            out.resize(base); // more symbols than table slots (e.g. random f64 bits)
            return encode_stored(raw, type, out);
        }
        describe(dw, norm, present, n_present, size);
        build_encoder(norm, present, n_present, table_log, c * size, sc.spread.data(),
                      &sc.tt[c * S], &sc.state_table[c * size]);
    }
    const std::size_t desc_size = static_cast<std::size_t>(dw.end() - sc.desc.data());
    for (unsigned c = n_contexts; c < key_contexts; ++c)
        syms.each([&](unsigned s) { sc.tt[c * S + s] = sc.tt[(c % n_levels) * S + s]; });

    // tANS, backwards: the decoder reads the stream from its end.
    grow(sc.tans, (n * table_log_max + 64) / 8 + 32);
    const std::size_t tans_size =
        encode_backwards(sc.tans.data(), ln, keys, sc.tt.data(), sc.state_table.data(), table_log,
                         [](tans_writer& tw, const auto* k, std::size_t whole, const sym_tt* tt,
                            const std::uint16_t* st) { encode_steps(tw, k, whole, tt, st); });

    // The payload.
    const std::size_t tail = raw.size() - n * sizeof(U);
    if (9 + (n_contexts + 7) / 8 + desc_size + tans_size + raw_size + tail > raw.size() + 3)
        return encode_stored(raw, type, out);
    byte_writer w(out);
    w.u8(n_lag > 1 && tiny_lag ? payload_version_2 : payload_version_1);
    w.u8(static_cast<std::uint8_t>(type));
    w.u8(mode_coded);
    w.u8(static_cast<std::uint8_t>(zero_low));
    w.u8(static_cast<std::uint8_t>(table_log));
    w.varint(center);
    w.varint(lag);
    w.u8(static_cast<std::uint8_t>(n_lag));
    w.raw(byte_span(ctx_mask).first((n_contexts + 7) / 8));
    w.varint(desc_size);
    w.raw(byte_span(sc.desc).first(desc_size));
    w.varint(tans_size);
    // insert, not w.raw: its resize zero-fills first (~1.7 instructions per 16-bit value).
    out.insert(out.end(), sc.tans.begin(),
               sc.tans.begin() + static_cast<std::ptrdiff_t>(tans_size));
    out.insert(out.end(), sc.raw_bits.begin(),
               sc.raw_bits.begin() + static_cast<std::ptrdiff_t>(raw_size));
    w.raw(raw.last(tail));
    if (out.size() - base > raw.size() + 3) {
        out.resize(base);
        encode_stored(raw, type, out);
    }
}

// --- Decoder ------------------------------------------------------------------------------

template <typename U> struct symbol_info {
    U base;              // sign, exponent and leading bit of the value
    U mask;              // of its raw bits
    std::uint32_t nbits; // raw bits
};

// The careful path's state: the tables and the position in the raw bits.
template <typename F> struct decode_state {
    using U = typename F::uint;
    const std::uint32_t* dt;         // decode tables, (context << table_log) + state
    const symbol_info<U>* info;      // per symbol
    const std::uint32_t* lag_offset; // per top bits of the value `lag` back, in dt
    const std::uint8_t* rb;          // raw bits
    std::size_t rb_size;
    std::uint64_t pos = 0; // bits of rb read
    unsigned zero_low;
};

// Raw bits are read as one word per group of values (4 for 16-bit types, 2 for f32, 1 for
// f64): 7 + group * (mantissa bits) <= 64.
template <typename U> constexpr unsigned raw_group = sizeof(U) == 2 ? 4 : sizeof(U) == 4 ? 2 : 1;

// A symbol's value without its sign prediction: its base (sign, exponent, leading bit) and
// its raw bits, taken from `word` (which moves on, and pos with it).
template <typename F, bool shifted>
LMGC_FAST_INLINE typename F::uint with_raw_bits(const symbol_info<typename F::uint>& si,
                                                std::uint64_t& word, std::uint64_t& pos,
                                                unsigned zero_low) {
    using U = typename F::uint;
    std::uint64_t raw = word & si.mask;
    if constexpr (shifted) raw <<= zero_low;
    word >>= si.nbits;
    pos += si.nbits;
    return static_cast<U>(si.base | static_cast<U>(raw));
}

// One value: the symbol of lane state x (in the context given by `back`, the value `lag` back,
// when there are lag classes), then its raw bits from `word`, which the caller loaded at pos
// (and which moves on). The decoder's careful path, for the steps its blocks do not take.
template <typename F>
typename F::uint decode_value(const decode_state<F>& ds, tans_reader& br, std::uint32_t& x,
                              typename F::uint back, std::uint64_t& word, std::uint64_t& pos) {
    using U = typename F::uint;
    constexpr U sign_bit = U(1) << (F::bits - 1);
    const std::uint32_t at = x + ds.lag_offset[lag_index<F>(static_cast<U>(back & ~sign_bit))];
    const std::uint32_t e = ds.dt[at];
    x = (e >> F::next_shift) + br.get((e >> F::nb_shift) & 0xF);
    const U v =
        with_raw_bits<F, true>(ds.info[e & ((1u << F::sym_bits) - 1)], word, pos, ds.zero_low);
    return static_cast<U>(v ^ (back & sign_bit));
}

// The decoder's blocks. Without lag classes, one pass does it all: symbols, raw bits and signs of
// `steps` whole steps, lane k's values at out + k * lane_bytes onwards (measured faster than two
// passes there; with lag classes the two passes below are faster). The caller has checked that the
// symbol stream and the raw bits last.
template <typename F, bool signs, bool shifted>
LMGC_FAST_CLONES void decode_one_pass(const std::uint32_t* dt,
                                      const symbol_info<typename F::uint>* info, tans_reader& br_io,
                                      std::uint32_t (&idx)[n_lanes], const std::uint8_t* rb,
                                      std::uint64_t& pos_io, unsigned zero_low, std::uint8_t* out,
                                      std::size_t steps, std::size_t lane_bytes, std::size_t lag) {
    using U = typename F::uint;
    // Everything the loop changes lives in locals: stores through a byte pointer could alias
    // any object in memory, which would force the coder's state back there at every value.
    tans_reader br = br_io;
    std::uint32_t x0 = idx[0], x1 = idx[1], x2 = idx[2], x3 = idx[3];
    std::uint64_t pos = pos_io, word = 0;
    const std::size_t lag_bytes = lag * sizeof(U);
    auto one = [&](std::uint32_t& x, std::uint8_t* to, unsigned k) LMGC_FAST_LAMBDA {
        if (k % raw_group<U> == 0) word = load_le<std::uint64_t>(rb + (pos >> 3)) >> (pos & 7);
        const std::uint32_t e = dt[x];
        x = (e >> F::next_shift) + br.get((e >> F::nb_shift) & 0xF);
        U v = with_raw_bits<F, shifted>(info[e & ((1u << F::sym_bits) - 1)], word, pos, zero_low);
        if constexpr (signs)
            v ^= static_cast<U>(load_le<U>(to - lag_bytes) & U(U(1) << (F::bits - 1)));
        store_le(to, v);
    };
    for (std::size_t t = 0; t < steps; ++t, out += sizeof(U)) {
        one(x0, out, 0);
        one(x1, out + lane_bytes, 1);
        one(x2, out + 2 * lane_bytes, 2);
        one(x3, out + 3 * lane_bytes, 3);
        br.refill_unchecked();
    }
    idx[0] = x0, idx[1] = x1, idx[2] = x2, idx[3] = x3;
    br_io = br;
    pos_io = pos;
}

// With lag classes, two passes, so that each keeps its state in registers. Pass 1: the
// symbols of `steps` whole steps into sym[4 * t + k] (lane k), each with the value's own sign.
// The context of a value comes from the symbol 4 * lag entries back (a value's lag class is a
// function of its class; the caller puts the symbols of the steps before the block in front,
// with their values' signs). The caller has checked that the symbol stream lasts (safe_steps).
template <typename F>
LMGC_FAST_CLONES void decode_symbols(const std::uint32_t* dt, const std::uint32_t* lag_offset,
                                     tans_reader& br_io, std::uint32_t (&idx)[n_lanes],
                                     std::uint32_t* sym, std::size_t steps, std::size_t lag) {
    tans_reader br = br_io;
    std::uint32_t x0 = idx[0], x1 = idx[1], x2 = idx[2], x3 = idx[3];
    const std::uint32_t* back = sym - n_lanes * lag;
    auto one = [&](std::uint32_t& x, unsigned k) LMGC_FAST_LAMBDA {
        const std::uint32_t b = back[k];
        const std::uint32_t e = dt[x + lag_offset[b & ((1u << F::sym_bits) - 1)]];
        x = (e >> F::next_shift) + br.get((e >> F::nb_shift) & 0xF);
        // The whole entry (masking it in pass 2 costs less than here), its symbol's sign bit
        // turned from agreement with the value `lag` back into the value's own sign: the
        // entry `lag` back holds that one's.
        sym[k] = e ^ (b & 1);
    };
    for (std::size_t t = 0; t < steps; ++t, sym += n_lanes, back += n_lanes) {
        one(x0, 0);
        one(x1, 1);
        one(x2, 2);
        one(x3, 3);
        br.refill_unchecked();
    }
    idx[0] = x0, idx[1] = x1, idx[2] = x2, idx[3] = x3;
    br_io = br;
}

// Pass 2: the values of those steps, lane k's at out + k * lane_bytes onwards: the symbol's
// sign, exponent and leading bit, and its raw bits. The caller has checked that the raw bits
// last.
template <typename F, bool shifted>
LMGC_FAST_CLONES void decode_raw(const symbol_info<typename F::uint>* info,
                                 const std::uint32_t* sym, const std::uint8_t* rb,
                                 std::uint64_t& pos_io, unsigned zero_low, std::uint8_t* out,
                                 std::size_t steps, std::size_t lane_bytes) {
    using U = typename F::uint;
    std::uint64_t pos = pos_io, word = 0;
    auto one = [&](std::uint8_t* to, unsigned k) LMGC_FAST_LAMBDA {
        if (k % raw_group<U> == 0) word = load_le<std::uint64_t>(rb + (pos >> 3)) >> (pos & 7);
        store_le(to, with_raw_bits<F, shifted>(info[sym[k] & ((1u << F::sym_bits) - 1)], word, pos,
                                               zero_low));
    };
    for (std::size_t t = 0; t < steps; ++t, sym += n_lanes, out += sizeof(U)) {
        one(out, 0);
        one(out + lane_bytes, 1);
        one(out + 2 * lane_bytes, 2);
        one(out + 3 * lane_bytes, 3);
    }
    pos_io = pos;
}

#if LMGC_FAST_AVX2
// Pass 2 for 16-bit types with AVX2, two steps (8 values) at a time, the same values as
// decode_raw: per value its symbol's info (computed, as decode_values builds its table), the
// raw bits' offsets as a prefix sum of their counts, each value's bits cut from one 16-byte
// window by a byte shuffle and a shift. Stops where the window would pass the raw bits' end;
// returns the steps done (the caller finishes the others with decode_raw).
template <unsigned M, bool shifted>
__attribute__((target("avx2"))) std::size_t
decode_raw16_avx2(std::uint32_t sym_mask, const std::uint32_t* sym, const std::uint8_t* rb,
                  std::size_t rb_size, std::uint64_t& pos_io, unsigned zero_low, std::uint8_t* out,
                  std::size_t steps, std::size_t lane_bytes) {
    const __m256i symbol_mask = _mm256_set1_epi32(static_cast<int>(sym_mask));
    const __m256i one = _mm256_set1_epi32(1), seven = _mm256_set1_epi32(7);
    const __m256i low16 = _mm256_set1_epi32(0xFFFF);
    const __m256i man = _mm256_set1_epi32(M), zl32 = _mm256_set1_epi32(static_cast<int>(zero_low));
    const __m256i man_raw = _mm256_set1_epi32(static_cast<int>(M - zero_low));
    // Each 32-bit lane's low byte to all four of its bytes, then + 0, 1, 2, 3.
    const __m256i spread_byte =
        _mm256_setr_epi8(0, 0, 0, 0, 4, 4, 4, 4, 8, 8, 8, 8, 12, 12, 12, 12, 0, 0, 0, 0, 4, 4, 4, 4,
                         8, 8, 8, 8, 12, 12, 12, 12);
    const __m256i byte_order = _mm256_set1_epi32(0x03020100);
    const __m128i zl = _mm_cvtsi32_si128(static_cast<int>(zero_low));
    std::uint64_t pos = pos_io;
    std::size_t t = 0;
    for (; t + 2 <= steps && (pos >> 3) + 16 <= rb_size; t += 2, sym += 2 * n_lanes) {
        const __m256i s = _mm256_and_si256(
            _mm256_loadu_si256(reinterpret_cast<const __m256i*>(sym)), symbol_mask);
        // decode_values' symbol info, computed: class c = s / 2; zero (c = 0), a denormal's
        // leading bit p = c - 1 (raw bits p - zero_low; nothing but zero where p < zero_low, no
        // such symbol in a stream we write), or exponent c - M (raw bits M - zero_low).
        const __m256i c = _mm256_srli_epi32(s, 1);
        const __m256i normal = _mm256_cmpgt_epi32(c, man);
        const __m256i p = _mm256_sub_epi32(c, one);
        const __m256i denormal = _mm256_andnot_si256(normal, _mm256_cmpgt_epi32(c, zl32));
        const __m256i unused = _mm256_andnot_si256(_mm256_or_si256(normal, denormal),
                                                   _mm256_cmpgt_epi32(c, _mm256_setzero_si256()));
        const __m256i nbits =
            _mm256_or_si256(_mm256_and_si256(normal, man_raw),
                            _mm256_and_si256(denormal, _mm256_sub_epi32(p, zl32)));
        const __m256i info = _mm256_andnot_si256(
            unused, _mm256_or_si256(_mm256_slli_epi32(s, 15),
                                    _mm256_blendv_epi8(
                                        _mm256_sllv_epi32(one, p),
                                        _mm256_slli_epi32(_mm256_sub_epi32(c, man), M), normal)));
        // Inclusive prefix sum of the bit counts across the 8 lanes.
        __m256i sum = _mm256_add_epi32(nbits, _mm256_slli_si256(nbits, 4));
        sum = _mm256_add_epi32(sum, _mm256_slli_si256(sum, 8));
        const __m256i low_total = _mm256_shuffle_epi32(sum, 0xFF);
        sum = _mm256_add_epi32(sum, _mm256_permute2x128_si256(low_total, low_total, 0x08));
        const __m256i at = _mm256_add_epi32(_mm256_sub_epi32(sum, nbits),
                                            _mm256_set1_epi32(static_cast<int>(pos & 7)));
        const __m256i window = _mm256_broadcastsi128_si256(
            _mm_loadu_si128(reinterpret_cast<const __m128i*>(rb + (pos >> 3))));
        const __m256i select = _mm256_add_epi32(
            _mm256_shuffle_epi8(_mm256_srli_epi32(at, 3), spread_byte), byte_order);
        __m256i raw =
            _mm256_srlv_epi32(_mm256_shuffle_epi8(window, select), _mm256_and_si256(at, seven));
        raw = _mm256_and_si256(raw, _mm256_sub_epi32(_mm256_sllv_epi32(one, nbits), one));
        if constexpr (shifted) raw = _mm256_sll_epi32(raw, zl);
        const __m256i v = _mm256_or_si256(_mm256_and_si256(info, low16), raw);
        // Lane k's two values (steps t and t + 1) as one 32-bit word.
        const __m128i pairs = _mm_or_si128(_mm256_castsi256_si128(v),
                                           _mm_slli_epi32(_mm256_extracti128_si256(v, 1), 16));
        std::uint8_t* const to = out + 2 * t;
        store_le(to, static_cast<std::uint32_t>(_mm_cvtsi128_si32(pairs)));
        store_le(to + lane_bytes, static_cast<std::uint32_t>(_mm_extract_epi32(pairs, 1)));
        store_le(to + 2 * lane_bytes, static_cast<std::uint32_t>(_mm_extract_epi32(pairs, 2)));
        store_le(to + 3 * lane_bytes, static_cast<std::uint32_t>(_mm_extract_epi32(pairs, 3)));
        pos += static_cast<std::uint32_t>(_mm256_extract_epi32(sum, 7));
    }
    pos_io = pos;
    return t;
}
#endif

template <typename F>
void decode_values(byte_reader& r, byte_span coded, std::span<std::uint8_t> out, unsigned version,
                   bool simd) {
    using U = typename F::uint;
    constexpr unsigned S = F::n_symbols, M = F::man_bits, W = F::bits;
    const std::size_t n = out.size() / sizeof(U), tail = out.size() - n * sizeof(U);
    LMGC_CHECK(n > 0, errc::corrupt, "fast: coded payload for a chunk without whole values");
    auto& sc = thread_scratch();

    const unsigned zero_low = r.u8();
    LMGC_CHECK(zero_low <= M, errc::corrupt, "fast: zero_low ", zero_low, " is out of range");
    const unsigned table_log = r.u8();
    LMGC_CHECK(table_log >= table_log_min && table_log <= table_log_max, errc::corrupt,
               "fast: table_log ", table_log, " is out of range");
    const unsigned center = static_cast<unsigned>(r.varint_max(F::n_classes - 1, "center"));
    const std::size_t lag = r.varint_max(n, "lag");
    const unsigned n_lag = r.u8();
    LMGC_CHECK(n_lag == 1 || (n_lag == lag_classes_max && F::lag_classes_ok && lag >= 2),
               errc::corrupt, "fast: ", n_lag, " lag classes with lag ", lag);
    LMGC_CHECK(version == payload_version_1 || n_lag > 1, errc::corrupt, "fast: payload version ",
               version, " without lag classes");
    const unsigned n_contexts = n_levels * n_lag;
    const byte_span ctx_mask = r.raw((n_contexts + 7) / 8);
    auto has_table = [&](unsigned c) { return ctx_mask[c / 8] >> (c % 8) & 1; };
    LMGC_CHECK(has_table(0) && (n_contexts % 8 == 0 || ctx_mask.back() >> (n_contexts % 8) == 0),
               errc::corrupt, "fast: bad context mask");
    const byte_span desc = r.raw(r.varint_max(r.remaining(), "table description size"));
    const byte_span stream = r.raw(r.varint_max(r.remaining(), "coded symbols size"));
    LMGC_CHECK(r.remaining() >= tail, errc::corrupt, "fast: payload truncated");
    const byte_span raw_bits = coded.subspan(r.pos(), r.remaining() - tail);
    const byte_span tail_bytes = coded.last(tail);

    // Decode tables: read the distributions, spread them, and precompute each entry's next
    // level. Contexts without a table, and a trap region after the contexts, decode symbol 0
    // and go to the trap's state 0, where a lane stays (whatever lag class is added), so that
    // a lane that gets there fails the final check below. The trap region's contents depend
    // only on the table size and the context count: kept from the previous chunk if they match.
    const unsigned size = 1u << table_log;
    const std::uint32_t trap = (n_contexts << table_log);
    const std::uint32_t trap_entry = trap << F::next_shift;
    const std::size_t trap_size = std::size_t{n_levels * (n_lag - 1) + 1} << table_log;
    grow(sc.dtable, (std::size_t{n_contexts} << table_log) + trap_size);
    if (sc.trap_at != trap || sc.trap_entry != trap_entry || sc.trap_size != trap_size) {
        std::fill_n(&sc.dtable[trap], trap_size, trap_entry);
        sc.trap_at = trap, sc.trap_entry = trap_entry, sc.trap_size = trap_size;
    }
    const auto bucket = buckets_for<F>(center);
    grow(sc.norm, S);
    grow(sc.spread, size);
    grow(sc.present, S);
    std::uint16_t* present = sc.present.data();
    std::uint16_t* norm = sc.norm.data();
    bit_reader dr(desc, "fast");
    for (unsigned c = 0; c < n_contexts; ++c) {
        std::uint32_t* dt = &sc.dtable[std::size_t{c} << table_log];
        if (!has_table(c)) {
            std::fill_n(dt, size, trap_entry);
            continue;
        }
        const unsigned n_present = read_description(dr, S, size, norm, present, "fast");
        spread_symbols(norm, present, n_present, table_log, sc.spread.data());
        const auto& next_level = levels.next[c % n_levels];
        for (unsigned u = 0; u < size; ++u) {
            const unsigned s = sc.spread[u];
            const unsigned xs = norm[s]++;
            const unsigned nb = table_log - highbit(xs);
            const unsigned next =
                (unsigned{next_level[bucket[s >> 1]]} << table_log) + (xs << nb) - size;
            dt[u] = next << F::next_shift | nb << F::nb_shift | s;
        }
    }
    LMGC_CHECK(dr.bytes_used() == desc.size(), errc::corrupt,
               "fast: table description has unused bytes");

    // Per symbol: the value's sign, exponent and leading bit, and its raw bits.
    using sym_info = symbol_info<U>;
    sym_info* info = grow(thread_vector<sym_info>(), S);
    std::fill_n(info, S, sym_info{});
    for (unsigned sign = 0; sign < 2; ++sign) {
        const U sb = static_cast<U>(U(sign) << (W - 1));
        info[sign] = {sb, 0, 0};
        for (unsigned p = zero_low; p < M; ++p)
            info[2 * (1 + p) + sign] = {static_cast<U>(sb | U(1) << p),
                                        static_cast<U>((U(1) << (p - zero_low)) - 1), p - zero_low};
        for (unsigned e = 1; e < (1u << F::exp_bits); ++e)
            info[2 * (M + e) + sign] = {static_cast<U>(sb | U(e) << M),
                                        static_cast<U>((U(1) << (M - zero_low)) - 1), M - zero_low};
    }
    // The SIMD pass (16-bit types with lag classes), where the CPU has AVX2.
    bool simd16 = false;
#if LMGC_FAST_AVX2
    if constexpr (sizeof(U) == 2) simd16 = simd && n_lag > 1 && __builtin_cpu_supports("avx2");
#endif
    // Per lag index of the value `lag` back: its lag class's offset in the tables.
    std::array<std::uint32_t, lag_index_entries> lag_offset{};
    const auto lag_class = lag_classes_for<F>(center, n_lag, version);
    for (unsigned e = 0; e < lag_offset.size(); ++e)
        lag_offset[e] = (lag_class[e] * n_levels) << table_log;

    // The values, four lanes at a time: a symbol from the lane's tANS state, then its raw bits.
    const lanes ln(n);
    tans_reader br(stream, sc.stream, "fast");
    std::uint32_t idx[n_lanes] = {};
    for (unsigned k = 0; k < n_lanes; ++k)
        if (ln.len[k]) idx[k] = br.get(table_log);
    LMGC_CHECK(br.refill(), errc::corrupt, "fast: coded symbols truncated");
    decode_state<F> ds{sc.dtable.data(), info, lag_offset.data(), raw_bits.data(),
                       raw_bits.size(),  0,    zero_low};
    std::uint8_t* const dst = out.data();
    // One step the slow way: any lanes, raw bits loaded byte by byte.
    auto step = [&](std::size_t j) {
        for (unsigned k = 0; k < n_lanes; ++k) {
            if (j >= ln.len[k]) continue;
            const std::size_t i = k * ln.q + j;
            std::uint64_t word = 0;
            const std::size_t at = static_cast<std::size_t>(ds.pos >> 3);
            for (std::size_t b = 0; b < 8 && at + b < ds.rb_size; ++b)
                word |= std::uint64_t{ds.rb[at + b]} << (8 * b);
            word >>= ds.pos & 7;
            const U back = lag && j >= lag ? load_le<U>(dst + (i - lag) * sizeof(U)) : U(0);
            store_le(dst + i * sizeof(U), decode_value<F>(ds, br, idx[k], back, word, ds.pos));
            LMGC_CHECK(ds.pos <= ds.rb_size * 8, errc::corrupt, "fast: raw bits truncated");
        }
        LMGC_CHECK(br.refill(), errc::corrupt, "fast: coded symbols truncated");
    };
    // The first steps (before the lag) the careful way, then blocks of whole steps while the
    // symbols and the raw bits of a block surely last, then the rest the careful way.
    const std::size_t max_bits = M - zero_low;
    const std::size_t all = ln.len[n_lanes - 1];
    std::size_t j = 0;
    for (; j < std::min(lag, all); ++j) step(j);
    // Lag classes look back through the symbols: short lags (kernels, up to 49) through the
    // block's, with the symbols of the steps before it put in front; row lags (512 to 4608)
    // through those of the whole chunk, kept from the first step on.
    constexpr std::size_t block_steps = 2048;
    const std::size_t room = n_lag > 1 ? lag : 0;
    const bool whole = room > short_lag_max;
    if (ds.rb_size >= 8) {
        std::uint32_t* const sym = grow(sc.entries, n_lanes * (whole ? all : room + block_steps));
        std::uint32_t lag_offset_of[S];
        for (unsigned c = 0; c < F::n_classes; ++c) {
            // The smallest magnitude of class c has the lag class of every value of class c.
            lag_offset_of[2 * c] = lag_offset_of[2 * c + 1] =
                lag_offset[lag_index<F>(smallest_of_class<F>(c))];
        }
        const std::uint64_t raw_end = (ds.rb_size - 8) * 8; // word loads stay below
        const std::size_t lane_bytes = ln.q * sizeof(U);
        // The symbols of values already decoded (step j on at most): class and sign.
        auto classes_of = [&](std::size_t from, std::size_t to, std::uint32_t* at) {
            for (std::size_t t = from; t < to; ++t)
                for (unsigned k = 0; k < n_lanes; ++k) {
                    const U v = load_le<U>(dst + (k * ln.q + t) * sizeof(U));
                    const U a = static_cast<U>(v & static_cast<U>(~(U(1) << (W - 1))));
                    at[n_lanes * (t - from) + k] =
                        (a ? 2 * classify<F>(a, zero_low).cls : 0) | unsigned(v >> (W - 1));
                }
        };
        if (whole) classes_of(0, j, sym);
        while (j < all) {
            std::size_t steps =
                std::min({block_steps, all - j, br.safe_steps(n_lanes * table_log)});
            if (max_bits)
                steps =
                    ds.pos > raw_end
                        ? 0
                        : std::min<std::size_t>(steps, (raw_end - ds.pos) / (n_lanes * max_bits));
            if (steps == 0) break;
            if (!whole) classes_of(j - room, j, sym); // the symbols' classes lag back
            std::uint8_t* const to = dst + j * sizeof(U);
            if (n_lag == 1) {
                auto one_pass = [&]<bool signs, bool shifted>() {
                    decode_one_pass<F, signs, shifted>(ds.dt, info, br, idx, ds.rb, ds.pos,
                                                       zero_low, to, steps, lane_bytes, lag);
                };
                if (lag)
                    zero_low ? one_pass.template operator()<true, true>()
                             : one_pass.template operator()<true, false>();
                else
                    zero_low ? one_pass.template operator()<false, true>()
                             : one_pass.template operator()<false, false>();
                j += steps;
                continue;
            }
            std::uint32_t* const block = sym + n_lanes * (whole ? j : room);
            decode_symbols<F>(ds.dt, lag_offset_of, br, idx, block, steps, room);
            std::size_t done = 0;
#if LMGC_FAST_AVX2
            if (simd16) {
                const std::uint32_t sym_mask = (1u << F::sym_bits) - 1;
                done = zero_low
                           ? decode_raw16_avx2<F::man_bits, true>(sym_mask, block, ds.rb,
                                                                  ds.rb_size, ds.pos, zero_low, to,
                                                                  steps, lane_bytes)
                           : decode_raw16_avx2<F::man_bits, false>(sym_mask, block, ds.rb,
                                                                   ds.rb_size, ds.pos, zero_low, to,
                                                                   steps, lane_bytes);
            }
#endif
            const std::uint32_t* const rest = block + n_lanes * done;
            std::uint8_t* const rest_to = to + done * sizeof(U);
            zero_low ? decode_raw<F, true>(info, rest, ds.rb, ds.pos, zero_low, rest_to,
                                           steps - done, lane_bytes)
                     : decode_raw<F, false>(info, rest, ds.rb, ds.pos, zero_low, rest_to,
                                            steps - done, lane_bytes);
            j += steps;
        }
    }
    for (; j < ln.q; ++j) step(j);
    LMGC_CHECK(br.left() == 0, errc::corrupt, "fast: coded symbols damaged (",
               br.left() < 0 ? "read past their start" : "bits left over", ")");
    for (unsigned k = 0; k < n_lanes; ++k)
        LMGC_CHECK((idx[k] & (size - 1)) == 0 && idx[k] < (n_levels << table_log), errc::corrupt,
                   "fast: coded symbols damaged (bad final state)");
    const std::uint64_t pos = ds.pos;
    LMGC_CHECK((pos + 7) / 8 == ds.rb_size, errc::corrupt, "fast: ", ds.rb_size - (pos + 7) / 8,
               " unexpected bytes after the raw bits");
    LMGC_CHECK((pos & 7) == 0 || (ds.rb[ds.rb_size - 1] >> (pos & 7)) == 0, errc::corrupt,
               "fast: raw bits damaged (padding not zero)");
    if (tail) std::memcpy(out.data() + n * sizeof(U), tail_bytes.data(), tail);
}

// The row length (elements of one index of the first dimension) of the tensor that holds most
// of the chunk, if it has two dimensions or more: a candidate for the lag. 0 if none.
std::size_t row_of_chunk(const chunk_layout& layout, std::size_t chunk_bytes) {
    std::uint64_t most = 0;
    std::size_t row = 0;
    const auto chunk = static_cast<std::int64_t>(chunk_bytes);
    for (const auto& t : layout.tensors) {
        const std::int64_t from = std::max<std::int64_t>(t.offset, 0);
        const std::int64_t to =
            std::min<std::int64_t>(t.offset + static_cast<std::int64_t>(t.nbytes), chunk);
        if (to <= from || static_cast<std::uint64_t>(to - from) <= most) continue;
        most = static_cast<std::uint64_t>(to - from);
        std::uint64_t r = 1;
        for (std::size_t d = 1; d < t.shape.size() && r <= (std::uint64_t{1} << 32); ++d)
            r *= static_cast<std::uint64_t>(std::max<std::int64_t>(t.shape[d], 0));
        row =
            t.shape.size() >= 2 && r <= (std::uint64_t{1} << 32) ? static_cast<std::size_t>(r) : 0;
    }
    return row;
}

class codec_fast final : public codec_i {
  public:
    codec_fast(bool lag_classes, bool simd) : lag_classes_(lag_classes), simd_(simd) {}
    // Recorded only where it differs from the default, so that default streams keep their bytes
    // (the decoder needs neither: each payload says whether it has lag classes).
    std::vector<codec_option> params() const override {
        if (lag_classes_) return {};
        return {{"lag_classes", "0"}};
    }

    void encode(byte_span raw, const chunk_layout& layout, bytes& out) const override {
        if (raw.size() < dtype_size(layout.type)) return encode_stored(raw, layout.type, out);
        const std::size_t row = row_of_chunk(layout, raw.size());
        switch (layout.type) {
        case dtype::f32:
            return encode_values<fmt_f32>(raw, layout.type, row, lag_classes_, out);
        case dtype::f16:
            return encode_values<fmt_f16>(raw, layout.type, row, lag_classes_, out);
        case dtype::bf16:
            return encode_values<fmt_bf16>(raw, layout.type, row, lag_classes_, out);
        case dtype::f64:
            return encode_values<fmt_f64>(raw, layout.type, row, lag_classes_, out);
        default:
            break;
        }
        LMGC_FAIL(errc::internal, "fast: ", dtype_name(layout.type), " is not a float type");
    }

    void decode(byte_span coded, const chunk_layout& layout,
                std::span<std::uint8_t> out) const override {
        byte_reader r(coded, errc::corrupt, "fast: payload truncated");
        const auto version = r.u8();
        LMGC_CHECK(version == payload_version_1 || version == payload_version_2, errc::corrupt,
                   "fast: payload version ", int(version), " is not 1 or 2");
        LMGC_CHECK(r.u8() == static_cast<std::uint8_t>(layout.type), errc::corrupt,
                   "fast: payload element type does not match the stream's");
        const auto mode = r.u8();
        if (mode == mode_stored) {
            LMGC_CHECK(version == payload_version_1, errc::corrupt,
                       "fast: stored chunk with payload version ", int(version));
            LMGC_CHECK(r.remaining() == out.size(), errc::corrupt, "fast: stored chunk has ",
                       r.remaining(), " bytes, expected ", out.size());
            if (!out.empty()) std::memcpy(out.data(), coded.data() + r.pos(), out.size());
            return;
        }
        LMGC_CHECK(mode == mode_coded, errc::corrupt, "fast: unknown payload mode ", int(mode));
        switch (layout.type) {
        case dtype::f32:
            return decode_values<fmt_f32>(r, coded, out, version, simd_);
        case dtype::f16:
            return decode_values<fmt_f16>(r, coded, out, version, simd_);
        case dtype::bf16:
            return decode_values<fmt_bf16>(r, coded, out, version, simd_);
        case dtype::f64:
            return decode_values<fmt_f64>(r, coded, out, version, simd_);
        default:
            break;
        }
        LMGC_FAIL(errc::corrupt, "fast: stream of ", dtype_name(layout.type),
                  " values, which fast does not code");
    }

  private:
    bool lag_classes_;
    bool simd_; // the decoder's SIMD pass where the CPU has it (same bytes either way)
};

} // namespace

std::unique_ptr<codec_i> make_codec_fast(const codec_config& cfg) {
    return std::make_unique<codec_fast>(cfg.get_int("lag_classes", 1, 0, 1) != 0,
                                        cfg.get_int("simd", 1, 0, 1) != 0);
}

} // namespace lmgc::detail
