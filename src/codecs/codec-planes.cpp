// "planes": the fastest float coder, level 1. Each value's top byte (sign and high exponent
// bits: the byte plane that carries nearly all the redundancy) is a tANS symbol, exact zeros a
// symbol of their own, in the context of the value before it (zero, or its top byte's distance
// to the chunk's most common one: zero runs cost next to nothing); the other bytes of a nonzero
// value are stored as they are, so neither side shifts bits. Chunks whose zeros are few or in
// long runs go dense: the runs left out, no zero symbol, and the low bytes of every value
// split off and joined back as a block, so that the tANS loops do nothing else. Byte grouping with
// an entropy coder, as ZipNN does: in float32 1.3-2x the speed of `fast` without lag classes, for a
// payload 0.4-1.7 points larger. Integer arithmetic only: the same bytes everywhere. Payload:
// docs/format.md ("planes" payload); measurements: docs/fast.md.
#include "codecs/codec-tans.hpp"
#include "codecs/codec.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <cstring>

// 16-bit values: the dense encoder's first pass has an AVX2 version, the coded mode's decoder
// an AVX-512 join (AVX512-VBMI2), each taken where the CPU has it, or never with the setting
// simd=0; the same bytes either way.
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define LMGC_PLANES_X86 1
#else
#define LMGC_PLANES_X86 0
#endif

namespace lmgc::detail {
namespace {

using namespace tans;

// Version 2 added the dense mode, version 3 the dense mode's list of every zero run (runs of
// one or more, in bits); coded and stored chunks are still written at version 1, dense chunks
// without zeros at version 2.
constexpr std::uint8_t payload_version_1 = 1, payload_version_2 = 2, payload_version_3 = 3;
// Dense: runs of zeros left out, no zero symbol, every value's low bytes in value order (no
// zero test on either side, and the low bytes move as a block).
constexpr std::uint8_t mode_coded = 0, mode_stored = 1, mode_dense = 2;

// Symbols: 0-255 the top byte of a nonzero value, 256 an exact zero (all bits clear).
constexpr unsigned n_symbols = 257, zero_symbol = 256;
// Contexts, from the value before in the lane: 0 if its top byte's magnitude bits (sign
// dropped) equal the chunk's `center` (and at a lane's start), 1 if it was zero, 2 and 3 if
// they are 2 or more, or 1, below the center, 4 and 5 if 1, or 2 or more, above.
constexpr unsigned n_contexts = 6;
constexpr unsigned context_after(unsigned s, unsigned center) {
    if (s == 256) return 1;
    const int d = static_cast<int>(s & 127) - static_cast<int>(center);
    return d == 0 ? 0 : d <= -2 ? 2 : d == -1 ? 3 : d == 1 ? 4 : 5;
}
// 2^10 slots (the 6 decoder tables, 24 KiB, stay in L1; 2^9 and 2^11 measured within the
// noise, 2^11 0.1 point smaller); small chunks take smaller tables, with at least as many
// slots as symbols.
constexpr unsigned table_log_min = 6, table_log_max = 10;
// A decoder table entry: the next state's index (its context's offset included) << 13,
// the state bits to read << 9, the symbol.
constexpr unsigned nb_shift = 9, next_shift = 13, sym_mask = 511;
static_assert((std::uint64_t{n_contexts + 1} << table_log_max) < (1ull << (32 - next_shift)));
static_assert(zero_symbol == 256 && n_symbols == zero_symbol + 1); // s >> 8: zero or not
// Dense chunks leave out zero runs (the decoder fills them in): at version 2 the runs of at
// least min_zero_run zeros; at version 3 every run, and a chunk goes dense when it has at most
// one run per dense_run_spacing values (a run then costs ~10 bits in the list, about what the
// coded mode's zero symbols cost, and each side a short copy or store).
constexpr std::size_t min_zero_run = 16, dense_run_spacing = 64;
// The version-3 run list stores at most this many low bits of each gap as they are (k).
constexpr unsigned run_k_max = 40;
// The decoder checks the bounds once per block of steps.
constexpr std::size_t block_steps = 2048;

constexpr const char* who = "planes";

struct zero_run {
    std::size_t at, len; // in values
    std::size_t kept;    // the decoder's: values coded before the run
};

struct scratch {
    std::vector<std::uint16_t> keys, norm, spread, state_table, present;
    std::vector<std::uint32_t> hist, dtable;
    std::vector<sym_tt> tt;
    bytes raw, tans, desc, stream, sym, kept, run_bits;
    std::vector<std::uint16_t> sym16;
    std::vector<zero_run> runs;
};
scratch& thread_scratch() {
    thread_local scratch s;
    return s;
}

void encode_stored(byte_span raw, dtype type, bytes& out) {
    byte_writer w(out);
    w.u8(payload_version_1);
    w.u8(static_cast<std::uint8_t>(type));
    w.u8(mode_stored);
    w.raw(raw);
}

// The bytes below the top one of a nonzero value: stored with one store (the buffer has 8
// bytes of slack), loaded with one load (the caller checks the bounds).
template <typename U> constexpr unsigned low_bytes = sizeof(U) - 1;
template <typename U> LMGC_FAST_INLINE void store_low(std::uint8_t* p, U v) {
    if constexpr (sizeof(U) == 2)
        *p = static_cast<std::uint8_t>(v);
    else
        store_le(p, v);
}
template <typename U> LMGC_FAST_INLINE U load_low(const std::uint8_t* p) {
    if constexpr (sizeof(U) == 2)
        return *p;
    else
        return static_cast<U>(load_le<U>(p) & ((U(1) << (8 * low_bytes<U>)) - 1));
}

// --- Encoder ------------------------------------------------------------------------------

// One value of the encoder's first pass: its key (context c + symbol) at *key_at, counted in
// h, and its low bytes at raw if it is nonzero; c becomes the context after it (next_key[s]:
// context * 257). Without branches (zeros come in runs, but not everywhere): a zero's top byte
// is 0, so its symbol is the top byte + 256.
template <typename U>
LMGC_FAST_INLINE void first_pass_value(U v, unsigned& c, std::uint16_t* key_at, std::uint32_t* h,
                                       std::uint8_t*& raw, const std::uint16_t* next_key) {
    const unsigned zero = v == 0;
    const unsigned sym = static_cast<unsigned>(v >> 8 * low_bytes<U>) + zero * zero_symbol;
    const unsigned key = c + sym;
    *key_at = static_cast<std::uint16_t>(key);
    ++h[key];
    store_low(raw, v);
    raw += (zero ^ 1) * low_bytes<U>;
    c = next_key[sym];
}

// The whole steps 0..all-1 of a first pass (lane k's value j at in + (k * q + j) values), in
// step order: value(at, c, key_at, h) for each value, with its lane's context c (ctx holds
// each lane's), its key's place and its lane's histogram (increments of one key in a row
// would wait on each other).
template <typename U, typename PerValue>
LMGC_FAST_INLINE void for_whole_steps(const std::uint8_t* in, std::size_t q, std::size_t all,
                                      std::uint16_t* keys, std::uint32_t* hist,
                                      unsigned (&ctx)[n_lanes], PerValue&& value) {
    constexpr unsigned H = n_contexts * n_symbols;
    const std::size_t lane_bytes = q * sizeof(U);
    unsigned c0 = ctx[0], c1 = ctx[1], c2 = ctx[2], c3 = ctx[3];
    const std::uint8_t* at = in;
    for (std::size_t j = 0; j < all; ++j, at += sizeof(U)) {
        std::uint16_t* k = keys + n_lanes * j;
        value(at, c0, k, hist);
        value(at + lane_bytes, c1, k + 1, hist + H);
        value(at + 2 * lane_bytes, c2, k + 2, hist + 2 * H);
        value(at + 3 * lane_bytes, c3, k + 3, hist + 3 * H);
    }
    ctx[0] = c0, ctx[1] = c1, ctx[2] = c2, ctx[3] = c3;
}

// The last steps all..q-1 of a first pass, where some lanes have no value: value(at, c,
// key_at, h) as above, every lane counted in the first histogram.
template <typename U, typename PerValue>
void for_last_steps(const std::uint8_t* in, const lanes& ln, std::uint16_t* keys,
                    std::uint32_t* hist, unsigned (&ctx)[n_lanes], PerValue&& value) {
    for (std::size_t j = ln.len[n_lanes - 1]; j < ln.q; ++j)
        for (unsigned k = 0; k < n_lanes; ++k)
            if (j < ln.len[k])
                value(in + (k * ln.q + j) * sizeof(U), ctx[k], &keys[n_lanes * j + k], hist);
}

// The coded mode's first pass over the whole steps: keys, histograms, and the low bytes of
// the nonzero values in the order the decoder takes them. Returns the end of the low bytes.
template <typename U>
LMGC_FAST_CLONES std::uint8_t* first_pass(const std::uint8_t* in, std::size_t q, std::size_t all,
                                          std::uint16_t* keys, std::uint32_t* hist,
                                          std::uint8_t* raw, const std::uint16_t* next_key,
                                          unsigned (&ctx)[n_lanes]) {
    for_whole_steps<U>(
        in, q, all, keys, hist, ctx,
        [&](const std::uint8_t* at, unsigned& c, std::uint16_t* key_at, std::uint32_t* h)
            LMGC_FAST_LAMBDA { first_pass_value(load_le<U>(at), c, key_at, h, raw, next_key); });
    return raw;
}

// The dense first pass (no zero symbol; the low bytes are copied as a block): one value's key
// from its top byte.
template <typename U>
LMGC_FAST_INLINE void dense_first_pass_value(const std::uint8_t* at, unsigned& c,
                                             std::uint16_t* key_at, std::uint32_t* h,
                                             const std::uint16_t* next_key) {
    const unsigned sym = at[low_bytes<U>];
    const unsigned key = c + sym;
    *key_at = static_cast<std::uint16_t>(key);
    ++h[key];
    c = next_key[sym];
}

template <typename U>
LMGC_FAST_CLONES void dense_first_pass(const std::uint8_t* in, std::size_t q, std::size_t all,
                                       std::uint16_t* keys, std::uint32_t* hist,
                                       const std::uint16_t* next_key, unsigned (&ctx)[n_lanes]) {
    for_whole_steps<U>(
        in, q, all, keys, hist, ctx,
        [&](const std::uint8_t* at, unsigned& c, std::uint16_t* key_at, std::uint32_t* h)
            LMGC_FAST_LAMBDA { dense_first_pass_value<U>(at, c, key_at, h, next_key); });
}

#if LMGC_PLANES_X86
// The keys of 16 values of a lane, at `at` (the value before them at at - 2): context * 257 +
// symbol, the context a function of the top byte before: its distance d to the center,
// clamped to -2..2, picks one of 5 bytes, and a byte shuffle with that index in both bytes of
// a 16-bit lane gives context * 257 at once.
__attribute__((target("avx2"), always_inline)) inline __m256i dense_keys16(const std::uint8_t* at,
                                                                           __m256i center_minus_2) {
    // context_after(s, center) for d = -2..2 (d = (s & 127) - center).
    const __m256i ctx_of_d = _mm256_setr_epi8(2, 3, 0, 4, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, //
                                              2, 3, 0, 4, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
    const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(at));
    const __m256i before = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(at - 2));
    const __m256i sym = _mm256_srli_epi16(v, 8);
    // d + 2 clamped to 0..4, in both bytes of each 16-bit lane.
    __m256i i = _mm256_sub_epi16(
        _mm256_and_si256(_mm256_srli_epi16(before, 8), _mm256_set1_epi16(127)), center_minus_2);
    i = _mm256_min_epi16(_mm256_max_epi16(i, _mm256_setzero_si256()), _mm256_set1_epi16(4));
    i = _mm256_or_si256(i, _mm256_slli_epi16(i, 8));
    return _mm256_add_epi16(_mm256_shuffle_epi8(ctx_of_d, i), sym);
}

// The dense first pass of 16-bit values in AVX2, keys only: steps 1..all-1 (step 0 and the
// contexts after the last step are the caller's), 16 steps of the 4 lanes at a time, the
// same keys as the scalar pass; count_keys then takes their histograms. Returns the first
// step it did not do.
__attribute__((target("avx2"))) std::size_t dense_first_pass16_avx2(const std::uint8_t* in,
                                                                    std::size_t q, std::size_t all,
                                                                    std::uint16_t* keys,
                                                                    unsigned center) {
    const std::size_t lane_bytes = q * 2;
    const __m256i center_minus_2 = _mm256_set1_epi16(static_cast<short>(center) - 2);
    std::size_t j = 1;
    for (; j + 16 <= all; j += 16) {
        const std::uint8_t* at = in + j * 2;
        const __m256i k0 = dense_keys16(at, center_minus_2),
                      k1 = dense_keys16(at + lane_bytes, center_minus_2),
                      k2 = dense_keys16(at + 2 * lane_bytes, center_minus_2),
                      k3 = dense_keys16(at + 3 * lane_bytes, center_minus_2);
        // To step order: keys[4 t + k] = lane k's key at step j + t.
        const __m256i a = _mm256_unpacklo_epi16(k0, k1), b = _mm256_unpackhi_epi16(k0, k1),
                      c = _mm256_unpacklo_epi16(k2, k3), d = _mm256_unpackhi_epi16(k2, k3);
        const __m256i e0 = _mm256_unpacklo_epi32(a, c), e1 = _mm256_unpackhi_epi32(a, c),
                      e2 = _mm256_unpacklo_epi32(b, d), e3 = _mm256_unpackhi_epi32(b, d);
        auto* out = reinterpret_cast<__m256i*>(keys + n_lanes * j);
        _mm256_storeu_si256(out, _mm256_permute2x128_si256(e0, e1, 0x20));
        _mm256_storeu_si256(out + 1, _mm256_permute2x128_si256(e2, e3, 0x20));
        _mm256_storeu_si256(out + 2, _mm256_permute2x128_si256(e0, e1, 0x31));
        _mm256_storeu_si256(out + 3, _mm256_permute2x128_si256(e2, e3, 0x31));
    }
    return j;
}
#endif

// The histograms of the keys of steps from..to-1 (lane k's in the k-th).
LMGC_FAST_CLONES void count_keys(const std::uint16_t* keys, std::size_t from, std::size_t to,
                                 std::uint32_t* hist) {
    constexpr unsigned H = n_contexts * n_symbols;
    for (std::size_t j = from; j < to; ++j) {
        const std::uint16_t* k = keys + n_lanes * j;
        ++hist[k[0]];
        ++hist[H + k[1]];
        ++hist[2 * H + k[2]];
        ++hist[3 * H + k[3]];
    }
}

// Whether one of the 32 values at p is zero (a loop the compiler vectorizes).
template <typename U> LMGC_FAST_INLINE bool has_zero_in_32(const std::uint8_t* p) {
    unsigned zero = 0;
    for (unsigned k = 0; k < 32; ++k) zero |= load_le<U>(p + k * sizeof(U)) == 0;
    return zero != 0;
}

// A bit per value of the count (<= 64) at p: whether it is zero.
template <typename U>
LMGC_FAST_INLINE std::uint64_t zero_bits(const std::uint8_t* p, unsigned count) {
    std::uint64_t m = 0;
    for (unsigned k = 0; k < count; ++k)
        m |= std::uint64_t{load_le<U>(p + k * sizeof(U)) == 0} << k;
    return m;
}

// The runs of zeros among the n values at in, in order: 64 values at a time, their zeros as a
// mask whose changes are the runs' starts and ends; blocks without a zero are skipped.
template <typename U>
LMGC_FAST_CLONES void find_zero_runs(const std::uint8_t* in, std::size_t n,
                                     std::vector<zero_run>& runs) {
    runs.clear();
    std::uint64_t carry = 0; // whether the value before the block is zero
    std::size_t start = 0;   // where the run it is in starts
    for (std::size_t base = 0; base < n; base += 64) {
        const std::uint8_t* const p = in + base * sizeof(U);
        if (n - base >= 64 && !carry && !has_zero_in_32<U>(p) &&
            !has_zero_in_32<U>(p + 32 * sizeof(U)))
            continue;
        const std::uint64_t m =
            n - base >= 64 ? zero_bits<U>(p, 64) : zero_bits<U>(p, static_cast<unsigned>(n - base));
        const std::uint64_t before = m << 1 | carry; // bit k: value base + k - 1 is zero
        std::uint64_t starts = m & ~before, ends = ~m & before;
        while (starts | ends) {
            const std::uint64_t events = starts | ends, first = events & (0 - events);
            const std::size_t at = base + static_cast<std::size_t>(std::countr_zero(events));
            if (starts & first) {
                start = at;
                starts ^= first;
            } else {
                runs.push_back({start, at - start, 0});
                ends ^= first;
            }
        }
        // A run reaching the block's last bit goes on (ends at the next block, or at n).
        carry = n - base >= 64 ? m >> 63 : 0;
    }
    if (carry) runs.push_back({start, n - start, 0});
}

// Copies the values of in (size bytes, values of w bytes) outside the zero runs to kept (32
// bytes of slack). Short pieces, the common case with one run in ~100 values, take one 32-byte
// copy that may run past them (overwritten by the next piece), never past in's end, rather
// than a library call each.
LMGC_FAST_CLONES void gather_between_runs(const std::uint8_t* in, std::size_t size,
                                          const std::vector<zero_run>& runs, std::size_t w,
                                          std::uint8_t* kept) {
    const std::uint8_t* const in_end = in + size;
    auto piece = [&](const std::uint8_t* from, const std::uint8_t* to) {
        const std::size_t n = static_cast<std::size_t>(to - from);
        if (n <= 32 && in_end - from >= 32) {
            std::memcpy(kept, from, 32);
        } else if (n >= 32) {
            for (std::size_t k = 0; k + 32 < n; k += 32) std::memcpy(kept + k, from + k, 32);
            std::memcpy(kept + n - 32, from + n - 32, 32);
        } else {
            std::memcpy(kept, from, n);
        }
        kept += n;
    };
    const std::uint8_t* from = in;
    for (const auto& r : runs) {
        piece(from, in + r.at * w);
        from = in + (r.at + r.len) * w;
    }
    piece(from, in_end);
}

// The bits of v (< 2^47) in exp-Golomb order 0 (bit_writer::put_eg).
constexpr unsigned eg_bits(std::uint64_t v) {
    return 2 * static_cast<unsigned>(std::bit_width(v + 1)) - 1;
}

// The version-3 run list (runs in order, at least one): per run the gap since the end of the
// one before (or the chunk's start) as gap >> k in exp-Golomb and its k low bits, then the
// length - 1 in exp-Golomb, with the k that makes the list shortest. Writes the bits into
// `bits` (8 bytes of slack) and returns k and the bytes.
std::pair<unsigned, std::size_t> write_run_list(const std::vector<zero_run>& runs, bytes& bits) {
    std::uint64_t best = ~std::uint64_t{0};
    unsigned k = 0;
    for (unsigned c = 0; c <= run_k_max; ++c) {
        std::uint64_t total = 0;
        std::size_t end = 0;
        for (const auto& r : runs) {
            total += eg_bits((r.at - end) >> c) + c;
            end = r.at + r.len;
        }
        if (total < best) best = total, k = c;
        if (best <= runs.size() * (c + 1)) break; // no larger k can do better
    }
    std::size_t len_bits = 0;
    for (const auto& r : runs) len_bits += eg_bits(r.len - 1);
    bit_writer w(grow(bits, (best + len_bits) / 8 + 16));
    std::size_t end = 0;
    for (const auto& r : runs) {
        const std::size_t gap = r.at - end;
        w.put_eg(gap >> k);
        if (k) w.put(gap & ((std::uint64_t{1} << k) - 1), k);
        w.put_eg(r.len - 1);
        end = r.at + r.len;
    }
    return {k, static_cast<std::size_t>(w.end() - bits.data())};
}

// The low bytes of n values, in value order (the dense payload's `low`).
template <typename U>
LMGC_FAST_CLONES void split_low_bytes(const std::uint8_t* in, std::size_t n, std::uint8_t* low) {
    for (std::size_t i = 0; i < n; ++i)
        for (unsigned b = 0; b < low_bytes<U>; ++b)
            low[i * low_bytes<U> + b] = in[i * sizeof(U) + b];
}

// tANS encoding of steps all-1 down to 0, where every lane has a value.
LMGC_FAST_CLONES void encode_steps(tans_writer& tw, const std::uint16_t* keys, std::size_t all,
                                   const sym_tt* tt, const std::uint16_t* state_table) {
    encode_whole_steps(tw, keys, all, tt, state_table);
}

template <typename U> void encode_values(byte_span raw, dtype type, bool simd, bytes& out) {
    constexpr unsigned H = n_contexts * n_symbols;
    const std::size_t n_all = raw.size() / sizeof(U), base = out.size();
    auto& sc = thread_scratch();

    // Dense when there is at most one run of zeros per 64 values, for a coder 1.3-2x faster on
    // both sides: the zeros are left out of the values coded, and the runs listed (ReLU
    // networks' gradients: ConvNet's zeros are 99% in runs of 16 or more, the others mostly
    // near them; f16 copies of small gradients: zeros from underflow, one per ~100 values).
    find_zero_runs<U>(raw.data(), n_all, sc.runs);
    std::size_t run_zeros = 0;
    for (const auto& r : sc.runs) run_zeros += r.len;
    const bool dense = sc.runs.size() * dense_run_spacing <= n_all && run_zeros < n_all;
    // The values coded: all, or the dense mode's values outside the runs.
    const std::uint8_t* values = raw.data();
    std::size_t n = n_all;
    if (dense && run_zeros) {
        n = n_all - run_zeros;
        std::uint8_t* const kept = grow(sc.kept, n * sizeof(U) + 32);
        gather_between_runs(raw.data(), n_all * sizeof(U), sc.runs, sizeof(U), kept);
        values = kept;
    }

    // First pass, in step order: whole steps, then the last ones (lanes 0-2 may be longer).
    const lanes ln(n);
    std::uint16_t* keys = grow(sc.keys, n_lanes * ln.q);
    sc.hist.assign(n_lanes * H, 0);
    std::uint32_t* hist = sc.hist.data();
    // The coded mode's low bytes (the dense mode writes them straight into the payload).
    std::uint8_t* const raw_begin = dense ? nullptr : grow(sc.raw, n * low_bytes<U> + 8);
    // The center: the most common top byte magnitude of the nonzero values in a sample of
    // every 16th value.
    unsigned center = 0;
    {
        std::array<std::uint32_t, 128> h{};
        for (std::size_t i = 0; i < n; i += 16) {
            const U v = load_le<U>(values + i * sizeof(U));
            if (v) ++h[(v >> 8 * low_bytes<U>)&127];
        }
        center = static_cast<unsigned>(std::max_element(h.begin(), h.end()) - h.begin());
    }
    std::array<std::uint16_t, n_symbols> next_key;
    for (unsigned s = 0; s < n_symbols; ++s)
        next_key[s] = static_cast<std::uint16_t>(context_after(s, center) * n_symbols);
    unsigned ctx[n_lanes] = {};
    const std::size_t all = ln.len[n_lanes - 1];
    std::uint8_t* rp = raw_begin;
    if (dense) {
        std::size_t done = 0; // steps
#if LMGC_PLANES_X86
        // 16-bit: step 0 here, then AVX2 (~10% faster encoding in bf16, docs/fast.md).
        if constexpr (sizeof(U) == 2)
            if (simd && all > 16 && __builtin_cpu_supports("avx2")) {
                dense_first_pass<U>(values, ln.q, 1, keys, hist, next_key.data(), ctx);
                done = dense_first_pass16_avx2(values, ln.q, all, keys, center);
                count_keys(keys, 1, done, hist);
                for (unsigned k = 0; k < n_lanes; ++k)
                    ctx[k] = next_key[values[(k * ln.q + done) * sizeof(U) - 1]];
            }
#endif
        dense_first_pass<U>(values + done * sizeof(U), ln.q, all - done, keys + n_lanes * done,
                            hist, next_key.data(), ctx);
        for_last_steps<U>(
            values, ln, keys, hist, ctx,
            [&](const std::uint8_t* at, unsigned& c, std::uint16_t* key_at, std::uint32_t* h) {
                dense_first_pass_value<U>(at, c, key_at, h, next_key.data());
            });
    } else {
        rp = first_pass<U>(values, ln.q, all, keys, hist, raw_begin, next_key.data(), ctx);
        for_last_steps<U>(
            values, ln, keys, hist, ctx,
            [&](const std::uint8_t* at, unsigned& c, std::uint16_t* key_at, std::uint32_t* h) {
                first_pass_value(load_le<U>(at), c, key_at, h, rp, next_key.data());
            });
    }
    const std::size_t raw_size =
        dense ? n * low_bytes<U> : static_cast<std::size_t>(rp - raw_begin);
    for (unsigned h = 1; h < n_lanes; ++h)
        for (unsigned key = 0; key < H; ++key) hist[key] += hist[h * H + key];

    // Tables: 2^10 slots for large chunks, else as large as the chunk and its symbols need.
    unsigned most_present = 0;
    std::uint64_t total[n_contexts] = {};
    for (unsigned c = 0; c < n_contexts; ++c) {
        unsigned n_present = 0;
        for (unsigned s = 0; s < n_symbols; ++s)
            if (hist[c * n_symbols + s]) ++n_present, total[c] += hist[c * n_symbols + s];
        most_present = std::max(most_present, n_present);
    }
    unsigned table_log = static_cast<unsigned>(std::clamp(static_cast<int>(std::bit_width(n)) - 2,
                                                          int{table_log_min}, int{table_log_max}));
    while ((1u << table_log) < most_present) ++table_log;
    const unsigned size = 1u << table_log;

    grow(sc.norm, n_symbols);
    grow(sc.present, n_symbols);
    grow(sc.spread, size);
    grow(sc.state_table, std::size_t{n_contexts} * size);
    grow(sc.tt, H);
    grow(sc.desc, n_contexts * n_symbols * 8 + 64);
    std::uint16_t* norm = sc.norm.data();
    std::uint16_t* present = sc.present.data();
    bit_writer dw(sc.desc.data());
    std::uint8_t ctx_mask = 0;
    for (unsigned c = 0; c < n_contexts; ++c) {
        if (!total[c]) continue;
        ctx_mask |= static_cast<std::uint8_t>(1u << c);
        const std::uint32_t* h = &hist[c * n_symbols];
        unsigned np = 0;
        for (unsigned s = 0; s < n_symbols; ++s)
            if (h[s]) present[np++] = static_cast<std::uint16_t>(s);
        if (!normalize(h, present, np, total[c], table_log, norm)) {
            out.resize(base);
            return encode_stored(raw, type, out);
        }
        describe(dw, norm, present, np, size);
        build_encoder(norm, present, np, table_log, c * size, sc.spread.data(),
                      &sc.tt[c * n_symbols], &sc.state_table[c * size]);
    }
    const std::size_t desc_size = static_cast<std::size_t>(dw.end() - sc.desc.data());

    // tANS, backwards: the decoder reads the stream from its end.
    grow(sc.tans, (n * table_log_max + 64) / 8 + 32);
    const std::size_t tans_size =
        encode_backwards(sc.tans.data(), ln, keys, sc.tt.data(), sc.state_table.data(), table_log,
                         [](tans_writer& tw, const auto* k, std::size_t whole, const sym_tt* tt,
                            const std::uint16_t* st) { encode_steps(tw, k, whole, tt, st); });

    // The payload.
    const std::size_t tail = raw.size() - n_all * sizeof(U);
    if (5 + 20 + desc_size + tans_size + raw_size + tail > raw.size() + 3)
        return encode_stored(raw, type, out);
    // The run list (version 3).
    std::pair<unsigned, std::size_t> run_list{};
    if (dense && !sc.runs.empty()) run_list = write_run_list(sc.runs, sc.run_bits);
    const std::uint8_t version = !dense            ? payload_version_1
                                 : sc.runs.empty() ? payload_version_2
                                                   : payload_version_3;
    byte_writer w(out);
    w.u8(version);
    w.u8(static_cast<std::uint8_t>(type));
    w.u8(dense ? mode_dense : mode_coded);
    w.u8(static_cast<std::uint8_t>(table_log));
    w.u8(ctx_mask);
    w.u8(static_cast<std::uint8_t>(center));
    if (dense) {
        // The zero runs: how many, then (version 3) k and the list's bytes.
        w.varint(sc.runs.size());
        if (!sc.runs.empty()) {
            w.u8(static_cast<std::uint8_t>(run_list.first));
            w.varint(run_list.second);
            w.raw(byte_span(sc.run_bits).first(run_list.second));
        }
    }
    w.varint(desc_size);
    w.raw(byte_span(sc.desc).first(desc_size));
    w.varint(tans_size);
    out.insert(out.end(), sc.tans.begin(),
               sc.tans.begin() + static_cast<std::ptrdiff_t>(tans_size));
    if (dense) {
        const std::size_t at = out.size();
        out.resize(at + raw_size);
        split_low_bytes<U>(values, n, out.data() + at);
    } else {
        out.insert(out.end(), raw_begin, raw_begin + raw_size);
    }
    w.raw(raw.last(tail));
    if (out.size() - base > raw.size() + 3) {
        out.resize(base);
        encode_stored(raw, type, out);
    }
}

// --- Decoder ------------------------------------------------------------------------------

// One symbol of a lane in state x: its table entry (the symbol in its low bits); x becomes
// the next state.
LMGC_FAST_INLINE std::uint32_t next_entry(const std::uint32_t* dt, std::uint32_t& x,
                                          tans_reader& br) {
    const std::uint32_t e = dt[x];
    x = (e >> next_shift) + br.get((e >> nb_shift) & 0xF);
    return e;
}

// The values of `steps` whole steps, lane k's at out + k * lane_bytes onwards: a symbol from
// the lane's tANS state, then the value from it and the low bytes at raw (which moves on). The
// caller has checked that the symbol stream lasts (safe_steps) and that the low bytes of 4
// values per step last, with 8 bytes to spare for the loads.
template <typename U>
LMGC_FAST_CLONES void decode_steps(const std::uint32_t* dt, tans_reader& br_io,
                                   std::uint32_t (&idx)[n_lanes], const std::uint8_t*& raw_io,
                                   std::uint8_t* out, std::size_t steps, std::size_t lane_bytes) {
    constexpr unsigned top_shift = 8 * low_bytes<U>;
    // Everything the loop changes lives in locals: stores through a byte pointer could alias
    // any object in memory, which would force the coder's state back there at every value.
    tans_reader br = br_io;
    std::uint32_t x0 = idx[0], x1 = idx[1], x2 = idx[2], x3 = idx[3];
    const std::uint8_t* raw = raw_io;
    auto one = [&](std::uint32_t& x, std::uint8_t* to) LMGC_FAST_LAMBDA {
        const std::uint32_t e = next_entry(dt, x, br);
        // Without branches: symbols are at most 256 (zero_symbol), so s >> 8 is 1 for a zero.
        const unsigned s = e & sym_mask, zero = s >> 8;
        const U v = static_cast<U>(U(s) << top_shift | load_low<U>(raw));
        store_le(to, static_cast<U>(v & (U(zero) - 1)));
        raw += (zero ^ 1) * low_bytes<U>;
    };
    for (std::size_t t = 0; t < steps; ++t, out += sizeof(U)) {
        one(x0, out);
        one(x1, out + lane_bytes);
        one(x2, out + 2 * lane_bytes);
        one(x3, out + 3 * lane_bytes);
        br.refill_unchecked();
    }
    idx[0] = x0, idx[1] = x1, idx[2] = x2, idx[3] = x3;
    br_io = br;
    raw_io = raw;
}

// The symbols of `steps` whole steps, each table entry e of step t, lane k handed to
// put(e, t, k).
template <typename Put>
LMGC_FAST_INLINE void for_symbol_steps(const std::uint32_t* dt, tans_reader& br_io,
                                       std::uint32_t (&idx)[n_lanes], std::size_t steps,
                                       Put&& put) {
    tans_reader br = br_io;
    std::uint32_t x0 = idx[0], x1 = idx[1], x2 = idx[2], x3 = idx[3];
    for (std::size_t t = 0; t < steps; ++t) {
        put(next_entry(dt, x0, br), t, 0);
        put(next_entry(dt, x1, br), t, 1);
        put(next_entry(dt, x2, br), t, 2);
        put(next_entry(dt, x3, br), t, 3);
        br.refill_unchecked();
    }
    idx[0] = x0, idx[1] = x1, idx[2] = x2, idx[3] = x3;
    br_io = br;
}

// The dense mode's symbols of `steps` whole steps: lane k's at sym + k * block_steps.
LMGC_FAST_CLONES void decode_dense_steps(const std::uint32_t* dt, tans_reader& br,
                                         std::uint32_t (&idx)[n_lanes], std::uint8_t* sym,
                                         std::size_t steps) {
    for_symbol_steps(dt, br, idx, steps,
                     [&](std::uint32_t e, std::size_t t, unsigned k) LMGC_FAST_LAMBDA {
                         sym[k * block_steps + t] = static_cast<std::uint8_t>(e);
                     });
}

// Joins count values from their top bytes (sym) and low bytes (low, in value order).
template <typename U>
LMGC_FAST_INLINE void join_values(const std::uint8_t* sym, const std::uint8_t* low,
                                  std::uint8_t* out, std::size_t count) {
#if LMGC_PLANES_X86
    // 16-bit: 16 values at a time, a last partial group redone overlapping the one before it
    // (the same bytes), rather than a scalar tail per piece between zero runs (~100 values
    // each in f16 copies of small gradients: decoding 2-3% faster there).
    if constexpr (sizeof(U) == 2)
        if (count >= 16) {
            auto group = [&](std::size_t i) LMGC_FAST_LAMBDA {
                const __m128i l = _mm_loadu_si128(reinterpret_cast<const __m128i*>(low + i));
                const __m128i s = _mm_loadu_si128(reinterpret_cast<const __m128i*>(sym + i));
                _mm_storeu_si128(reinterpret_cast<__m128i*>(out + 2 * i), _mm_unpacklo_epi8(l, s));
                _mm_storeu_si128(reinterpret_cast<__m128i*>(out + 2 * i + 16),
                                 _mm_unpackhi_epi8(l, s));
            };
            std::size_t i = 0;
            for (; i + 16 <= count; i += 16) group(i);
            if (i < count) group(count - 16);
            return;
        }
#endif
    for (std::size_t i = 0; i < count; ++i) {
        for (unsigned b = 0; b < low_bytes<U>; ++b)
            out[i * sizeof(U) + b] = low[i * low_bytes<U> + b];
        out[i * sizeof(U) + low_bytes<U>] = sym[i];
    }
}

#if LMGC_PLANES_X86
// The coded mode in two passes (16-bit values, AVX-512): the symbols of `steps` whole steps
// into sym[4 * t + k] (lane k), then the values joined from them and the low bytes of the
// nonzero ones (in that order), 16 steps at a time by an expanding load.
LMGC_FAST_CLONES void decode_coded_symbols(const std::uint32_t* dt, tans_reader& br,
                                           std::uint32_t (&idx)[n_lanes], std::uint16_t* sym,
                                           std::size_t steps) {
    for_symbol_steps(dt, br, idx, steps,
                     [&](std::uint32_t e, std::size_t t, unsigned k) LMGC_FAST_LAMBDA {
                         sym[n_lanes * t + k] = static_cast<std::uint16_t>(e & sym_mask);
                     });
}

// The second pass for `steps` (a multiple of 16) steps: lane k's values at out + k * lane_bytes
// onwards; returns the low bytes' end. The caller has checked that the low bytes of every
// value last.
// (GCC 12 warns, wrongly, that its own 512-to-256-bit extracts read an undefined value.)
#if !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
__attribute__((target("avx512f,avx512bw,avx512vbmi2,popcnt"))) const std::uint8_t*
join_coded16_avx512(const std::uint16_t* sym, const std::uint8_t* raw, std::uint8_t* out,
                    std::size_t steps, std::size_t lane_bytes) {
    // Values 4i + k of the 64 (steps t..t+15 of 4 lanes) to lane k's 16: lanes 0 and 1 from
    // one permutation, 2 and 3 from another.
    alignas(64) std::uint16_t order01[32], order23[32];
    for (unsigned i = 0; i < 16; ++i) {
        order01[i] = static_cast<std::uint16_t>(4 * i),
        order01[16 + i] = static_cast<std::uint16_t>(4 * i + 1);
        order23[i] = static_cast<std::uint16_t>(4 * i + 2),
        order23[16 + i] = static_cast<std::uint16_t>(4 * i + 3);
    }
    const __m512i lanes01 = _mm512_load_si512(order01), lanes23 = _mm512_load_si512(order23);
    const __m512i zero_bit = _mm512_set1_epi16(0x100), top = _mm512_set1_epi16(0xFF);
    for (std::size_t t = 0; t < steps; t += 16, sym += 64, out += 32) {
        const __m512i s0 = _mm512_loadu_si512(sym), s1 = _mm512_loadu_si512(sym + 32);
        // Nonzero values (symbols below 256), one bit per value in step order.
        const __mmask64 nonzero = std::uint64_t{_mm512_testn_epi16_mask(s1, zero_bit)} << 32 |
                                  _mm512_testn_epi16_mask(s0, zero_bit);
        const __m512i low = _mm512_maskz_expandloadu_epi8(nonzero, raw);
        raw += _mm_popcnt_u64(nonzero);
        const __m512i v0 = _mm512_or_si512(_mm512_slli_epi16(_mm512_and_si512(s0, top), 8),
                                           _mm512_cvtepu8_epi16(_mm512_castsi512_si256(low)));
        const __m512i v1 = _mm512_or_si512(_mm512_slli_epi16(_mm512_and_si512(s1, top), 8),
                                           _mm512_cvtepu8_epi16(_mm512_extracti64x4_epi64(low, 1)));
        const __m512i a = _mm512_permutex2var_epi16(v0, lanes01, v1);
        const __m512i b = _mm512_permutex2var_epi16(v0, lanes23, v1);
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(out), _mm512_castsi512_si256(a));
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + lane_bytes),
                            _mm512_extracti64x4_epi64(a, 1));
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + 2 * lane_bytes),
                            _mm512_castsi512_si256(b));
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + 3 * lane_bytes),
                            _mm512_extracti64x4_epi64(b, 1));
    }
    return raw;
}
#if !defined(__clang__)
#pragma GCC diagnostic pop
#endif
#endif

// Zeroes the runs' values in out (size bytes, values of w bytes). Short runs, the common case
// with one run in ~100 values, take one 32-byte store that may run into the values after them
// (joined later), never past out's end, rather than a library call each.
LMGC_FAST_CLONES void zero_runs(std::uint8_t* out, std::size_t size,
                                const std::vector<zero_run>& runs, std::size_t w) {
    const std::uint8_t zeros[32] = {};
    for (const auto& run : runs) {
        std::uint8_t* const at = out + run.at * w;
        const std::size_t z = run.len * w;
        if (z <= 32 && size - run.at * w >= 32)
            std::memcpy(at, zeros, 32);
        else
            std::memset(at, 0, z);
    }
}

// A lane's place among a dense chunk's zero runs: the next run after its values so far, and
// the zeros before them.
struct run_cursor {
    std::size_t next = 0, shift = 0;
};

// Joins count values of a lane, the coded values i onwards, into their places in out: value
// i + the zeros of the runs before it (pieces between the runs).
template <typename U>
LMGC_FAST_CLONES void join_placed(const std::uint8_t* sym, const std::uint8_t* low,
                                  std::uint8_t* out, std::size_t i, std::size_t count,
                                  run_cursor& c, const std::vector<zero_run>& runs) {
    for (;;) {
        while (c.next < runs.size() && runs[c.next].kept <= i) c.shift += runs[c.next++].len;
        const std::size_t piece =
            c.next < runs.size() ? std::min(count, runs[c.next].kept - i) : count;
        join_values<U>(sym, low + i * low_bytes<U>, out + (i + c.shift) * sizeof(U), piece);
        if (piece == count) return;
        sym += piece, i += piece, count -= piece;
    }
}

// Reader of the version-3 run list, over a copy with 16 zero bytes after it: every read checks
// that it stayed within the list.
class run_list_reader {
  public:
    run_list_reader(byte_span list, bytes& buf) : bits_(list.size() * 8) {
        buf.assign(list.size() + 16, 0);
        if (!list.empty()) std::memcpy(buf.data(), list.data(), list.size());
        p_ = buf.data();
    }
    std::uint64_t get(unsigned n) { // n <= 48
        const std::uint64_t v = peek() & ((std::uint64_t{1} << n) - 1);
        advance(n);
        return v;
    }
    std::uint64_t get_eg() {
        const std::uint64_t x = peek() & ((std::uint64_t{1} << 48) - 1);
        const unsigned zeros = static_cast<unsigned>(std::countr_zero(x)); // 48 if x == 0
        LMGC_CHECK(zeros < 48, errc::corrupt, "planes: bad zero run list");
        advance(zeros + 1);
        return ((std::uint64_t{1} << zeros) | get(zeros)) - 1;
    }
    // Whether the list was read to its last byte.
    bool used_up() const { return (pos_ + 7) / 8 == bits_ / 8; }

  private:
    std::uint64_t peek() const { return load_le<std::uint64_t>(p_ + (pos_ >> 3)) >> (pos_ & 7); }
    void advance(unsigned n) {
        pos_ += n;
        LMGC_CHECK(pos_ <= bits_, errc::corrupt, "planes: zero run list truncated");
    }
    const std::uint8_t* p_;
    std::size_t bits_, pos_ = 0;
};

// The dense mode's zero runs into sc.runs (version 2: runs of min_zero_run or more as varints;
// version 3: every run, in bits); returns the values left to decode.
std::size_t read_zero_runs(byte_reader& r, unsigned version, std::size_t n_all, scratch& sc) {
    std::size_t n = n_all, end = 0;
    sc.runs.clear();
    if (version == payload_version_2) {
        const std::size_t count = r.varint_max(n_all / min_zero_run, "zero run count");
        for (std::size_t i = 0; i < count; ++i) {
            const std::size_t gap = r.varint_max(n_all - end, "zero run position");
            const std::size_t room = n_all - end - gap;
            LMGC_CHECK(room >= min_zero_run, errc::corrupt,
                       "planes: zero run past the chunk's end");
            const std::size_t len =
                r.varint_max(room - min_zero_run, "zero run length") + min_zero_run;
            sc.runs.push_back({end + gap, len, end + gap - (n_all - n)});
            end += gap + len;
            n -= len;
        }
        return n;
    }
    const std::size_t count = r.varint_max(n_all, "zero run count");
    LMGC_CHECK(count > 0, errc::corrupt, "planes: version-3 dense chunk without zero runs");
    const unsigned k = r.u8();
    LMGC_CHECK(k <= run_k_max, errc::corrupt, "planes: zero run list k ", k, " is out of range");
    const byte_span list = r.raw(r.varint_max(r.remaining(), "zero run list size"));
    // Each run takes 2 bits at least.
    LMGC_CHECK(count <= list.size() * 4, errc::corrupt, "planes: zero run list truncated");
    run_list_reader rr(list, sc.run_bits);
    for (std::size_t i = 0; i < count; ++i) {
        std::uint64_t gap = rr.get_eg();
        LMGC_CHECK(gap <= (n_all - end) >> k, errc::corrupt,
                   "planes: zero run past the chunk's end");
        gap = gap << k | rr.get(k);
        const std::uint64_t len = rr.get_eg() + 1;
        LMGC_CHECK(gap <= n_all - end && len <= n_all - end - gap, errc::corrupt,
                   "planes: zero run past the chunk's end");
        sc.runs.push_back({end + gap, len, end + gap - (n_all - n)});
        end += gap + len;
        n -= len;
    }
    LMGC_CHECK(rr.used_up(), errc::corrupt, "planes: zero run list has unused bytes");
    return n;
}

template <typename U>
void decode_values(byte_reader& r, byte_span coded, std::span<std::uint8_t> out, bool dense,
                   unsigned version, bool simd) {
    constexpr unsigned R = low_bytes<U>, top_shift = 8 * R;
    const std::size_t n_all = out.size() / sizeof(U), tail = out.size() - n_all * sizeof(U);
    LMGC_CHECK(n_all > 0, errc::corrupt, "planes: coded payload for a chunk without whole values");
    auto& sc = thread_scratch();

    const unsigned table_log = r.u8();
    LMGC_CHECK(table_log >= table_log_min && table_log <= table_log_max, errc::corrupt,
               "planes: table_log ", table_log, " is out of range");
    const unsigned ctx_mask = r.u8();
    const unsigned center = r.u8();
    LMGC_CHECK(center < 128, errc::corrupt, "planes: center ", center, " is out of range");
    LMGC_CHECK((ctx_mask & 1) && ctx_mask < (1u << n_contexts), errc::corrupt,
               "planes: bad context mask");
    // Dense: the zero runs left out; n values coded.
    std::size_t n = n_all;
    if (dense) {
        n = read_zero_runs(r, version, n_all, sc);
        LMGC_CHECK(n > 0, errc::corrupt, "planes: dense chunk of zero runs only");
    }
    const lanes ln(n);
    const byte_span desc = r.raw(r.varint_max(r.remaining(), "table description size"));
    const byte_span stream = r.raw(r.varint_max(r.remaining(), "coded symbols size"));
    LMGC_CHECK(r.remaining() >= tail, errc::corrupt, "planes: payload truncated");
    const std::uint8_t* const raw_begin = coded.data() + r.pos();
    const std::uint8_t* const raw_end = raw_begin + (r.remaining() - tail);
    const std::uint8_t* const coded_end = coded.data() + coded.size();
    LMGC_CHECK(!dense || !(ctx_mask & 2), errc::corrupt,
               "planes: a dense chunk has a table for the context after a zero");
    LMGC_CHECK(!dense || static_cast<std::size_t>(raw_end - raw_begin) == n * R, errc::corrupt,
               "planes: dense chunk has ", raw_end - raw_begin, " low bytes, expected ", n * R);
    // Dense chunks have no zero symbol.
    const unsigned n_coded_symbols = dense ? zero_symbol : n_symbols;
    // The coded mode's AVX-512 join (16-bit values), where the CPU has it.
    bool simd16 = false;
#if LMGC_PLANES_X86
    if constexpr (sizeof(U) == 2)
        simd16 = simd && !dense && __builtin_cpu_supports("avx512vbmi2") &&
                 __builtin_cpu_supports("avx512bw");
#endif

    // Decode tables: contexts without a table, and a trap region after them, decode a zero
    // and go to the trap, where a lane stays and fails the final check.
    const unsigned size = 1u << table_log;
    const std::uint32_t trap_entry =
        (std::uint32_t{n_contexts} << table_log) << next_shift | zero_symbol;
    std::uint32_t* const dtable = grow(sc.dtable, std::size_t{n_contexts + 1} << table_log);
    std::fill_n(dtable + (n_contexts << table_log), size, trap_entry);
    grow(sc.norm, n_symbols);
    grow(sc.present, n_symbols);
    grow(sc.spread, size);
    std::uint16_t* norm = sc.norm.data();
    std::uint16_t* present = sc.present.data();
    bit_reader dr(desc, who);
    for (unsigned c = 0; c < n_contexts; ++c) {
        std::uint32_t* dt = dtable + (c << table_log);
        if (!(ctx_mask >> c & 1)) {
            std::fill_n(dt, size, trap_entry);
            continue;
        }
        const unsigned np = read_description(dr, n_coded_symbols, size, norm, present, who);
        spread_symbols(norm, present, np, table_log, sc.spread.data());
        for (unsigned u = 0; u < size; ++u) {
            const unsigned s = sc.spread[u];
            const unsigned xs = norm[s]++;
            const unsigned nb = table_log - highbit(xs);
            const unsigned next = (context_after(s, center) << table_log) + (xs << nb) - size;
            dt[u] = next << next_shift | nb << nb_shift | s;
        }
    }
    LMGC_CHECK(dr.bytes_used() == desc.size(), errc::corrupt,
               "planes: table description has unused bytes");

    tans_reader br(stream, sc.stream, who);
    std::uint32_t idx[n_lanes] = {};
    for (unsigned k = 0; k < n_lanes; ++k)
        if (ln.len[k]) idx[k] = br.get(table_log);
    LMGC_CHECK(br.refill(), errc::corrupt, "planes: coded symbols truncated");
    std::uint8_t* const dst = out.data();
    const std::uint8_t* raw = raw_begin;
    if (dense) {
        // The runs zeroed, then blocks of whole steps' symbols, joined to their low bytes in
        // their places between the runs, then the last steps.
        zero_runs(dst, n_all * sizeof(U), sc.runs, sizeof(U));
        run_cursor cursor[n_lanes];
        std::uint8_t* const sym = grow(sc.sym, n_lanes * block_steps);
        const std::size_t all = ln.len[n_lanes - 1];
        std::size_t j = 0;
        while (j < all) {
            const std::size_t steps =
                std::min({block_steps, all - j, br.safe_steps(n_lanes * table_log)});
            if (steps == 0) break;
            decode_dense_steps(dtable, br, idx, sym, steps);
            for (unsigned k = 0; k < n_lanes; ++k)
                join_placed<U>(sym + k * block_steps, raw_begin, dst, k * ln.q + j, steps,
                               cursor[k], sc.runs);
            j += steps;
        }
        for (; j < ln.q; ++j) {
            for (unsigned k = 0; k < n_lanes; ++k) {
                if (j >= ln.len[k]) continue;
                const auto s = static_cast<std::uint8_t>(next_entry(dtable, idx[k], br));
                join_placed<U>(&s, raw_begin, dst, k * ln.q + j, 1, cursor[k], sc.runs);
            }
            LMGC_CHECK(br.refill(), errc::corrupt, "planes: coded symbols truncated");
        }
    } else {
        // One step the careful way: any lanes, every read checked.
        auto step = [&](std::size_t j) {
            for (unsigned k = 0; k < n_lanes; ++k) {
                if (j >= ln.len[k]) continue;
                const unsigned s = next_entry(dtable, idx[k], br) & sym_mask;
                U v = 0;
                if (s != zero_symbol) {
                    LMGC_CHECK(raw_end - raw >= static_cast<std::ptrdiff_t>(R), errc::corrupt,
                               "planes: low bytes used up");
                    for (unsigned b = 0; b < R; ++b) v |= static_cast<U>(U(raw[b]) << (8 * b));
                    v |= static_cast<U>(U(s) << top_shift);
                    raw += R;
                }
                store_le(dst + (k * ln.q + j) * sizeof(U), v);
            }
            LMGC_CHECK(br.refill(), errc::corrupt, "planes: coded symbols truncated");
        };
        // Blocks of whole steps while the symbols and the low bytes surely last (every value
        // nonzero, 8 bytes to spare for the loads), then the rest the careful way.
        const std::size_t all = ln.len[n_lanes - 1];
        std::size_t j = 0;
        while (j < all) {
            const std::size_t room = static_cast<std::size_t>(coded_end - raw);
            const std::size_t steps =
                std::min({block_steps, all - j, br.safe_steps(n_lanes * table_log),
                          room < 8 ? 0 : (room - 8) / (n_lanes * R)});
            if (steps == 0) break;
            // With the AVX-512 join, its multiple of 16 steps first; the others fused.
            std::size_t joined = 0;
#if LMGC_PLANES_X86
            if (simd16) {
                joined = steps / 16 * 16;
                std::uint16_t* const sym = grow(sc.sym16, n_lanes * block_steps);
                decode_coded_symbols(dtable, br, idx, sym, joined);
                raw = join_coded16_avx512(sym, raw, dst + j * sizeof(U), joined, ln.q * sizeof(U));
            }
#endif
            decode_steps<U>(dtable, br, idx, raw, dst + (j + joined) * sizeof(U), steps - joined,
                            ln.q * sizeof(U));
            j += steps;
        }
        for (; j < ln.q; ++j) step(j);
    }
    LMGC_CHECK(br.left() == 0, errc::corrupt, "planes: coded symbols damaged (",
               br.left() < 0 ? "read past their start" : "bits left over", ")");
    for (unsigned k = 0; k < n_lanes; ++k)
        LMGC_CHECK((idx[k] & (size - 1)) == 0 && idx[k] < (n_contexts << table_log), errc::corrupt,
                   "planes: coded symbols damaged (bad final state)");
    // The coded blocks may read past the low bytes into the tail (never past the payload).
    LMGC_CHECK(dense || raw == raw_end, errc::corrupt, "planes: low bytes damaged (",
               raw < raw_end ? "bytes left over" : "more values than low bytes", ")");
    if (tail) std::memcpy(out.data() + n_all * sizeof(U), coded.data() + coded.size() - tail, tail);
}

class codec_planes final : public codec_i {
  public:
    explicit codec_planes(bool simd) : simd_(simd) {}

    void encode(byte_span raw, const chunk_layout& layout, bytes& out) const override {
        if (raw.size() < dtype_size(layout.type)) return encode_stored(raw, layout.type, out);
        switch (dtype_size(layout.type)) {
        case 2:
            return encode_values<std::uint16_t>(raw, layout.type, simd_, out);
        case 4:
            return encode_values<std::uint32_t>(raw, layout.type, simd_, out);
        case 8:
            return encode_values<std::uint64_t>(raw, layout.type, simd_, out);
        default:
            break;
        }
        LMGC_FAIL(errc::internal, "planes: ", dtype_name(layout.type), " is not a float type");
    }

    void decode(byte_span coded, const chunk_layout& layout,
                std::span<std::uint8_t> out) const override {
        byte_reader r(coded, errc::corrupt, "planes: payload truncated");
        const auto version = r.u8();
        LMGC_CHECK(version >= payload_version_1 && version <= payload_version_3, errc::corrupt,
                   "planes: payload version ", int(version), " is not 1, 2 or 3");
        LMGC_CHECK(r.u8() == static_cast<std::uint8_t>(layout.type), errc::corrupt,
                   "planes: payload element type does not match the stream's");
        const auto mode = r.u8();
        if (mode == mode_stored) {
            LMGC_CHECK(r.remaining() == out.size(), errc::corrupt, "planes: stored chunk has ",
                       r.remaining(), " bytes, expected ", out.size());
            if (!out.empty()) std::memcpy(out.data(), coded.data() + r.pos(), out.size());
            return;
        }
        LMGC_CHECK(mode == mode_coded || (mode == mode_dense && version >= payload_version_2),
                   errc::corrupt, "planes: unknown payload mode ", int(mode), " (version ",
                   int(version), ")");
        const bool dense = mode == mode_dense;
        LMGC_CHECK(dtype_is_float(layout.type), errc::corrupt, "planes: stream of ",
                   dtype_name(layout.type), " values, which planes does not code");
        switch (dtype_size(layout.type)) {
        case 2:
            return decode_values<std::uint16_t>(r, coded, out, dense, version, simd_);
        case 4:
            return decode_values<std::uint32_t>(r, coded, out, dense, version, simd_);
        case 8:
            return decode_values<std::uint64_t>(r, coded, out, dense, version, simd_);
        default:
            break;
        }
        LMGC_FAIL(errc::corrupt, "planes: stream of ", dtype_name(layout.type),
                  " values, which planes does not code");
    }

  private:
    bool simd_; // SIMD loops where the CPU has them (the same bytes either way)
};

} // namespace

std::unique_ptr<codec_i> make_codec_planes(const codec_config& cfg) {
    return std::make_unique<codec_planes>(cfg.get_int("simd", 1, 0, 1) != 0);
}

} // namespace lmgc::detail
