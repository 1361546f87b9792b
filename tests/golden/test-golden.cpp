// Frozen .lmgc files of format version 1.0 (tests/golden/*.lmgc) must keep decoding to the
// same bytes, and damaged or foreign files (tests/golden/malformed/) must keep failing with
// the same error category. The files were written once by this test:
//   LMGC_GOLDEN_REGENERATE=1 build/tests/golden/test-golden
// which writes the cases that have no file yet and keeps every file already there (a reader
// must decode every file an older lmgc wrote: released files are never rewritten).
#include "common/common-checksum.hpp"
#include "lmgc/lmgc.hpp"
#include "testutil.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
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

// Zeros made 1e-30 (nonzero in every float type's top bytes).
std::vector<float> no_zeros(std::vector<float> v) {
    for (auto& x : v)
        if (x == 0) x = 1e-30f;
    return v;
}

// Every fifth run of 16 values set to zero.
std::vector<float> zero_runs(std::vector<float> v) {
    for (std::size_t i = 0; i < v.size(); ++i)
        if (i / 16 % 5 == 0) v[i] = 0;
    return v;
}
// Zero runs of every length: one zero in 150 values, runs of 3 in 400, of 20 in 1000.
std::vector<float> mixed_zero_runs(std::vector<float> v) {
    for (std::size_t i = 0; i < v.size(); ++i)
        if (i % 150 == 7 || (i % 400 >= 100 && i % 400 < 103) || i % 1000 < 20) v[i] = 0;
    return v;
}
bytes doubles(const std::vector<float>& v) {
    return as_bytes(std::vector<double>(v.begin(), v.end()));
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
        // Format 2 only: cm, including a tensor whose rows are longer than a chunk.
        {"npy-f32-cm", make_npy("<f4", {3000}, float_bytes(gradient_like(3000, 12))), "cm", 4096},
        {"safetensors-long-rows-cm",
         make_safetensors({{"w", "F32", {2, 700}, float_bytes(gradient_like(1400, 13))},
                           {"h", "F16", {1, 900}, random_bytes(1800, 14)}}),
         "cm", 1024},
        // cm payload version 2 (lmgc 0.3): flat values, and conv-shaped tensors whose
        // segments have rows (the row context); the fast codec.
        {"npy-f32-cm-payload2", make_npy("<f4", {5000}, float_bytes(gradient_like(5000, 15))), "cm",
         8192},
        {"safetensors-conv-cm-payload2",
         make_safetensors(
             {{"conv.weight", "F32", {16, 8, 3, 3}, float_bytes(gradient_like(1152, 16))},
              {"fc.weight", "BF16", {10, 96}, random_bytes(1920, 17)},
              {"fc.bias", "F16", {10}, random_bytes(20, 18)}}),
         "cm", 2048},
        {"safetensors-mixed-fast",
         make_safetensors({{"w", "F32", {40, 50}, float_bytes(gradient_like(2000, 19))},
                           {"b", "BF16", {300}, random_bytes(600, 20)},
                           {"h", "F16", {7, 9}, random_bytes(126, 21)},
                           {"d", "F64", {100}, random_bytes(800, 22)}}),
         "fast", 1024},
        // fast payload version 1 (written by lmgc before payload version 2) and 2: lag
        // classes over f16 kernels of zeros and tiny denormals, where the two versions differ.
        {"npy-f16-tiny-fast", make_npy("<f2", {64, 32, 3, 3}, as_bytes(tiny_f16_kernels(2048, 23))),
         "fast", 1 << 20},
        {"npy-f16-tiny-fast-payload2",
         make_npy("<f2", {64, 32, 3, 3}, as_bytes(tiny_f16_kernels(2048, 23))), "fast", 1 << 20},
        // The planes codec (level 1): gradients with zero runs in each float type.
        {"safetensors-mixed-planes",
         make_safetensors({{"w", "F32", {40, 50}, float_bytes(zero_runs(gradient_like(2000, 24)))},
                           {"b", "BF16", {600}, top_halves(zero_runs(gradient_like(600, 25)))},
                           {"h", "F16", {7, 90}, top_halves(gradient_like(630, 26))},
                           {"d", "F64", {100}, doubles(zero_runs(gradient_like(100, 27)))}}),
         "planes", 2048},
        // planes payload version 2: the dense mode (no zeros, or zeros in runs of 16), with a
        // partial last chunk.
        {"safetensors-dense-planes-payload2",
         make_safetensors(
             {{"w", "F32", {30, 50}, float_bytes(zero_runs(no_zeros(gradient_like(1500, 28))))},
              {"b", "BF16", {700}, top_halves(no_zeros(gradient_like(700, 29)))},
              {"h", "F16", {9, 70}, top_halves(no_zeros(gradient_like(630, 30)))},
              {"d", "F64", {150}, doubles(no_zeros(gradient_like(150, 31)))}}),
         "planes", 2000},
        // planes payload version 3: dense chunks list every zero run (from one zero up).
        {"safetensors-dense-planes-payload3",
         make_safetensors(
             {{"w",
               "F32",
               {30, 50},
               float_bytes(mixed_zero_runs(no_zeros(gradient_like(1500, 32))))},
              {"b", "BF16", {1400}, top_halves(mixed_zero_runs(no_zeros(gradient_like(1400, 33))))},
              {"h", "F16", {9, 70}, top_halves(mixed_zero_runs(no_zeros(gradient_like(630, 34))))},
              {"d", "F64", {700}, doubles(mixed_zero_runs(no_zeros(gradient_like(700, 35))))}}),
         "planes", 2000},
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

// Writes the current format's golden files (v2/, golden-v2.txt) and the damaged copies
// (malformed/) into the source tree. The format-1.0 files (golden.txt, v1-cm/,
// malformed-v1/) were written by lmgc 0.1.0 and are never rewritten.
// Files already there are released: they and their manifest lines are kept as they are,
// and only new cases are written (with new damaged copies only if malformed/ is empty).
void write_golden() {
    const auto dir = golden_dir();
    std::map<std::string, std::string> kept; // file -> its manifest line
    {
        std::ifstream old(dir + "/golden-v2.txt");
        for (std::string line; std::getline(old, line);)
            if (!line.empty() && line[0] != '#') kept[line.substr(0, line.find(' '))] = line;
    }
    std::ofstream m(dir + "/golden-v2.txt");
    m << "# file codec original_size crc32c fnv1a64 (of the decoded original file)\n";
    bytes first;
    for (const auto& c : golden_cases()) {
        const auto file = "v2/" + c.name + ".lmgc";
        if (kept.count(file) && std::ifstream(dir + "/" + file).good()) {
            m << kept[file] << "\n";
            continue;
        }
        auto p = default_compress_params();
        p.codec = c.codec;
        p.chunk_bytes = c.chunk_bytes;
        p.unchunked = c.chunk_bytes == 0;
        p.format = c.format;
        const auto image = compress(c.input, p);
        ASSERT_EQ(decompress(image, default_decompress_params()), c.input);
        write_bytes(dir + "/v2/" + c.name + ".lmgc", image);
        m << "v2/" << c.name << ".lmgc " << c.codec << " " << c.input.size() << " "
          << hex(detail::crc32c(c.input), 8) << " " << hex(fnv1a64(c.input), 16) << "\n";
        if (first.empty()) first = image;
    }
    if (first.empty() || std::ifstream(dir + "/malformed/malformed.txt").good()) return;
    // Damaged copies of the first file, each with the error category it must produce.
    std::ofstream mm(dir + "/malformed/malformed.txt");
    mm << "# Damaged copies of a format-2.0 file.\n"
       << "# file error-category [decode-only: inspect reads no payload, so only decompress sees "
          "it]\n";
    auto put = [&](const std::string& name, const bytes& b, errc e, bool decode_only = false) {
        write_bytes(dir + "/malformed/" + name, b);
        mm << name << " " << errc_name(e) << (decode_only ? " decode-only" : "") << "\n";
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
    put("bitflip-payload.lmgc", flip(n / 2), errc::corrupt, true);
    put("bitflip-index.lmgc", flip(n - 30), errc::corrupt);
    put("bitflip-footer.lmgc", flip(n - 20), errc::corrupt);
    put("bitflip-magic.lmgc", flip(2), errc::corrupt);
    auto newer = first;
    newer[8] = 3; // format 3.0
    put("newer-major-version.lmgc", newer, errc::unsupported);
    auto minor = first;
    minor[10] = 1; // format 2.1
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

namespace {
// Every file of a manifest decodes to the size and checksums it lists.
void check_manifest(const std::string& manifest, unsigned major) {
    const auto lines = read_manifest(golden_dir() + "/" + manifest);
    ASSERT_GE(lines.size(), 5u);
    for (const auto& f : lines) {
        ASSERT_EQ(f.size(), 5u);
        SCOPED_TRACE(f[0]);
        if (!codec_built(f[1])) continue;
        const auto image = read_bytes(golden_dir() + "/" + f[0]);
        const auto info = inspect(image);
        EXPECT_EQ(info.format_major, major);
        EXPECT_EQ(info.format_minor, 0u);
        const auto out = decompress(image, default_decompress_params());
        EXPECT_EQ(std::to_string(out.size()), f[2]);
        EXPECT_EQ(hex(detail::crc32c(out), 8), f[3]);
        EXPECT_EQ(hex(fnv1a64(out), 16), f[4]);
    }
}
} // namespace

TEST(golden, frozen_v1_files_decode_to_known_bytes) {
    // Written by lmgc 0.1.0, including cm files whose chunks are shorter than a row of their
    // tensor (0.1.0's decoder refused those: issue 10).
    check_manifest("golden.txt", 1);
}

TEST(golden, frozen_v2_files_decode_to_known_bytes) {
    if (regenerate()) write_golden();
    check_manifest("golden-v2.txt", 2);
}

TEST(golden, frozen_files_match_their_sources) {
    // Where the test data generators are unchanged, the frozen files also decode to exactly
    // what they were made from (a check of the generators, not of the format).
    const auto cases = golden_cases();
    for (const auto& c : cases) {
        if (!codec_built(c.codec)) continue;
        for (const std::string dir : {"/", "/v2/"}) {
            const auto path = golden_dir() + dir + c.name + ".lmgc";
            if (dir == "/" && !std::ifstream(path)) continue; // a format-2-only case
            const auto out = decompress(read_bytes(path), default_decompress_params());
            EXPECT_EQ(out, c.input) << dir << c.name;
        }
    }
}

TEST(golden, fast_payload_versions_1_and_2_are_frozen) {
    // The two tiny-f16 files hold one fast payload each, at byte 194 (after the container's
    // header): version 1 and 2, both with lag classes, where the versions' lag classes differ.
    if (!codec_built("fast")) return;
    for (const int version : {1, 2}) {
        const auto image = read_bytes(golden_dir() + "/v2/npy-f16-tiny-fast" +
                                      (version == 2 ? "-payload2" : "") + ".lmgc");
        ASSERT_GT(image.size(), 202u);
        EXPECT_EQ(image[194], version);
        EXPECT_EQ(image[195], static_cast<std::uint8_t>(dtype::f16));
        EXPECT_EQ(image[196], 0); // coded
        EXPECT_EQ(image[201], 4); // lag classes (after center and lag, one byte each)
    }
}

TEST(golden, malformed_files_fail_with_their_category) {
    for (const std::string dir : {"malformed", "malformed-v1"}) {
        const auto lines = read_manifest(golden_dir() + "/" + dir + "/malformed.txt");
        ASSERT_GE(lines.size(), 10u);
        for (auto f : lines) {
            ASSERT_EQ(f.size() >= 2, true);
            const bool decode_only = f.back() == "decode-only";
            if (decode_only) f.pop_back();
            std::string cat = f[1];
            for (std::size_t i = 2; i < f.size(); ++i) cat += " " + f[i];
            SCOPED_TRACE(dir + "/" + f[0]);
            const auto image = read_bytes(golden_dir() + "/" + dir + "/" + f[0]);
            for (const bool header_only : {false, true}) {
                try {
                    if (header_only)
                        inspect(image);
                    else
                        decompress(image, default_decompress_params());
                    if (!(header_only && decode_only))
                        ADD_FAILURE()
                            << "accepted (" << (header_only ? "inspect" : "decompress") << ")";
                } catch (const error& e) {
                    EXPECT_EQ(e.code(), category(cat)) << e.what();
                    EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos);
                }
            }
        }
    }
}
