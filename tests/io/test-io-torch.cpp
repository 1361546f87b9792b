// torch.save files: hand-made archives (every zip layout the reader accepts, every way one
// can be broken) and genuine files written by Python's torch.save at test time, all of
// which must round-trip byte for byte or fail with a clear error.
#include "io/io-tensor-file.hpp"
#include "lmgc/lmgc.hpp"
#include "testutil.hpp"

#include "common/common-json.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <random>
#include <set>

using namespace lmgc;
using namespace lmgc::test;
using detail::dtype;

namespace {

bytes random_bytes(std::size_t n, std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    bytes b(n);
    for (auto& x : b) x = static_cast<std::uint8_t>(rng());
    return b;
}

std::vector<torch_tensor> sample_tensors() {
    return {{"conv1.weight", "FloatStorage", {3, 4}, float_bytes(gradient_like(12, 1))},
            {"conv1.bias", "BFloat16Storage", {5}, random_bytes(10, 2)},
            {"bn.num_batches_tracked", "LongStorage", {}, random_bytes(8, 3)},
            {"empty", "FloatStorage", {0, 3}, {}},
            {"fc.weight", "HalfStorage", {2, 2}, random_bytes(8, 4)}};
}

void expect_round_trip(const bytes& file, const std::string& codec = "zstd") {
    auto p = default_compress_params();
    p.codec = codec;
    p.chunk_bytes = 64;
    const auto image = compress(file, p);
    EXPECT_EQ(decompress(image, default_decompress_params()), file);
}

// Parses f; on success the file must round-trip exactly. Returns the error category.
errc parse_outcome(const bytes& f, std::string* message = nullptr) {
    try {
        const auto pf = detail::parse_torch(f);
        detail::validate_regions(pf, f.size());
        expect_round_trip(f, "store");
        return errc::ok;
    } catch (const error& e) {
        if (message) *message = e.what();
        EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << e.what();
        return e.code();
    }
}

void expect_error(const bytes& f, errc code, const std::string& part) {
    std::string msg;
    EXPECT_EQ(parse_outcome(f, &msg), code) << part;
    EXPECT_NE(msg.find(part), std::string::npos) << "message: " << msg;
}

bytes torch_zip_with_pickle(const bytes& pkl,
                            std::vector<std::pair<std::string, bytes>> data = {}) {
    data.insert(data.begin(), {"archive/data.pkl", pkl});
    return make_zip(data);
}

bool have_python_module(const std::string& module) {
    return run("/usr/bin/python3 -c 'import " + module + "' >/dev/null 2>&1") == 0;
}

} // namespace

TEST(io_torch, handmade_file_names_types_and_shapes) {
    const auto tensors = sample_tensors();
    for (const bool zip64 : {false, true})
        for (const bool descriptor : {false, true}) {
            zip_options opt;
            opt.zip64 = zip64;
            opt.data_descriptor = descriptor;
            const auto file = make_torch_file(tensors, 400, opt);
            const auto pf = detail::parse_tensor_file(file, input_format::auto_detect);
            EXPECT_EQ(pf.format, detail::source_format::torch);
            ASSERT_EQ(pf.tensors.size(), 4u); // the empty tensor has no bytes
            const std::vector<std::string> names = {
                "state_dict.conv1.weight", "state_dict.conv1.bias",
                "state_dict.bn.num_batches_tracked", "state_dict.fc.weight"};
            const std::vector<dtype> types = {dtype::f32, dtype::bf16, dtype::i64, dtype::f16};
            const std::vector<std::vector<std::int64_t>> shapes = {{3, 4}, {5}, {}, {2, 2}};
            const std::size_t src[] = {0, 1, 2, 4};
            for (std::size_t i = 0; i < 4; ++i) {
                const auto& t = pf.tensors[i];
                EXPECT_EQ(t.name, names[i]);
                EXPECT_EQ(t.type, types[i]);
                EXPECT_EQ(t.shape, shapes[i]);
                EXPECT_EQ(t.offset % 64, 0u) << "torch aligns storages to 64 bytes";
                const bytes got(file.begin() + static_cast<std::ptrdiff_t>(t.offset),
                                file.begin() + static_cast<std::ptrdiff_t>(t.offset + t.nbytes));
                EXPECT_EQ(got, tensors[src[i]].data) << t.name;
            }
            for (const std::string codec : {"store", "zstd", "gzip"})
                expect_round_trip(file, codec);
        }
}

TEST(io_torch, views_share_one_storage_named_after_the_first_tensor) {
    // {'a': storage 0 [2:], 'b': storage 0 as 2x3, 'c': storage 1 transposed}
    pickle_writer p;
    p.proto().op('}').mark();
    p.str("a").tensor("FloatStorage", "0", 6, 2, {4});
    p.str("b").tensor("FloatStorage", "0", 6, 0, {2, 3});
    p.str("c").tensor("IntStorage", "1", 6, 0, {6});
    p.op('u').stop();
    const auto file = torch_zip_with_pickle(p.data(), {{"archive/data/0", random_bytes(24, 5)},
                                                       {"archive/data/1", random_bytes(24, 6)}});
    const auto pf = detail::parse_torch(file);
    ASSERT_EQ(pf.tensors.size(), 2u);
    EXPECT_EQ(pf.tensors[0].name, "a");
    EXPECT_EQ(pf.tensors[0].shape, std::vector<std::int64_t>{6}); // a view: the storage's shape
    EXPECT_EQ(pf.tensors[1].name, "c");
    EXPECT_EQ(pf.tensors[1].type, dtype::i32);
    expect_round_trip(file);
}

TEST(io_torch, unknown_storage_classes_are_kept_as_bytes) {
    pickle_writer p;
    p.proto().tensor("Float8_e5m2Storage", "0", 7, 0, {7}).stop();
    const auto file = torch_zip_with_pickle(p.data(), {{"archive/data/0", random_bytes(7, 7)}});
    const auto pf = detail::parse_torch(file);
    ASSERT_EQ(pf.tensors.size(), 1u);
    EXPECT_EQ(pf.tensors[0].name, "tensor");
    EXPECT_EQ(pf.tensors[0].type, dtype::u8);
    expect_round_trip(file);
}

TEST(io_torch, every_truncation_and_bit_flip_fails_cleanly_or_round_trips) {
    const auto good = make_torch_file(sample_tensors());
    for (std::size_t n = 0; n < good.size(); ++n) {
        const bytes cut(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(n));
        const auto e = parse_outcome(cut);
        ASSERT_TRUE(e == errc::bad_input || e == errc::unsupported) << "truncated to " << n;
    }
    std::size_t accepted = 0;
    for (std::size_t i = 0; i < good.size(); ++i) {
        auto bad = good;
        bad[i] ^= static_cast<std::uint8_t>(1u << (i % 8));
        const auto e = parse_outcome(bad);
        ASSERT_TRUE(e == errc::ok || e == errc::bad_input || e == errc::unsupported)
            << "flip at " << i;
        accepted += e == errc::ok;
    }
    // Flips inside tensor data, padding and timestamps are harmless; header flips are not.
    EXPECT_GT(accepted, 0u);
    EXPECT_LT(accepted, good.size());
}

TEST(io_torch, malformed_archives_fail_cleanly) {
    const auto tensors = sample_tensors();
    zip_options deflated;
    deflated.method = 8;
    expect_error(make_torch_file(tensors, 1, deflated), errc::unsupported, "compressed");
    expect_error(make_zip({{"archive/other.pkl", {'.'}}}), errc::bad_input, "data.pkl");
    expect_error(make_zip({{"data.pkl", {'.'}}}), errc::bad_input, "archive folder");
    expect_error(make_zip({{"archive/data.pkl", {'.'}}, {"archive/data.pkl", {'.'}}}),
                 errc::bad_input, "twice");
    expect_error(bytes{'P', 'K', 3, 4, 0, 0}, errc::bad_input, "");
    expect_error(bytes{'n', 'o', 'p', 'e'}, errc::bad_input, "not a torch.save file");

    // A storage the archive lacks, and one whose size does not match the pickle.
    pickle_writer p;
    p.proto().tensor("FloatStorage", "0", 4, 0, {4}).stop();
    expect_error(torch_zip_with_pickle(p.data()), errc::bad_input, "missing");
    expect_error(torch_zip_with_pickle(p.data(), {{"archive/data/0", bytes(15)}}), errc::bad_input,
                 "holds 15 bytes");
    pickle_writer q;
    q.proto().mark().tensor("FloatStorage", "0", 4, 0, {4}).tensor("IntStorage", "0", 4, 0, {4});
    q.op('l').stop();
    expect_error(torch_zip_with_pickle(q.data(), {{"archive/data/0", bytes(16)}}), errc::bad_input,
                 "different types");

    // Broken pickles.
    auto pk = [](std::initializer_list<std::uint8_t> ops) {
        return torch_zip_with_pickle(bytes(ops));
    };
    expect_error(pk({0x80, 2, ']'}), errc::bad_input, "truncated");
    expect_error(pk({0x80, 2, '.'}), errc::bad_input, "no value");
    expect_error(pk({0x80, 2, 'a', '.'}), errc::bad_input, "underflow");
    expect_error(pk({0x80, 2, ']', 'e', '.'}), errc::bad_input, "MARK");
    expect_error(pk({0x80, 2, 'h', 7, '.'}), errc::bad_input, "unknown memo");
    expect_error(pk({0x80, 2, 'K', 1, 'K', 2, 's', '.'}), errc::bad_input, "underflow");
    expect_error(pk({0x80, 2, 'K', 1, 'K', 1, 'K', 2, 's', '.'}), errc::bad_input, "non-dict");
    expect_error(pk({0x80, 2, 'K', 1, 'Q', '.'}), errc::bad_input, "persistent id");
    expect_error(pk({0x80, 9, '.'}), errc::unsupported, "protocol");
    expect_error(pk({0x80, 2, 'I', '1', '\n', '.'}), errc::unsupported, "opcode 0x49");
    expect_error(pk({0x80, 2, 'X', 0xff, 0xff, 0xff, 0x7f, '.'}), errc::bad_input, "past the end");
    expect_error(pk({0x80, 2, 0x8b, 0xff, 0xff, 0xff, 0xff, '.'}), errc::bad_input, "past the end");

    // Legacy (non-zip) torch.save files are recognised and refused by name.
    const bytes legacy = {0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9,
                          0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e, 0x80, 0x02};
    try {
        detail::parse_tensor_file(legacy, input_format::auto_detect);
        FAIL() << "legacy file accepted";
    } catch (const error& e) {
        EXPECT_EQ(e.code(), errc::unsupported);
        EXPECT_NE(std::string(e.what()).find("legacy"), std::string::npos) << e.what();
    }
}

TEST(io_torch, hostile_pickles_stay_bounded) {
    // 200k nested lists, a list that contains itself, and a huge memo index: no stack
    // overflow, no endless walk, no giant allocation.
    bytes deep = {0x80, 2};
    for (int i = 0; i < 200000; ++i) deep.push_back(']');
    for (int i = 0; i < 199999; ++i) deep.push_back('a');
    deep.push_back('.');
    EXPECT_EQ(parse_outcome(torch_zip_with_pickle(deep)), errc::ok);
    EXPECT_EQ(parse_outcome(torch_zip_with_pickle({0x80, 2, ']', 'q', 0, 'h', 0, 'a', '.'})),
              errc::ok);
    EXPECT_EQ(parse_outcome(torch_zip_with_pickle(
                  {0x80, 2, ']', 'r', 0xff, 0xff, 0xff, 0xff, 'j', 0xff, 0xff, 0xff, 0xff, '.'})),
              errc::ok);
    // A tensor deep inside a cycle is still found and named.
    pickle_writer p;
    p.proto().op('}').put(0).mark().str("self").get(0).str("t");
    p.tensor("FloatStorage", "0", 2, 0, {2}).op('u').stop();
    const auto pf =
        detail::parse_torch(torch_zip_with_pickle(p.data(), {{"archive/data/0", bytes(8)}}));
    ASSERT_EQ(pf.tensors.size(), 1u);
    EXPECT_EQ(pf.tensors[0].name, "t");
}

// Genuine files from Python's torch.save (python3-torch); skipped where it is missing.
TEST(io_torch, genuine_torch_save_files_round_trip) {
    if (!have_python_module("torch")) GTEST_SKIP() << "/usr/bin/python3 with torch not found";
    temp_dir dir;
    std::string log;
    ASSERT_EQ(
        run("/usr/bin/python3 " + source_dir() + "/tests/io/make-torch-fixtures.py " + dir.path(),
            &log),
        0)
        << log;
    const auto json = read_bytes(dir.file("expected.json"));
    const auto expected = detail::json_parse(
        std::string_view(reinterpret_cast<const char*>(json.data()), json.size()));
    int n_files = 0;
    for (const auto& entry : std::filesystem::directory_iterator(dir.path())) {
        const auto name = entry.path().filename().string();
        if (entry.path().extension() != ".pt") continue;
        SCOPED_TRACE(name);
        const auto file = read_bytes(entry.path().string());
        if (name == "legacy.pt") {
            std::string msg;
            EXPECT_EQ(parse_outcome(file, &msg), errc::unsupported);
            EXPECT_NE(msg.find("legacy"), std::string::npos) << msg;
            continue;
        }
        ++n_files;
        const auto pf = detail::parse_tensor_file(file, input_format::auto_detect);
        std::set<std::string> names;
        for (const auto& t : pf.tensors) names.insert(t.name);
        if (const auto* want = expected.find(name)) {
            for (const auto& n : want->as_array())
                EXPECT_TRUE(names.count(n.as_string())) << "missing tensor " << n.as_string();
        }
        for (const std::string codec : {"store", "zstd"}) expect_round_trip(file, codec);
        if (name == "dtypes.pt") {
            const std::pair<const char*, dtype> want[] = {
                {"float32", dtype::f32},   {"float64", dtype::f64},   {"float16", dtype::f16},
                {"bfloat16", dtype::bf16}, {"uint8", dtype::u8},      {"int8", dtype::i8},
                {"int16", dtype::i16},     {"int32", dtype::i32},     {"int64", dtype::i64},
                {"bool", dtype::boolean},  {"complex64", dtype::f32}, {"complex128", dtype::f64}};
            for (const auto& [tn, ty] : want) {
                bool found = false;
                for (const auto& t : pf.tensors)
                    if (t.name == tn) {
                        found = true;
                        EXPECT_EQ(t.type, ty) << tn;
                        const bool complex = std::string(tn).rfind("complex", 0) == 0;
                        const std::vector<std::int64_t> shape =
                            complex ? std::vector<std::int64_t>{3, 4, 2}
                                    : std::vector<std::int64_t>{3, 4};
                        EXPECT_EQ(t.shape, shape) << tn;
                    }
                EXPECT_TRUE(found) << tn;
            }
        }
    }
    EXPECT_GE(n_files, 9);
}
