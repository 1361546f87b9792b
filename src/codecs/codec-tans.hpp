// tANS (FSE-style) table coding shared by the table-driven float codecs (`fast`, `planes`):
// normalizing counts to a table, describing it in the payload, the encoder's and decoder's
// state tables, and the bit writers and readers around them. Integer arithmetic only, so that
// every CPU writes the same bytes. Included by codec implementations only.
#pragma once

#include "common/common-bytes.hpp"
#include "common/common-error.hpp"

#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstring>
#include <vector>

namespace lmgc::detail::tans {

// --- tANS (FSE-style tables) ---------------------------------------------------------------

// A chunk's values are cut into 4 lanes, each coded with its own tANS state; the decoder
// follows the 4 chains at once.
constexpr unsigned n_lanes = 4;

// The coding loops must inline their small steps so that coder states stay in registers.
#if defined(__GNUC__)
#define LMGC_FAST_INLINE [[gnu::always_inline]] inline
#define LMGC_FAST_LAMBDA __attribute__((always_inline))
#else
#define LMGC_FAST_INLINE inline
#define LMGC_FAST_LAMBDA
#endif

// The hot loops compiled twice where GCC can (x86-64 with ifunc): for CPUs with BMI2 (whose
// shifts by a register take one instruction) and for the baseline; the loader picks. Integer
// code: both write and read the same bytes.
#if defined(__x86_64__) && defined(__linux__) && defined(__GNUC__) && !defined(__clang__)
#define LMGC_FAST_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define LMGC_FAST_CLONES
#endif

inline unsigned highbit(std::uint32_t v) { // v > 0
    return static_cast<unsigned>(std::bit_width(v)) - 1;
}

// The order tANS states visit the table: FSE's spread (a step coprime with the size).
inline void spread_symbols(const std::uint16_t* norm, const std::uint16_t* present,
                           unsigned n_present, unsigned table_log, std::uint16_t* spread) {
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
// present symbol at least 1. Returns false if there are more symbols than table slots.
inline bool normalize(const std::uint32_t* count, const std::uint16_t* present, unsigned n_present,
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
    while (diff != 0) { // rounding: the largest share absorbs the difference
        unsigned best = present[0];
        for (unsigned i = 1; i < n_present; ++i)
            if (norm[present[i]] > norm[best]) best = present[i];
        const std::int64_t take = diff > 0 ? diff : -std::min<std::int64_t>(-diff, norm[best] - 1);
        norm[best] = static_cast<std::uint16_t>(norm[best] + take);
        diff -= take;
    }
    return true;
}

// Forward bit writer (LSB first) of the table descriptions and the raw bits. It stores 8 bytes
// at a time: its buffer needs 8 bytes of slack.
class bit_writer {
  public:
    explicit bit_writer(std::uint8_t* p) : p_(p) {}
    LMGC_FAST_INLINE void put(std::uint64_t v, unsigned n) { // v < 2^n, n <= 56
        add(v, n);
        flush();
    }
    // add() without flush(): at most 56 bits between two flushes.
    LMGC_FAST_INLINE void add(std::uint64_t v, unsigned n) {
        acc_ |= v << n_;
        n_ += n;
    }
    LMGC_FAST_INLINE void flush() {
        store_le(p_, acc_);
        p_ += n_ >> 3;
        acc_ >>= n_ & ~7u;
        n_ &= 7;
    }
    // Exp-Golomb order 0: v + 1 in w bits goes as w - 1 zeros, a one, then its w - 1 low bits
    // (v < 2^47: planes' zero run lists code run lengths as long as a chunk).
    void put_eg(std::uint64_t v) {
        const unsigned w = static_cast<unsigned>(std::bit_width(v + 1));
        put(std::uint64_t{1} << (w - 1), w);
        put((v + 1) & ((std::uint64_t{1} << (w - 1)) - 1), w - 1);
    }
    // Bytes written, the partial last byte included.
    std::uint8_t* end() const { return p_ + (n_ ? 1 : 0); }

  private:
    std::uint8_t* p_;
    std::uint64_t acc_ = 0;
    unsigned n_ = 0;
};

// Forward bit reader of the table descriptions: every overrun is an error.
class bit_reader {
  public:
    // who: the codec, for error messages.
    bit_reader(byte_span in, const char* who) : in_(in), who_(who) {}
    std::uint32_t get(unsigned n) { // n <= 31
        std::uint32_t v = 0;
        for (unsigned k = 0; k < n; ++k, ++pos_) {
            LMGC_CHECK(pos_ < in_.size() * 8, errc::corrupt, who_, ": table description truncated");
            v |= static_cast<std::uint32_t>((in_[pos_ >> 3] >> (pos_ & 7)) & 1) << k;
        }
        return v;
    }
    std::uint32_t get_eg() {
        unsigned zeros = 0;
        while (get(1) == 0)
            LMGC_CHECK(++zeros < 24, errc::corrupt, who_, ": bad table description");
        return ((1u << zeros) | get(zeros)) - 1;
    }
    std::size_t bytes_used() const { return (pos_ + 7) / 8; }

  private:
    byte_span in_;
    const char* who_;
    std::size_t pos_ = 0;
};

// Backward bit reader of the tANS stream (read from its end, like zstd's). Works on a copy
// with 8 zero bytes in front, so its 8-byte loads stay in bounds whatever the stream says.
class tans_reader {
  public:
    tans_reader(byte_span stream, bytes& buf, const char* who) {
        LMGC_CHECK(!stream.empty() && stream.back() != 0, errc::corrupt, who,
                   ": coded symbols lack their end mark");
        buf.assign(stream.size() + 8, 0);
        std::memcpy(buf.data() + 8, stream.data(), stream.size());
        base_ = buf.data();
        p_ = base_ + stream.size();
        acc_ = load_le<std::uint64_t>(p_);
        used_ = 8 - highbit(stream.back()); // the end mark and the zeros above it
    }
    // n <= 11, at most 56 bits between two refills. The n bits below the `used` top bits of
    // the 64-bit window (x86: shrx and bzhi).
    LMGC_FAST_INLINE std::uint32_t get(unsigned n) {
        used_ += n;
        return static_cast<std::uint32_t>((acc_ >> ((0u - used_) & 63)) &
                                          ((std::uint64_t{1} << n) - 1));
    }
    // False, and nothing moves, when the stream is used up (the caller reports it: the cloned
    // loops below must not throw).
    LMGC_FAST_INLINE bool refill() {
        const std::size_t back = used_ >> 3;
        if (back > static_cast<std::size_t>(p_ - base_)) [[unlikely]]
            return !(exhausted_ = true);
        refill_unchecked();
        return true;
    }
    // refill() for the decoder's blocks, which check beforehand (safe_steps) that it stays in
    // bounds.
    LMGC_FAST_INLINE void refill_unchecked() {
        p_ -= used_ >> 3;
        used_ &= 7;
        acc_ = load_le<std::uint64_t>(p_);
    }
    // How many refills after reading at most `bits` each surely stay in bounds.
    std::size_t safe_steps(unsigned bits) const {
        const std::size_t have = static_cast<std::size_t>(p_ - base_) * 8;
        return have < 7 ? 0 : (have - 7) / bits;
    }
    bool exhausted() const { return exhausted_; }
    // Bits of the stream not read yet (negative once it read into the zeros in front).
    std::int64_t left() const {
        return (p_ - base_ - 8) * 8 + 64 - static_cast<std::int64_t>(used_);
    }

  private:
    const std::uint8_t* base_;
    const std::uint8_t* p_;
    std::uint64_t acc_;
    unsigned used_;
    bool exhausted_ = false;
};

// The chunk's lanes: n values cut into 4 runs of q = ceil(n / 4) (the last ones shorter or
// empty).
struct lanes {
    std::size_t q, len[n_lanes];
    explicit lanes(std::size_t n) : q((n + n_lanes - 1) / n_lanes) {
        for (unsigned k = 0; k < n_lanes; ++k) len[k] = std::min(q, n - std::min(n, k * q));
    }
};

struct sym_tt { // an encoder table entry (FSE's symbolTT)
    // Includes the context's offset in the state tables. Unsigned: (x >> nb) + delta wraps to
    // the state's index, so that it indexes without a sign extension.
    std::uint32_t delta_find_state;
    std::uint32_t delta_nb_bits;
};

template <typename T> T* grow(std::vector<T>& v, std::size_t n) {
    if (v.size() < n) v.resize(n);
    return v.data();
}

// tANS encoder of the 4 lanes into one stream (LSB first, read back from its end).
struct tans_writer {
    std::uint8_t* p;
    std::uint64_t acc = 0;
    unsigned n = 0;
    std::uint32_t x[n_lanes];
    tans_writer(std::uint8_t* out, std::uint32_t size) : p(out), x{size, size, size, size} {}
    LMGC_FAST_INLINE void put(std::uint64_t v, unsigned nb) {
        acc |= v << n;
        n += nb;
    }
    LMGC_FAST_INLINE void encode(unsigned k, sym_tt t, const std::uint16_t* state_table) {
        const unsigned nb = (x[k] + t.delta_nb_bits) >> 16;
        put(x[k] & ((1u << nb) - 1), nb);
        x[k] = state_table[(x[k] >> nb) + t.delta_find_state];
    }
    // At most 56 bits between two flushes.
    LMGC_FAST_INLINE void flush() {
        store_le(p, acc);
        p += n >> 3;
        acc >>= n & ~7u;
        n &= 7;
    }
    std::uint8_t* end() const { return p + (n ? 1 : 0); }
};

// tANS encoding of steps all-1 down to 0, where every lane has a value (each codec wraps it
// in a loop compiled for its CPUs, LMGC_FAST_CLONES).
template <typename K>
LMGC_FAST_INLINE void encode_whole_steps(tans_writer& tw_io, const K* keys, std::size_t all,
                                         const sym_tt* tt, const std::uint16_t* state_table) {
    tans_writer tw = tw_io;
    for (const K* k = keys + n_lanes * all; k != keys;) {
        k -= n_lanes;
        tw.encode(3, tt[k[3]], state_table);
        tw.encode(2, tt[k[2]], state_table);
        tw.encode(1, tt[k[1]], state_table);
        tw.encode(0, tt[k[0]], state_table);
        tw.flush();
    }
    tw_io = tw;
}

// The tANS stream of a chunk's keys (step j, lane k at keys[4 j + k]), written backwards
// into out (room for table_log_max bits per value and 32 bytes): the last steps, where some
// lanes have no value, then the whole steps through whole_steps(tw, keys, all, tt, st),
// then each nonempty lane's final state and the end mark. The decoder reads it from its end,
// lane 0 first in each step. Returns the stream's size.
template <typename K, typename WholeSteps>
std::size_t encode_backwards(std::uint8_t* out, const lanes& ln, const K* keys, const sym_tt* tt,
                             const std::uint16_t* state_table, unsigned table_log,
                             WholeSteps&& whole_steps) {
    const std::uint32_t size = 1u << table_log;
    tans_writer tw(out, size);
    const std::size_t all = ln.len[n_lanes - 1];
    for (std::size_t j = ln.q; j-- > all;) {
        for (unsigned k = n_lanes; k-- > 0;)
            if (j < ln.len[k]) tw.encode(k, tt[keys[n_lanes * j + k]], state_table);
        tw.flush();
    }
    whole_steps(tw, keys, all, tt, state_table);
    for (unsigned k = n_lanes; k-- > 0;)
        if (ln.len[k]) tw.put(tw.x[k] - size, table_log);
    tw.flush();
    tw.put(1, 1); // end mark
    tw.flush();
    return static_cast<std::size_t>(tw.end() - out);
}

// A distribution's description, as both codecs write it: the symbol count - 1, then per
// symbol the gap to the previous one and its share in as many bits as the largest share it
// can have (the last share is what is left).
inline void describe(bit_writer& dw, const std::uint16_t* norm, const std::uint16_t* present,
                     unsigned n_present, unsigned size) {
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
}

// Reads a description of a distribution over symbols 0..n_symbols-1 that sums to `size`
// into present (ascending) and norm; returns the symbol count. Throws corrupt on any
// inconsistency.
inline unsigned read_description(bit_reader& dr, unsigned n_symbols, unsigned size,
                                 std::uint16_t* norm, std::uint16_t* present, const char* who) {
    const std::uint32_t n_present = dr.get_eg() + 1;
    LMGC_CHECK(n_present <= std::min(n_symbols, size), errc::corrupt, who, ": a table lists ",
               n_present, " symbols");
    unsigned left = size, prev = 0;
    for (unsigned i = 0; i < n_present; ++i) {
        const std::uint32_t gap = dr.get_eg();
        LMGC_CHECK(gap < n_symbols - prev, errc::corrupt, who, ": symbol out of range in a table");
        const unsigned s = prev + gap;
        prev = s + 1;
        present[i] = static_cast<std::uint16_t>(s);
        unsigned f = left;
        if (i + 1 < n_present) {
            const unsigned max_f = left - (n_present - 1 - i);
            f = dr.get(static_cast<unsigned>(std::bit_width(max_f - 1))) + 1;
            LMGC_CHECK(f <= max_f, errc::corrupt, who, ": bad symbol share in a table");
            left -= f;
        }
        norm[s] = static_cast<std::uint16_t>(f);
    }
    return n_present;
}

// The encoder's tables of one context (FSE's layout): tt[s] per present symbol, with the
// context's offset `base` (its first state's index) folded into delta_find_state, and the
// context's state table st (size entries). Uses spread (size entries) as scratch; norm
// becomes the symbols' cumulative starts.
inline void build_encoder(std::uint16_t* norm, const std::uint16_t* present, unsigned n_present,
                          unsigned table_log, unsigned base, std::uint16_t* spread, sym_tt* tt,
                          std::uint16_t* st) {
    const unsigned size = 1u << table_log;
    spread_symbols(norm, present, n_present, table_log, spread);
    unsigned total_f = 0;
    for (unsigned i = 0; i < n_present; ++i) {
        const unsigned s = present[i], f = norm[s];
        sym_tt& t = tt[s];
        const unsigned max_bits = f == 1 ? table_log : table_log - highbit(f - 1);
        t.delta_nb_bits = (max_bits << 16) - (f << max_bits);
        t.delta_find_state = base + total_f - f;
        norm[s] = static_cast<std::uint16_t>(total_f);
        total_f += f;
    }
    for (unsigned u = 0; u < size; ++u)
        st[norm[spread[u]]++] = static_cast<std::uint16_t>(size + u);
}

} // namespace lmgc::detail::tans
