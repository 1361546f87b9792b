// Hostile payloads fed straight to each codec's decoder, bypassing the container's
// checksums: truncation, flipped bytes, junk and trailing bytes give lmgc::error(corrupt) or
// (for formats without a checksum of their own) some output of the right size, and never a
// crash or an out-of-bounds access (this suite also runs under ASan + UBSan).
#include "codec-test-util.hpp"

#include <gtest/gtest.h>

#include <set>

using namespace lmgc;
using namespace lmgc::test;
using detail::dtype;

namespace {

// Formats that carry their own check of the decoded data (adler32, CRC-64, PNG chunk CRCs,
// FLAC frame CRCs + MD5, our CRC in front of fpzip): damage never decodes to wrong bytes.
const std::set<std::string> self_checking = {"gzip", "lzma",  "png",
                                             "flac", "fpzip", "shuffle-lzma"};

enum class outcome { error, same, different };

outcome try_decode(const std::string& codec, dtype t, const bytes& coded, const bytes& raw) {
    try {
        return decode_direct(codec, t, coded, raw.size()) == raw ? outcome::same
                                                                 : outcome::different;
    } catch (const error& e) {
        EXPECT_EQ(e.code(), errc::corrupt) << codec << ": " << e.what();
        return outcome::error;
    }
}

struct case_data {
    dtype type;
    bytes raw;
};

// What each codec is fed: gradient-like data in the paper's 512-byte chunks and a larger
// chunk, in each element type the codec codes natively.
std::vector<case_data> cases_for(const std::string& codec) {
    std::vector<case_data> out;
    const auto& e = detail::find_codec(codec);
    out.push_back({dtype::f32, float_bytes(gradient_like(128, 1))});
    out.push_back({dtype::f32, float_bytes(gradient_like(2000, 2))});
    if (e.supports(dtype::f64)) {
        const auto f = gradient_like(300, 3);
        bytes b(f.size() * 8);
        for (std::size_t i = 0; i < f.size(); ++i) {
            const double d = f[i];
            std::memcpy(b.data() + 8 * i, &d, 8);
        }
        out.push_back({dtype::f64, b});
    }
    if (e.supports(dtype::i32) && codec != "store")
        out.push_back({dtype::i32, random_bytes(400, 4)});
    if (e.supports(dtype::i64) && codec != "store")
        out.push_back({dtype::i64, random_bytes(400, 5)});
    return out;
}

class codecs_damage : public ::testing::TestWithParam<std::string> {};

} // namespace

TEST_P(codecs_damage, truncated_payload_is_an_error) {
    const std::string codec = GetParam();
    for (const auto& c : cases_for(codec)) {
        const auto coded = encode_direct(codec, c.type, c.raw);
        ASSERT_EQ(decode_direct(codec, c.type, coded, c.raw.size()), c.raw);
        for (std::size_t keep = 0; keep < coded.size(); keep += 1 + keep / 7) {
            SCOPED_TRACE("kept " + std::to_string(keep) + " of " + std::to_string(coded.size()));
            const bytes cut(coded.begin(), coded.begin() + static_cast<std::ptrdiff_t>(keep));
            // "store" cannot tell; every other codec must notice the missing end.
            if (codec != "store") {
                EXPECT_EQ(try_decode(codec, c.type, cut, c.raw), outcome::error);
            }
        }
    }
}

TEST_P(codecs_damage, flipped_bytes_never_crash_nor_pass_a_checked_format) {
    const std::string codec = GetParam();
    std::mt19937_64 rng(42);
    for (const auto& c : cases_for(codec)) {
        const auto coded = encode_direct(codec, c.type, c.raw);
        int errors = 0, wrong = 0;
        // Every byte position of small payloads, a sample of the larger ones.
        const std::size_t step = std::max<std::size_t>(1, coded.size() / 400);
        for (std::size_t pos = 0; pos < coded.size(); pos += step) {
            bytes bad = coded;
            bad[pos] ^= static_cast<std::uint8_t>(1 + rng() % 255);
            const auto o = try_decode(codec, c.type, bad, c.raw);
            errors += o == outcome::error;
            wrong += o == outcome::different;
        }
        if (self_checking.count(codec)) {
            EXPECT_EQ(wrong, 0) << codec << " decoded damage silently";
        }
        if (codec != "store") {
            EXPECT_GT(errors, 0) << codec << " never noticed damage";
        }
    }
}

TEST_P(codecs_damage, junk_and_trailing_bytes_never_crash) {
    const std::string codec = GetParam();
    std::mt19937_64 rng(7);
    for (const auto& c : cases_for(codec)) {
        const auto coded = encode_direct(codec, c.type, c.raw);
        // Junk of many sizes, all zeros, all ones, and the valid payload plus junk.
        for (const std::size_t n : {0u, 1u, 4u, 8u, 13u, 64u, 300u, 5000u}) {
            try_decode(codec, c.type, random_bytes(n, rng()), c.raw);
            try_decode(codec, c.type, bytes(n, 0x00), c.raw);
            try_decode(codec, c.type, bytes(n, 0xff), c.raw);
        }
        for (const std::size_t extra : {1u, 8u, 100u}) {
            bytes longer = coded;
            auto junk = random_bytes(extra, extra);
            for (auto& b : junk) b |= 1; // zfp may be followed by zero padding
            longer.insert(longer.end(), junk.begin(), junk.end());
            // Every codec notices bytes after its stream ("store" by the size).
            EXPECT_EQ(try_decode(codec, c.type, longer, c.raw), outcome::error);
        }
        // The right payload decoded into a wrong size.
        for (const std::size_t delta : {std::size_t{1}, detail::dtype_size(c.type)}) {
            try {
                decode_direct(codec, c.type, coded, c.raw.size() + delta);
            } catch (const error& e) {
                EXPECT_EQ(e.code(), errc::corrupt) << e.what();
            }
            if (c.raw.size() >= delta) {
                try {
                    decode_direct(codec, c.type, coded, c.raw.size() - delta);
                } catch (const error& e) {
                    EXPECT_EQ(e.code(), errc::corrupt) << e.what();
                }
            }
        }
    }
}

INSTANTIATE_TEST_SUITE_P(codecs, codecs_damage, ::testing::ValuesIn(built_in_codecs()),
                         codec_param_name());
