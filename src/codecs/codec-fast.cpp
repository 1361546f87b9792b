// "fast": a lossless coder of float tensors (f32, f16, bf16, f64) built for speed, about a
// gigabyte per second and core. Each value splits into a magnitude class (+0, -0, the leading
// bit of a denormal, or the exponent) and raw bits (the sign and the mantissa below the
// class's leading bit). The classes go through tANS tables, one per state of a running level
// of the recent exponents (a zero resets it), built once per chunk and stored in the payload;
// the raw bits are stored as they are. Integer arithmetic only: the same bytes on every CPU
// and compiler. Payload: docs/format.md ("fast" payload); design and measurements: docs/fast.md.
#include "codecs/codec.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <cstring>

namespace lmgc::detail {
namespace {

constexpr std::uint8_t payload_version = 1;
constexpr std::uint8_t mode_coded = 0, mode_stored = 1;

// Element formats: total bits, exponent bits, mantissa bits.
template <typename T, unsigned E, unsigned M> struct float_format {
    using uint = T;
    static constexpr unsigned bits = sizeof(T) * 8, exp_bits = E, man_bits = M;
    // Classes: 0 is +0, 1 is -0, 2 + p a denormal whose leading mantissa bit is p (0..M-1),
    // M + 1 + e a value with exponent field e (1..2^E - 1, infinities and NaNs included).
    static constexpr unsigned n_symbols = M + (1u << E) + 1;
};
using fmt_f32 = float_format<std::uint32_t, 8, 23>;
using fmt_f16 = float_format<std::uint16_t, 5, 10>;
using fmt_bf16 = float_format<std::uint16_t, 8, 7>;
using fmt_f64 = float_format<std::uint64_t, 11, 52>;

// --- Context: a running level of the exponents -------------------------------------------
//
// A class maps to a bucket: 0 for +-0, else its distance to the chunk's `center` class,
// clamped to 1..15 (8 = the center). The level state q is 0 at the start of a lane and after
// a zero, else the bucket in half steps, smoothed over about 8 values:
//   q' = 0 if b = 0;  2b if q = 0;  (7q + 2b + 4) >> 3 otherwise   (q' in 2..30).
// Each state has its own table. Measured on ConvNet gradients, this level beats the previous
// value's exponent as a context (docs/fast.md) and costs the decoder nothing: a table entry
// holds the next state, precomputed when the table is built.
constexpr unsigned n_contexts = 31;
constexpr unsigned n_buckets = 16;

struct level_table {
    std::array<std::array<std::uint8_t, n_buckets>, n_contexts> next{};
    constexpr level_table() {
        for (unsigned q = 0; q < n_contexts; ++q)
            for (unsigned b = 0; b < n_buckets; ++b)
                next[q][b] = static_cast<std::uint8_t>(b == 0   ? 0
                                                       : q == 0 ? 2 * b
                                                                : (7 * q + 2 * b + 4) >> 3);
    }
};
constexpr level_table levels;

unsigned bucket_of(unsigned sym, unsigned center) {
    if (sym < 2) return 0;
    const int d = static_cast<int>(sym) - static_cast<int>(center) + 8;
    return static_cast<unsigned>(std::clamp(d, 1, 15));
}

// --- tANS (FSE-style tables) ---------------------------------------------------------------

constexpr unsigned table_log_min = 5, table_log_max = 11, table_log_big = 11;
constexpr unsigned n_lanes = 4;
// A decode table entry: bits 0-11 the class, 12-15 bits to read, 16-31 the next state's index
// (next context << table_log) + base. A context without a table decodes to `sym_trap`.
constexpr std::uint32_t sym_trap = 0xFFF;

unsigned highbit(std::uint32_t v) { // v > 0
    return static_cast<unsigned>(std::bit_width(v)) - 1;
}

// The order tANS states visit the table: FSE's spread (a step coprime with the size).
void spread_symbols(const std::uint16_t* norm, const std::uint16_t* present, unsigned n_present,
                    unsigned table_log, std::uint16_t* spread) {
    const unsigned size = 1u << table_log, mask = size - 1;
    const unsigned step = (size >> 1) + (size >> 3) + 3;
    unsigned pos = 0;
    for (unsigned i = 0; i < n_present; ++i) {
        const unsigned s = present[i];
        for (unsigned k = 0; k < norm[s]; ++k) {
            spread[pos] = static_cast<std::uint16_t>(s);
            pos = (pos + step) & mask;
        }
    }
}

// Scales counts (sum `total` > 0) to a distribution that sums to 2^table_log and gives every
// present class at least 1. Returns false if there are more classes than table slots.
bool normalize(const std::uint32_t* count, const std::uint16_t* present, unsigned n_present,
               std::uint64_t total, unsigned table_log, std::uint16_t* norm) {
    const std::uint64_t size = 1u << table_log;
    if (n_present > size) return false;
    std::int64_t sum = 0;
    for (unsigned i = 0; i < n_present; ++i) {
        const unsigned s = present[i];
        const std::uint64_t f = std::max<std::uint64_t>(1, (count[s] * size + total / 2) / total);
        norm[s] = static_cast<std::uint16_t>(f);
        sum += static_cast<std::int64_t>(f);
    }
    std::int64_t diff = static_cast<std::int64_t>(size) - sum;
    while (diff != 0) { // rounding: the largest class absorbs the difference
        unsigned best = present[0];
        for (unsigned i = 1; i < n_present; ++i)
            if (norm[present[i]] > norm[best]) best = present[i];
        const std::int64_t take = diff > 0 ? diff : -std::min<std::int64_t>(-diff, norm[best] - 1);
        LMGC_ASSERT(take != 0);
        norm[best] = static_cast<std::uint16_t>(norm[best] + take);
        diff -= take;
    }
    return true;
}

// Forward bit writer (LSB first) for the table descriptions and the raw bits.
class bit_writer {
  public:
    explicit bit_writer(std::uint8_t* p) : p_(p) {}
    void put(std::uint64_t v, unsigned n) { // v < 2^n, n <= 56
        acc_ |= v << n_;
        n_ += n;
        store_le(p_, acc_);
        p_ += n_ >> 3;
        acc_ >>= n_ & ~7u;
        n_ &= 7;
    }
    // Exp-Golomb order 0: v + 1 in w bits is sent as w - 1 zeros, a one, then its w - 1 low bits.
    void put_eg(std::uint32_t v) {
        const unsigned w = static_cast<unsigned>(std::bit_width(v + 1));
        put(std::uint64_t{1} << (w - 1), w);
        put((v + 1) & ((1u << (w - 1)) - 1), w - 1);
    }
    // Bytes written, the partial last byte included. The writer stores 8 bytes at a time:
    // its buffer needs 8 bytes of slack.
    std::uint8_t* end() const { return p_ + (n_ ? 1 : 0); }

  private:
    std::uint8_t* p_;
    std::uint64_t acc_ = 0;
    unsigned n_ = 0;
};

// Forward bit reader over untrusted bytes: every overrun is an error.
class bit_reader {
  public:
    explicit bit_reader(byte_span in) : in_(in) {}
    std::uint32_t get(unsigned n) { // n <= 32
        std::uint32_t v = 0;
        for (unsigned k = 0; k < n; ++k, ++pos_) {
            LMGC_CHECK(pos_ < in_.size() * 8, errc::corrupt, "fast: table description truncated");
            v |= static_cast<std::uint32_t>((in_[pos_ >> 3] >> (pos_ & 7)) & 1) << k;
        }
        return v;
    }
    std::uint32_t get_eg() {
        unsigned zeros = 0;
        while (get(1) == 0) LMGC_CHECK(++zeros < 32, errc::corrupt, "fast: bad table description");
        return ((1u << zeros) | get(zeros)) - 1;
    }
    std::size_t bytes_used() const { return (pos_ + 7) / 8; }

  private:
    byte_span in_;
    std::size_t pos_ = 0;
};

// Backward bit reader of the tANS stream (read from its end, like zstd's): reads from a copy
// with 8 zero bytes in front, so its 8-byte loads stay in bounds whatever the stream says.
class tans_reader {
  public:
    explicit tans_reader(byte_span stream) : buf_(stream.size() + 8, 0) {
        LMGC_CHECK(!stream.empty() && stream.back() != 0, errc::corrupt,
                   "fast: coded classes lack their end mark");
        std::memcpy(buf_.data() + 8, stream.data(), stream.size());
        pos_ = static_cast<std::ptrdiff_t>(stream.size());
        acc_ = load_le<std::uint64_t>(buf_.data() + pos_);
        used_ = 8 - highbit(stream.back()); // the end mark and the zeros above it
    }
    std::uint32_t get(unsigned n) { // n <= 11; at most 56 bits between two refills
        const auto v = static_cast<std::uint32_t>(((acc_ << used_) >> 1) >> (63 - n));
        used_ += n;
        return v;
    }
    void refill() {
        pos_ -= used_ >> 3;
        used_ &= 7;
        LMGC_CHECK(pos_ >= 0, errc::corrupt, "fast: coded classes truncated");
        acc_ = load_le<std::uint64_t>(buf_.data() + pos_);
    }
    // Bits of the stream not read yet (negative once it read into the zeros in front).
    std::int64_t left() const { return (pos_ - 8) * 8 + 64 - static_cast<std::int64_t>(used_); }

  private:
    bytes buf_;
    std::ptrdiff_t pos_;
    std::uint64_t acc_;
    unsigned used_;
};

// The chunk's lanes: n values cut into 4 runs of q = ceil(n / 4) (the last ones shorter or
// empty), coded with one tANS state each, interleaved in one stream so that a decoder follows
// four independent chains.
struct lanes {
    std::size_t q, len[n_lanes];
    explicit lanes(std::size_t n) : q((n + n_lanes - 1) / n_lanes) {
        for (unsigned k = 0; k < n_lanes; ++k) len[k] = std::min(q, n - std::min(n, k * q));
    }
};

// Scratch memory kept by each thread between chunks (fresh pages cost more than the coding).
struct sym_tt {
    std::int32_t delta_find_state;
    std::uint32_t delta_nb_bits;
};

struct scratch {
    std::vector<std::uint16_t> sym;
    std::vector<sym_tt> tt;
    std::vector<std::uint8_t> ctx;
    std::vector<std::uint32_t> hist, dtable;
    std::vector<std::uint16_t> norm, spread, state_table;
    bytes raw_bits, tans;
};
scratch& thread_scratch() {
    thread_local scratch s;
    return s;
}

template <typename T> void grow(std::vector<T>& v, std::size_t n) {
    if (v.size() < n) v.resize(n);
}

// --- Encoder ------------------------------------------------------------------------------

void encode_stored(byte_span raw, dtype type, bytes& out) {
    byte_writer w(out);
    w.u8(payload_version);
    w.u8(static_cast<std::uint8_t>(type));
    w.u8(mode_stored);
    w.raw(raw);
}

template <typename F> void encode_values(byte_span raw, dtype type, bytes& out) {
    using U = typename F::uint;
    constexpr unsigned S = F::n_symbols, M = F::man_bits, W = F::bits;
    constexpr U sign_bit = U(1) << (W - 1), man_mask = (U(1) << M) - 1;
    const std::size_t n = raw.size() / sizeof(U), base = out.size();
    auto& sc = thread_scratch();

    // Low mantissa bits that are zero in every value are not stored.
    U man_or = 0;
    for (std::size_t i = 0; i < n; ++i) man_or |= load_le<U>(raw.data() + i * sizeof(U));
    man_or &= man_mask;
    const unsigned zero_low = man_or ? static_cast<unsigned>(std::countr_zero(man_or)) : M;

    // Pass 1: classes, raw bits, class histogram.
    grow(sc.sym, n);
    grow(sc.raw_bits, n * sizeof(U) + 16);
    std::array<std::uint32_t, S> hist0{};
    bit_writer rw(sc.raw_bits.data());
    for (std::size_t i = 0; i < n; ++i) {
        const U u = load_le<U>(raw.data() + i * sizeof(U));
        const U a = u & static_cast<U>(~sign_bit);
        const std::uint64_t sign = u >> (W - 1);
        unsigned s;
        if (a == 0) {
            s = static_cast<unsigned>(sign);
        } else if (a <= man_mask) { // denormal: the leading bit is the class
            const unsigned p = static_cast<unsigned>(std::bit_width(a)) - 1;
            s = 2 + p;
            rw.put(static_cast<std::uint64_t>((a ^ (U(1) << p)) >> zero_low) << 1 | sign,
                   p - zero_low + 1);
        } else {
            s = M + 1 + static_cast<unsigned>(a >> M);
            rw.put(static_cast<std::uint64_t>((a & man_mask) >> zero_low) << 1 | sign,
                   M - zero_low + 1);
        }
        sc.sym[i] = static_cast<std::uint16_t>(s);
        ++hist0[s];
    }
    const std::size_t raw_size = static_cast<std::size_t>(rw.end() - sc.raw_bits.data());

    // The center: the median class of the nonzero values.
    unsigned center = 0;
    {
        std::uint64_t nonzero = 0, acc = 0;
        for (unsigned s = 2; s < S; ++s) nonzero += hist0[s];
        for (unsigned s = 2; s < S && nonzero; ++s)
            if ((acc += hist0[s]) * 2 >= nonzero) {
                center = s;
                break;
            }
    }
    std::array<std::uint8_t, S> bucket{};
    for (unsigned s = 0; s < S; ++s) bucket[s] = static_cast<std::uint8_t>(bucket_of(s, center));

    // Pass 2: the context of each value, histograms per context.
    const lanes ln(n);
    grow(sc.ctx, n);
    sc.hist.assign(std::size_t{n_contexts} * S, 0);
    std::array<std::uint64_t, n_contexts> ctx_total{};
    for (unsigned k = 0; k < n_lanes; ++k) {
        unsigned c = 0;
        for (std::size_t i = k * ln.q, end = i + ln.len[k]; i < end; ++i) {
            const unsigned s = sc.sym[i];
            sc.ctx[i] = static_cast<std::uint8_t>(c);
            ++sc.hist[c * S + s];
            c = levels.next[c][bucket[s]];
        }
    }
    for (unsigned c = 0; c < n_contexts; ++c)
        for (unsigned s = 0; s < S; ++s) ctx_total[c] += sc.hist[c * S + s];

    // Table size: 2^11 slots, fewer for small chunks (their tables would cost more than
    // they save).
    const unsigned table_log = static_cast<unsigned>(std::clamp(
        static_cast<int>(std::bit_width(n)) - 2, int{table_log_min}, int{table_log_big}));
    const unsigned size = 1u << table_log;

    // Normalized tables, their description, and the encoder's tables.
    std::uint32_t ctx_mask = 0;
    grow(sc.norm, std::size_t{n_contexts} * S);
    grow(sc.spread, size);
    grow(sc.state_table, std::size_t{n_contexts} * size);
    auto& tt = sc.tt;
    grow(tt, std::size_t{n_contexts} * S);
    std::vector<std::uint16_t> present(S);
    bytes desc(std::size_t{n_contexts} * (S * 48 / 8 + 16) + 16);
    bit_writer dw(desc.data());
    for (unsigned c = 0; c < n_contexts; ++c) {
        if (!ctx_total[c]) continue;
        ctx_mask |= 1u << c;
        const std::uint32_t* h = &sc.hist[c * S];
        std::uint16_t* norm = &sc.norm[c * S];
        unsigned n_present = 0;
        for (unsigned s = 0; s < S; ++s)
            if (h[s]) present[n_present++] = static_cast<std::uint16_t>(s);
        if (!normalize(h, present.data(), n_present, ctx_total[c], table_log, norm)) {
            out.resize(base); // more classes than table slots (e.g. random f64 bits)
            return encode_stored(raw, type, out);
        }
        // Description: count - 1, then per class the gap to the previous one and its share
        // (the last share is what is left).
        dw.put_eg(n_present - 1);
        unsigned left = size, prev = 0;
        for (unsigned i = 0; i < n_present; ++i) {
            const unsigned s = present[i];
            dw.put_eg(s - prev);
            prev = s + 1;
            if (i + 1 < n_present) {
                const unsigned max_f = left - (n_present - 1 - i);
                dw.put(norm[s] - 1u, static_cast<unsigned>(std::bit_width(max_f - 1)));
                left -= norm[s];
            }
        }
        // Encoder tables (FSE's layout).
        spread_symbols(norm, present.data(), n_present, table_log, sc.spread.data());
        std::uint16_t* st = &sc.state_table[c * size];
        std::array<std::uint32_t, S> cum{};
        unsigned total = 0;
        for (unsigned i = 0; i < n_present; ++i) {
            const unsigned s = present[i], f = norm[s];
            cum[s] = total;
            sym_tt& t = tt[c * S + s];
            if (f == 1) {
                t.delta_nb_bits = (table_log << 16) - size;
                t.delta_find_state = static_cast<std::int32_t>(total) - 1;
            } else {
                const unsigned max_bits = table_log - highbit(f - 1);
                t.delta_nb_bits = (max_bits << 16) - (f << max_bits);
                t.delta_find_state =
                    static_cast<std::int32_t>(total) - static_cast<std::int32_t>(f);
            }
            total += f;
        }
        for (unsigned u = 0; u < size; ++u)
            st[cum[sc.spread[u]]++] = static_cast<std::uint16_t>(size + u);
    }
    const std::size_t desc_size = static_cast<std::size_t>(dw.end() - desc.data());

    // tANS, backwards: the decoder reads the stream from its end, lane 0 first in each step.
    grow(sc.tans, (n * table_log_max + 64) / 8 + 32);
    std::uint8_t* tp = sc.tans.data();
    std::uint64_t acc = 0;
    unsigned nacc = 0;
    auto put = [&](std::uint32_t v, unsigned nb) {
        acc |= std::uint64_t{v} << nacc;
        nacc += nb;
    };
    auto flush = [&] {
        store_le(tp, acc);
        tp += nacc >> 3;
        acc >>= nacc & ~7u;
        nacc &= 7;
    };
    std::uint32_t x[n_lanes] = {size, size, size, size};
    for (std::size_t j = ln.q; j-- > 0;) {
        for (unsigned k = n_lanes; k-- > 0;) {
            if (j >= ln.len[k]) continue;
            const std::size_t i = k * ln.q + j;
            const unsigned c = sc.ctx[i];
            const sym_tt t = tt[c * S + sc.sym[i]];
            const unsigned nb = (x[k] + t.delta_nb_bits) >> 16;
            put(x[k] & ((1u << nb) - 1), nb);
            x[k] = sc.state_table[c * size +
                                  static_cast<std::size_t>(static_cast<std::int32_t>(x[k] >> nb) +
                                                           t.delta_find_state)];
        }
        flush();
    }
    for (unsigned k = n_lanes; k-- > 0;)
        if (ln.len[k]) put(x[k] - size, table_log);
    flush();
    put(1, 1); // end mark
    flush();
    const std::size_t tans_size = static_cast<std::size_t>(tp - sc.tans.data()) + (nacc ? 1 : 0);

    // The payload.
    const std::size_t tail = raw.size() - n * sizeof(U);
    byte_writer w(out);
    w.u8(payload_version);
    w.u8(static_cast<std::uint8_t>(type));
    w.u8(mode_coded);
    w.u8(static_cast<std::uint8_t>(zero_low));
    w.u8(static_cast<std::uint8_t>(table_log));
    w.varint(center);
    w.le<std::uint32_t>(ctx_mask);
    w.varint(desc_size);
    w.raw(byte_span(desc).first(desc_size));
    w.varint(tans_size);
    w.raw(byte_span(sc.tans).first(tans_size));
    w.raw(byte_span(sc.raw_bits).first(raw_size));
    w.raw(raw.last(tail));
    if (out.size() - base > raw.size() + 3) {
        out.resize(base);
        encode_stored(raw, type, out);
    }
}

// --- Decoder ------------------------------------------------------------------------------

template <typename F>
void decode_values(byte_reader& r, byte_span coded, std::span<std::uint8_t> out) {
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
    const unsigned center = static_cast<unsigned>(r.varint_max(S - 1, "center"));
    const std::uint32_t ctx_mask = r.le<std::uint32_t>();
    LMGC_CHECK(ctx_mask >> n_contexts == 0 && (ctx_mask & 1), errc::corrupt,
               "fast: bad context mask");
    const byte_span desc = r.raw(r.varint_max(r.remaining(), "table description size"));
    const byte_span stream = r.raw(r.varint_max(r.remaining(), "coded classes size"));
    LMGC_CHECK(r.remaining() >= tail, errc::corrupt, "fast: payload truncated");
    const byte_span raw_bits = coded.subspan(r.pos(), r.remaining() - tail);
    const byte_span tail_bytes = coded.last(tail);

    // Decode tables: read the distributions, spread them, and precompute each entry's next
    // state. Contexts without a table decode to the trap class.
    const unsigned size = 1u << table_log;
    std::array<std::uint8_t, S> bucket{};
    for (unsigned s = 0; s < S; ++s) bucket[s] = static_cast<std::uint8_t>(bucket_of(s, center));
    grow(sc.dtable, std::size_t{n_contexts} << table_log);
    grow(sc.norm, S);
    grow(sc.spread, size);
    std::vector<std::uint16_t> present(std::min(S, size));
    std::array<std::uint32_t, S> next{};
    bit_reader dr(desc);
    for (unsigned c = 0; c < n_contexts; ++c) {
        std::uint32_t* dt = &sc.dtable[std::size_t{c} << table_log];
        if (!(ctx_mask >> c & 1)) {
            std::fill_n(dt, size, sym_trap);
            continue;
        }
        const std::uint32_t n_present = dr.get_eg() + 1;
        LMGC_CHECK(n_present <= std::min(S, size), errc::corrupt, "fast: table of context ", c,
                   " lists ", n_present, " classes");
        unsigned left = size, prev = 0;
        for (unsigned i = 0; i < n_present; ++i) {
            const std::uint32_t gap = dr.get_eg();
            LMGC_CHECK(gap < S - prev, errc::corrupt, "fast: class out of range in a table");
            const unsigned s = prev + gap;
            prev = s + 1;
            present[i] = static_cast<std::uint16_t>(s);
            unsigned f = left;
            if (i + 1 < n_present) {
                const unsigned max_f = left - (n_present - 1 - i);
                f = dr.get(static_cast<unsigned>(std::bit_width(max_f - 1))) + 1;
                LMGC_CHECK(f <= max_f, errc::corrupt, "fast: bad class share in a table");
                left -= f;
            }
            sc.norm[s] = static_cast<std::uint16_t>(f);
            next[s] = f;
        }
        spread_symbols(sc.norm.data(), present.data(), n_present, table_log, sc.spread.data());
        for (unsigned u = 0; u < size; ++u) {
            const unsigned s = sc.spread[u];
            const unsigned xs = next[s]++;
            const unsigned nb = table_log - highbit(xs);
            const unsigned state = (xs << nb) - size;
            const unsigned to = (unsigned{levels.next[c][bucket[s]]} << table_log) + state;
            dt[u] = to << 16 | nb << 12 | s;
        }
    }
    LMGC_CHECK(dr.bytes_used() == desc.size(), errc::corrupt,
               "fast: table description has unused bytes");

    // Phase 1: the classes, four lanes at a time.
    const lanes ln(n);
    grow(sc.sym, n_lanes * ln.q);
    std::uint16_t* sym = sc.sym.data();
    tans_reader br(stream);
    const std::uint32_t* dt = sc.dtable.data();
    std::uint32_t idx[n_lanes] = {};
    for (unsigned k = 0; k < n_lanes; ++k)
        if (ln.len[k]) idx[k] = br.get(table_log);
    br.refill();
    const std::size_t all = ln.len[n_lanes - 1];
    std::uint16_t* o[n_lanes] = {sym, sym + ln.q, sym + 2 * ln.q, sym + 3 * ln.q};
    for (std::size_t j = 0; j < all; ++j) {
        for (unsigned k = 0; k < n_lanes; ++k) {
            const std::uint32_t e = dt[idx[k]];
            o[k][j] = static_cast<std::uint16_t>(e & 0xFFF);
            idx[k] = (e >> 16) + br.get((e >> 12) & 0xF);
        }
        br.refill();
    }
    for (std::size_t j = all; j < ln.q; ++j) {
        for (unsigned k = 0; k < n_lanes; ++k) {
            if (j >= ln.len[k]) continue;
            const std::uint32_t e = dt[idx[k]];
            o[k][j] = static_cast<std::uint16_t>(e & 0xFFF);
            idx[k] = (e >> 16) + br.get((e >> 12) & 0xF);
        }
        br.refill();
    }
    LMGC_CHECK(br.left() == 0, errc::corrupt, "fast: coded classes damaged (",
               br.left() < 0 ? "read past their start" : "bits left over", ")");
    for (unsigned k = 0; k < n_lanes; ++k)
        LMGC_CHECK((idx[k] & (size - 1)) == 0, errc::corrupt,
                   "fast: coded classes damaged (bad final state)");

    // Phase 2: values from classes and raw bits. `bits` holds each class's raw bit count, with
    // 0x40 set for a class that no value may have (the trap).
    constexpr U sign_bit = U(1) << (W - 1);
    std::array<U, 4096> value_base{};
    std::array<std::uint8_t, 4096> bits{};
    bits.fill(0x40);
    value_base[0] = 0, bits[0] = 0;
    value_base[1] = sign_bit, bits[1] = 0;
    for (unsigned p = zero_low; p < M; ++p)
        value_base[2 + p] = U(1) << p, bits[2 + p] = static_cast<std::uint8_t>(p - zero_low + 1);
    for (unsigned e = 1; e < (1u << F::exp_bits); ++e)
        value_base[M + 1 + e] = static_cast<U>(U(e) << M),
                           bits[M + 1 + e] = static_cast<std::uint8_t>(M - zero_low + 1);
    const std::uint8_t* rb = raw_bits.data();
    const std::size_t rb_size = raw_bits.size();
    const std::size_t max_bits = M - zero_low + 1;
    std::uint64_t pos = 0;
    unsigned bad = 0;
    std::size_t i = 0;
    auto one = [&](std::uint64_t word) {
        const unsigned s = sym[i], b = bits[s];
        bad |= b;
        const std::uint64_t v = word & ((std::uint64_t{1} << (b & 63)) - 1);
        const U u =
            static_cast<U>(value_base[s] | static_cast<U>(static_cast<U>(v >> 1) << zero_low) |
                           static_cast<U>(static_cast<U>(v & 1) << (W - 1)));
        store_le(out.data() + i * sizeof(U), u);
        pos += b & 63;
        ++i;
    };
    constexpr std::size_t block = 16;
    while (i < n) {
        if (n - i >= block && ((pos + block * max_bits) >> 3) + 8 <= rb_size) {
            for (std::size_t k = 0; k < block; ++k)
                one(load_le<std::uint64_t>(rb + (pos >> 3)) >> (pos & 7));
        } else { // near the end of the raw bits: load what is there
            std::uint64_t word = 0;
            const std::size_t at = static_cast<std::size_t>(pos >> 3);
            for (std::size_t k = 0; k < 8 && at + k < rb_size; ++k)
                word |= std::uint64_t{rb[at + k]} << (8 * k);
            one(word >> (pos & 7));
            LMGC_CHECK(pos <= rb_size * 8, errc::corrupt, "fast: raw bits truncated");
        }
    }
    LMGC_CHECK(!(bad & 0x40), errc::corrupt, "fast: coded classes damaged (context without table)");
    LMGC_CHECK((pos + 7) / 8 == rb_size, errc::corrupt, "fast: ", rb_size - (pos + 7) / 8,
               " unexpected bytes after the raw bits");
    LMGC_CHECK((pos & 7) == 0 || (rb[rb_size - 1] >> (pos & 7)) == 0, errc::corrupt,
               "fast: raw bits damaged (padding not zero)");
    if (tail) std::memcpy(out.data() + n * sizeof(U), tail_bytes.data(), tail);
}

class codec_fast final : public codec_i {
  public:
    void encode(byte_span raw, const chunk_layout& layout, bytes& out) const override {
        if (raw.size() < dtype_size(layout.type)) return encode_stored(raw, layout.type, out);
        switch (layout.type) {
        case dtype::f32:
            return encode_values<fmt_f32>(raw, layout.type, out);
        case dtype::f16:
            return encode_values<fmt_f16>(raw, layout.type, out);
        case dtype::bf16:
            return encode_values<fmt_bf16>(raw, layout.type, out);
        case dtype::f64:
            return encode_values<fmt_f64>(raw, layout.type, out);
        default:
            break;
        }
        LMGC_FAIL(errc::internal, "fast: ", dtype_name(layout.type), " is not a float type");
    }

    void decode(byte_span coded, const chunk_layout& layout,
                std::span<std::uint8_t> out) const override {
        byte_reader r(coded, errc::corrupt, "fast: payload truncated");
        const auto version = r.u8();
        LMGC_CHECK(version == payload_version, errc::corrupt, "fast: payload version ",
                   int(version), " is not ", int(payload_version));
        LMGC_CHECK(r.u8() == static_cast<std::uint8_t>(layout.type), errc::corrupt,
                   "fast: payload element type does not match the stream's");
        const auto mode = r.u8();
        if (mode == mode_stored) {
            LMGC_CHECK(r.remaining() == out.size(), errc::corrupt, "fast: stored chunk has ",
                       r.remaining(), " bytes, expected ", out.size());
            if (!out.empty()) std::memcpy(out.data(), coded.data() + r.pos(), out.size());
            return;
        }
        LMGC_CHECK(mode == mode_coded, errc::corrupt, "fast: unknown payload mode ", int(mode));
        switch (layout.type) {
        case dtype::f32:
            return decode_values<fmt_f32>(r, coded, out);
        case dtype::f16:
            return decode_values<fmt_f16>(r, coded, out);
        case dtype::bf16:
            return decode_values<fmt_bf16>(r, coded, out);
        case dtype::f64:
            return decode_values<fmt_f64>(r, coded, out);
        default:
            break;
        }
        LMGC_FAIL(errc::corrupt, "fast: stream of ", dtype_name(layout.type),
                  " values, which fast does not code");
    }
};

} // namespace

std::unique_ptr<codec_i> make_codec_fast(const codec_config&) {
    return std::make_unique<codec_fast>();
}

} // namespace lmgc::detail
