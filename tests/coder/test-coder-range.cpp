// Range coder: randomized round trips over many alphabets and distributions, binary and
// raw-bit interfaces, closeness to the ideal code length, and garbage input safety.
#include "coder/coder-range.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

using namespace lmgc::detail;

namespace {

// Frequencies for an alphabet: uniform, skewed (geometric), or with many 1s.
std::vector<std::uint32_t> make_freqs(std::size_t n, int kind, std::uint64_t total_max,
                                      std::mt19937_64& rng) {
    std::vector<std::uint32_t> f(n, 1);
    const std::uint64_t budget = total_max - n; // every symbol keeps >= 1
    if (kind == 0) {
        for (auto& x : f) x = static_cast<std::uint32_t>(1 + budget / n);
    } else if (kind == 1) {
        double w = 1.0, sum = 0;
        std::vector<double> ws(n);
        for (std::size_t i = 0; i < n; ++i) sum += (ws[i] = w), w *= 0.7;
        for (std::size_t i = 0; i < n; ++i)
            f[i] += static_cast<std::uint32_t>(static_cast<double>(budget) * ws[i] / sum);
    } else {
        // mostly frequency-1 symbols, a few heavy ones
        for (int k = 0; k < 4; ++k) f[rng() % n] += static_cast<std::uint32_t>(budget / 4);
    }
    return f;
}

std::size_t sample(const std::vector<std::uint64_t>& cum, std::mt19937_64& rng) {
    const std::uint64_t t = rng() % cum.back();
    return static_cast<std::size_t>(std::upper_bound(cum.begin(), cum.end(), t) - cum.begin()) - 1;
}

} // namespace

TEST(coder_range, round_trip_alphabets_and_distributions) {
    std::mt19937_64 rng(1);
    const std::size_t sizes[] = {2, 3, 16, 17, 256, 4096, 32000, 65536, 128256, 262144};
    const std::uint64_t totals[] = {1u << 16, 1u << 24, std::uint64_t{1} << 32};
    std::size_t symbols_total = 0;
    for (const auto n : sizes)
        for (const auto tmax : totals) {
            if (tmax < 2 * n) continue;
            for (int kind = 0; kind < 3; ++kind) {
                const auto freqs = make_freqs(n, kind, tmax, rng);
                const auto cum = cdf_from_freqs(freqs);
                const cdf_view cdf{cum};
                const std::size_t count = 20000;
                std::vector<std::size_t> syms(count);
                for (auto& s : syms) s = (rng() % 8 == 0) ? rng() % n : sample(cum, rng);
                bytes out;
                range_encoder enc(out);
                for (const auto s : syms) enc.encode(cdf, s);
                enc.finish();
                range_decoder dec(out);
                for (std::size_t i = 0; i < count; ++i)
                    ASSERT_EQ(dec.decode(cdf), syms[i])
                        << "n=" << n << " total=" << tmax << " kind=" << kind << " i=" << i;
                EXPECT_LE(dec.overrun(), 7u);
                symbols_total += count;
            }
        }
    EXPECT_GT(symbols_total, 1'000'000u);
}

TEST(coder_range, changing_tables_per_symbol) {
    // Models change the table at every step; totals vary from 2 to 2^32.
    std::mt19937_64 rng(2);
    struct step {
        std::vector<std::uint64_t> cum;
        std::size_t sym;
    };
    std::vector<step> steps;
    for (int i = 0; i < 200000; ++i) {
        const std::size_t n = 2 + rng() % 40;
        std::vector<std::uint32_t> f(n);
        for (auto& x : f) x = 1 + static_cast<std::uint32_t>(rng() % (i % 3 == 0 ? 3 : 100000000));
        auto cum = cdf_from_freqs(f);
        const auto s = sample(cum, rng);
        steps.push_back({std::move(cum), s});
    }
    bytes out;
    range_encoder enc(out);
    for (const auto& s : steps) enc.encode(cdf_view{s.cum}, s.sym);
    enc.finish();
    range_decoder dec(out);
    for (const auto& s : steps) ASSERT_EQ(dec.decode(cdf_view{s.cum}), s.sym);
}

TEST(coder_range, a_table_without_any_nonzero_frequency_is_refused) {
    const std::vector<std::uint32_t> f = {0, 0, 0};
    EXPECT_THROW(cdf_from_freqs(f), lmgc::error);
}

TEST(coder_range, zero_frequency_symbols_are_skipped) {
    const std::vector<std::uint32_t> f = {0, 5, 0, 0, 7, 0, 1, 0};
    const auto cum = cdf_from_freqs(f);
    const std::vector<std::size_t> syms = {1, 4, 6, 6, 1, 4, 4, 1, 6};
    bytes out;
    range_encoder enc(out);
    for (const auto s : syms) enc.encode(cdf_view{cum}, s);
    enc.finish();
    range_decoder dec(out);
    for (const auto s : syms) EXPECT_EQ(dec.decode(cdf_view{cum}), s);
}

TEST(coder_range, bits_and_raw_bits) {
    std::mt19937_64 rng(3);
    struct item {
        int kind;
        unsigned p_or_n;
        std::uint32_t value;
    };
    std::vector<item> items;
    for (int i = 0; i < 1'000'000; ++i) {
        if (rng() % 4 == 0) {
            const unsigned n = 1 + static_cast<unsigned>(rng() % 24);
            items.push_back({1, n, static_cast<std::uint32_t>(rng()) & ((1u << n) - 1)});
        } else {
            const unsigned p = 1 + static_cast<unsigned>(rng() % 65535);
            const int bit = (rng() % 65536) < p ? 1 : 0;
            items.push_back({0, p, static_cast<std::uint32_t>(bit)});
        }
    }
    bytes out;
    range_encoder enc(out);
    for (const auto& it : items) {
        if (it.kind == 0)
            enc.encode_bit(it.p_or_n, static_cast<int>(it.value));
        else
            enc.encode_bits(it.value, it.p_or_n);
    }
    enc.finish();
    range_decoder dec(out);
    for (const auto& it : items) {
        if (it.kind == 0)
            ASSERT_EQ(static_cast<std::uint32_t>(dec.decode_bit(it.p_or_n)), it.value);
        else
            ASSERT_EQ(dec.decode_bits(it.p_or_n), it.value);
    }
}

TEST(coder_range, close_to_ideal_code_length) {
    // Long streams over a skewed 300-symbol alphabet and a 128k vocabulary with total 2^32.
    std::mt19937_64 rng(4);
    for (const std::size_t n : {std::size_t{300}, std::size_t{128000}}) {
        const auto freqs = make_freqs(n, 1, n > 1000 ? (std::uint64_t{1} << 32) : (1u << 16), rng);
        const auto cum = cdf_from_freqs(freqs);
        const cdf_view cdf{cum};
        double ideal_bits = 0;
        bytes out;
        range_encoder enc(out);
        for (int i = 0; i < 2'000'000; ++i) {
            const auto s = sample(cum, rng);
            ideal_bits -=
                std::log2(static_cast<double>(cdf.freq(s)) / static_cast<double>(cdf.total()));
            enc.encode(cdf, s);
        }
        enc.finish();
        const double actual_bits = 8.0 * static_cast<double>(out.size());
        EXPECT_LE(actual_bits, ideal_bits * 1.001) << "n=" << n;
        EXPECT_GE(actual_bits, ideal_bits * 0.99);
    }
    // Binary: p = 0.9
    double ideal = 0;
    bytes out;
    range_encoder enc(out);
    const unsigned p1 = 58982; // ~0.9
    for (int i = 0; i < 4'000'000; ++i) {
        const int bit = (rng() % 65536) < p1 ? 1 : 0;
        ideal -= std::log2(bit ? p1 / 65536.0 : (65536.0 - p1) / 65536.0);
        enc.encode_bit(p1, bit);
    }
    enc.finish();
    EXPECT_LE(8.0 * static_cast<double>(out.size()), ideal * 1.001);
}

TEST(coder_range, empty_and_tiny_streams) {
    bytes out;
    range_encoder enc(out);
    enc.finish();
    EXPECT_TRUE(out.empty());
    const std::vector<std::uint32_t> f = {1, 1};
    const auto cum = cdf_from_freqs(f);
    for (int s = 0; s < 2; ++s) {
        bytes o;
        range_encoder e(o);
        e.encode(cdf_view{cum}, static_cast<std::size_t>(s));
        e.finish();
        EXPECT_LE(o.size(), 1u);
        range_decoder d(o);
        EXPECT_EQ(d.decode(cdf_view{cum}), static_cast<std::size_t>(s));
    }
}

TEST(coder_range, garbage_input_stays_in_bounds) {
    std::mt19937_64 rng(5);
    const std::vector<std::uint32_t> f = {3, 1, 1000, 1, 1, 70000};
    const auto cum = cdf_from_freqs(f);
    for (int trial = 0; trial < 200; ++trial) {
        bytes junk(rng() % 64);
        for (auto& b : junk) b = static_cast<std::uint8_t>(rng());
        range_decoder dec(junk);
        for (int i = 0; i < 1000; ++i) {
            ASSERT_LT(dec.decode(cdf_view{cum}), f.size());
            (void)dec.decode_bit(1 + static_cast<unsigned>(rng() % 65535));
            ASSERT_LT(dec.decode_bits(7), 128u);
        }
    }
}

TEST(coder_range, zero_tails_keep_overrun_within_7_bytes) {
    // Streams whose coded bytes end in more than 7 zero bytes (found by the coder_round_trip
    // fuzz target): the decoder must still need at most 7 bytes past the end.
    const std::vector<std::uint32_t> freqs = {1, 1000000, 3};
    const auto cum = cdf_from_freqs(freqs);
    const cdf_view cdf{cum};
    int long_tails = 0;
    for (int seed = 0; seed < 4000; ++seed) {
        std::mt19937_64 rng(static_cast<std::uint64_t>(seed));
        std::vector<std::size_t> syms(1 + rng() % 200);
        for (auto& s : syms) s = rng() % 50 == 0 ? 0 : 1;
        bytes out;
        range_encoder enc(out);
        for (const auto s : syms) enc.encode(cdf, s);
        enc.finish();
        long_tails += !out.empty() && out.back() == 0; // 7 zero bytes dropped, more remain
        range_decoder dec(out);
        for (const auto s : syms) ASSERT_EQ(dec.decode(cdf), s) << "seed " << seed;
        EXPECT_LE(dec.overrun(), 7u) << "seed " << seed;
    }
    EXPECT_GE(long_tails, 1);
}
