// Frozen .lmgc files of format version 1.0 (tests/golden/*.lmgc) must keep decoding to the
// same bytes, and damaged or foreign files (tests/golden/malformed/) must keep failing with
// the same error category. The files were written once by this test:
//   LMGC_GOLDEN_REGENERATE=1 build/tests/golden/test-golden
// which overwrites them and the two manifests; never do that for a released format
// version (a reader must decode every file an older lmgc wrote).
#include "common/common-checksum.hpp"
#include "lmgc/lmgc.hpp"
#include "testutil.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>

using namespace lmgc;
using namespace lmgc::test;

namespace {

std::string golden_dir() {
    return source_dir() + "/tests/golden";
}

bool regenerate() {
    return std::getenv("LMGC_GOLDEN_REGENERATE") != nullptr;
}

// 64-bit FNV-1a: a second, independent checksum next to CRC-32C.
std::uint64_t fnv1a64(const bytes& b) {
    std::uint64_t h = 0xcbf29ce484222325ull;
    for (const auto x : b) h = (h ^ x) * 0x100000001b3ull;
    return h;
}

std::string hex(std::uint64_t v, int digits) {
    std::ostringstream os;
    os << std::hex;
    os.width(digits);
    os.fill('0');
    os << v;
    return os.str();
}

bytes bits_bytes(const std::vector<std::uint32_t>& bits) {
    bytes b(bits.size() * 4);
    std::memcpy(b.data(), bits.data(), b.size());
    return b;
}

bytes random_bytes(std::size_t n, std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    bytes b(n);
    for (auto& x : b) x = static_cast<std::uint8_t>(rng());
    return b;
}

struct golden_case {
    std::string name;
    bytes input;
    std::string codec;
    std::uint64_t chunk_bytes; // 0: unchunked
    input_format format = input_format::auto_detect;
};

// The inputs the frozen files were made from (only used when regenerating).
std::vector<golden_case> golden_cases() {
    return {
        {"npy-f32-zstd", make_npy("<f4", {1000}, float_bytes(gradient_like(1000, 1))), "zstd",
         1024},
        {"npy-f64be-fortran-gzip", make_npy(">f8", {20, 15}, random_bytes(2400, 2), true, 2),
         "gzip", 512},
        {"safetensors-mixed-store",
         make_safetensors({{"w", "F32", {8, 8}, float_bytes(gradient_like(64, 3))},
                           {"b", "BF16", {8}, random_bytes(16, 4)},
                           {"empty", "F32", {0}, {}},
                           {"step", "I64", {1}, random_bytes(8, 5)},
                           {"h", "F16", {3, 3}, random_bytes(18, 6)}},
                          {{"format", "pt"}}),
         "store", 64},
        {"raw-special-zstd-unchunked", bits_bytes(special_f32_bits(200, 7)), "zstd", 0,
         input_format::raw},
        {"torch-collector-zstd",
         make_torch_file(
             {{"conv1.weight", "FloatStorage", {4, 1, 3, 3}, float_bytes(gradient_like(36, 8))},
              {"conv1.bias", "FloatStorage", {4}, float_bytes(gradient_like(4, 9))},
              {"fc.weight", "BFloat16Storage", {2, 8}, random_bytes(32, 10)},
              {"gn.num_groups", "LongStorage", {}, random_bytes(8, 11)}},
             400),
         "zstd", 128},
    };
}

bool codec_built(const std::string& name) {
    for (const auto& c : list_codecs())
        if (c.name == name) return c.available;
    return false;
}

std::vector<std::vector<std::string>> read_manifest(const std::string& path) {
    std::ifstream f(path);
    std::vector<std::vector<std::string>> out;
    std::string line;
    while (std::getline(f, line)) {
        if (line.empty() || line[0] == '#') continue;
        std::istringstream is(line);
        std::vector<std::string> fields;
        std::string x;
        while (is >> x) fields.push_back(x);
        out.push_back(fields);
    }
    return out;
}

errc category(const std::string& name) {
    for (const errc e : {errc::io, errc::bad_input, errc::corrupt, errc::unsupported, errc::usage,
                         errc::mismatch, errc::internal})
        if (name == errc_name(e)) return e;
    return errc::ok;
}

// Writes the golden files and both manifests into the source tree.
void write_golden() {
    const auto dir = golden_dir();
    std::ofstream m(dir + "/golden.txt");
    m << "# file codec original_size crc32c fnv1a64 (of the decoded original file)\n";
    bytes first;
    for (const auto& c : golden_cases()) {
        auto p = default_compress_params();
        p.codec = c.codec;
        p.chunk_bytes = c.chunk_bytes;
        p.unchunked = c.chunk_bytes == 0;
        p.format = c.format;
        const auto image = compress(c.input, p);
        ASSERT_EQ(decompress(image, default_decompress_params()), c.input);
        write_bytes(dir + "/" + c.name + ".lmgc", image);
        m << c.name << ".lmgc " << c.codec << " " << c.input.size() << " "
          << hex(detail::crc32c(c.input), 8) << " " << hex(fnv1a64(c.input), 16) << "\n";
        if (first.empty()) first = image;
    }
    // Damaged copies of the first file, each with the error category it must produce.
    std::ofstream mm(dir + "/malformed/malformed.txt");
    mm << "# file error-category (one-line message, non-zero exit)\n";
    auto put = [&](const std::string& name, const bytes& b, errc e) {
        write_bytes(dir + "/malformed/" + name, b);
        mm << name << " " << errc_name(e) << "\n";
    };
    const auto n = first.size();
    auto flip = [&](std::size_t at) {
        auto b = first;
        b[at] ^= 0x10;
        return b;
    };
    put("empty.lmgc", {}, errc::corrupt);
    put("truncated-magic.lmgc", bytes(first.begin(), first.begin() + 5), errc::corrupt);
    put("truncated-header.lmgc", bytes(first.begin(), first.begin() + 40), errc::corrupt);
    put("truncated-half.lmgc",
        bytes(first.begin(), first.begin() + static_cast<std::ptrdiff_t>(n / 2)), errc::corrupt);
    put("truncated-end-marker.lmgc", bytes(first.begin(), first.end() - 3), errc::corrupt);
    put("bitflip-header.lmgc", flip(20), errc::corrupt);
    put("bitflip-payload.lmgc", flip(n / 2 + n / 4), errc::corrupt);
    put("bitflip-magic.lmgc", flip(2), errc::corrupt);
    auto newer = first;
    newer[8] = 2; // format 2.0
    put("newer-major-version.lmgc", newer, errc::unsupported);
    auto minor = first;
    minor[10] = 1; // format 1.1
    put("newer-minor-version.lmgc", minor, errc::unsupported);
    auto older = first;
    older[8] = 0; // format 0.0 never existed
    put("bad-version.lmgc", older, errc::corrupt);
    auto end = first;
    end[n - 1] = 'X';
    put("bad-end-marker.lmgc", end, errc::corrupt);
    auto trailing = first;
    trailing.insert(trailing.end(), {'j', 'u', 'n', 'k'});
    put("trailing-bytes.lmgc", trailing, errc::corrupt);
    put("foreign-npy.lmgc", golden_cases()[0].input, errc::corrupt);
    put("foreign-gzip.lmgc",
        bytes{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0}, errc::corrupt);
    put("foreign-text.lmgc", bytes{'h', 'e', 'l', 'l', 'o', '\n'}, errc::corrupt);
}

} // namespace

TEST(golden, frozen_v1_files_decode_to_known_bytes) {
    if (regenerate()) write_golden();
    const auto lines = read_manifest(golden_dir() + "/golden.txt");
    ASSERT_EQ(lines.size(), golden_cases().size());
    for (const auto& f : lines) {
        ASSERT_EQ(f.size(), 5u);
        SCOPED_TRACE(f[0]);
        if (!codec_built(f[1])) {
            std::printf("skipping %s: codec %s not built in\n", f[0].c_str(), f[1].c_str());
            continue;
        }
        const auto image = read_bytes(golden_dir() + "/" + f[0]);
        const auto info = inspect(image);
        EXPECT_EQ(info.format_major, 1u);
        EXPECT_EQ(info.format_minor, 0u);
        const auto out = decompress(image, default_decompress_params());
        EXPECT_EQ(std::to_string(out.size()), f[2]);
        EXPECT_EQ(hex(detail::crc32c(out), 8), f[3]);
        EXPECT_EQ(hex(fnv1a64(out), 16), f[4]);
    }
}

TEST(golden, frozen_v1_files_match_their_sources) {
    // Where the test data generators are unchanged, the frozen files also decode to exactly
    // what they were made from (a check of the generators, not of the format).
    const auto cases = golden_cases();
    for (const auto& c : cases) {
        if (!codec_built(c.codec)) continue;
        const auto out = decompress(read_bytes(golden_dir() + "/" + c.name + ".lmgc"),
                                    default_decompress_params());
        EXPECT_EQ(out, c.input) << c.name;
    }
}

TEST(golden, malformed_files_fail_with_their_category) {
    const auto lines = read_manifest(golden_dir() + "/malformed/malformed.txt");
    ASSERT_GE(lines.size(), 10u);
    for (const auto& f : lines) {
        ASSERT_EQ(f.size() >= 2, true);
        std::string cat = f[1];
        for (std::size_t i = 2; i < f.size(); ++i) cat += " " + f[i];
        SCOPED_TRACE(f[0]);
        const auto image = read_bytes(golden_dir() + "/malformed/" + f[0]);
        for (const bool header_only : {false, true}) {
            try {
                if (header_only)
                    inspect(image);
                else
                    decompress(image, default_decompress_params());
                // inspect reads the header and checks the payload checksum, so both fail.
                ADD_FAILURE() << "accepted (" << (header_only ? "inspect" : "decompress") << ")";
            } catch (const error& e) {
                EXPECT_EQ(e.code(), category(cat)) << e.what();
                EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos);
            }
        }
    }
}
