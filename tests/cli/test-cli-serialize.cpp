// lmgc serialize / deserialize / tokenize / tokens, run as a user would: round trips of
// tensor files through text, clean failures on damaged text, ids as the library gives them,
// and the token table.
#include "lmgc/experimental.hpp"
#include "tokenize-testutil.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>

using namespace lmgc;
using namespace lmgc::test;

namespace {

bytes grad_npy(std::size_t n, std::uint64_t seed) {
    auto data = float_bytes(gradient_like(n, seed));
    const auto bits = special_f32_bits(40, seed);
    std::memcpy(data.data(), bits.data(), bits.size() * 4);
    return make_npy("<f4", {static_cast<std::int64_t>(n)}, data);
}

std::string sh(const std::string& s) {
    return "'" + s + "'";
}

} // namespace

TEST(cli_serialize, round_trip_in_every_mode_through_a_like_file) {
    temp_dir dir;
    const auto file = grad_npy(1000, 1);
    write_bytes(dir.file("g.npy"), file);
    // The --like file has the same layout but other values: every byte comes from the text.
    write_bytes(dir.file("zeros.npy"), make_npy("<f4", {1000}, bytes(4000, 0)));
    for (const auto& mode : experimental::serialize_modes())
        for (const char* extra :
             {"", " --byte-order big --bytes-per-group 2", " --unchunked --bytes-per-group 8"}) {
            SCOPED_TRACE(mode + extra);
            std::string out;
            const std::string opts = " --mode " + sh(mode) + extra;
            ASSERT_EQ(run(lmgc_bin() + " serialize " + sh(dir.file("g.npy")) + opts + " -f -o " +
                              sh(dir.file("g.txt")),
                          &out),
                      0)
                << out;
            ASSERT_EQ(run(lmgc_bin() + " deserialize " + sh(dir.file("g.txt")) + " --like " +
                              sh(dir.file("zeros.npy")) + opts + " -f -o " +
                              sh(dir.file("back.npy")),
                          &out),
                      0)
                << out;
            EXPECT_EQ(read_bytes(dir.file("back.npy")), file);
        }
    // Standard output by default, one chunk per line.
    std::string text;
    ASSERT_EQ(run(lmgc_bin() + " serialize " + sh(dir.file("g.npy")) + " 2>/dev/null", &text), 0);
    EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 8); // 4000 bytes in 512-byte chunks
    EXPECT_EQ(text.substr(0, 9), "00000000 ");
}

TEST(cli_serialize, several_streams_and_big_endian_tensors) {
    temp_dir dir;
    bytes f32 = float_bytes(gradient_like(300, 2)), bf16(2 * 77), i64(8 * 5);
    for (std::size_t i = 0; i < bf16.size(); ++i) bf16[i] = static_cast<std::uint8_t>(i * 13);
    for (std::size_t i = 0; i < i64.size(); ++i) i64[i] = static_cast<std::uint8_t>(i * 29);
    const auto st = make_safetensors({{"a", "F32", {300}, f32},
                                      {"b", "BF16", {77}, bf16},
                                      {"c", "I64", {5}, i64},
                                      {"d", "F32", {2}, float_bytes({1.0f, 2.0f})}});
    write_bytes(dir.file("t.safetensors"), st);
    write_bytes(dir.file("big.npy"), make_npy(">f4", {300}, f32));
    for (const char* name : {"t.safetensors", "big.npy"}) {
        std::string out;
        ASSERT_EQ(run(lmgc_bin() + " serialize " + sh(dir.file(name)) + " --mode hex-comma -o " +
                          sh(dir.file("t.txt")) + " -f",
                      &out),
                  0)
            << out;
        ASSERT_EQ(run(lmgc_bin() + " deserialize " + sh(dir.file("t.txt")) + " --like " +
                          sh(dir.file(name)) + " --mode hex-comma -f -o " + sh(dir.file("back")),
                      &out),
                  0)
            << out;
        EXPECT_EQ(read_bytes(dir.file("back")), read_bytes(dir.file(name))) << name;
    }
}

TEST(cli_serialize, damaged_text_fails_with_the_offset_and_writes_nothing) {
    temp_dir dir;
    write_bytes(dir.file("g.npy"), grad_npy(256, 3));
    std::string out;
    ASSERT_EQ(
        run(lmgc_bin() + " serialize " + sh(dir.file("g.npy")) + " -o " + sh(dir.file("g.txt")),
            &out),
        0);
    auto text = read_bytes(dir.file("g.txt"));
    text[1500] = 'G';
    write_bytes(dir.file("bad.txt"), text);
    EXPECT_EQ(run(lmgc_bin() + " deserialize " + sh(dir.file("bad.txt")) + " --like " +
                      sh(dir.file("g.npy")) + " -o " + sh(dir.file("out.npy")),
                  &out),
              1);
    EXPECT_NE(out.find("offset 1500"), std::string::npos) << out;
    EXPECT_FALSE(std::filesystem::exists(dir.file("out.npy")));
    text = read_bytes(dir.file("g.txt"));
    text.push_back('x');
    write_bytes(dir.file("long.txt"), text);
    EXPECT_EQ(run(lmgc_bin() + " deserialize " + sh(dir.file("long.txt")) + " --like " +
                      sh(dir.file("g.npy")) + " -o " + sh(dir.file("out.npy")),
                  &out),
              1);
    EXPECT_NE(out.find("text continues after the last chunk"), std::string::npos) << out;
    EXPECT_EQ(run(lmgc_bin() + " serialize " + sh(dir.file("g.npy")) + " --mode hex-tab", &out), 2);
    EXPECT_NE(out.find("unknown serialization mode 'hex-tab'"), std::string::npos) << out;
    EXPECT_EQ(
        run(lmgc_bin() + " serialize " + sh(dir.file("g.npy")) + " --bytes-per-group 3", &out), 2);
    EXPECT_EQ(run(lmgc_bin() + " deserialize " + sh(dir.file("g.txt")) + " -o x", &out), 2);
}

TEST(cli_serialize, tokenize_prints_the_library_ids) {
    temp_dir dir;
    write_bytes(dir.file("tokenizer.model"), build_model(llama_like_spec()));
    const auto tok = experimental::tokenizer::load(dir.path());
    std::string out;
    ASSERT_EQ(
        run(lmgc_bin() + " tokenize --model " + sh(dir.path()) + " --text 'ab12 be 0x3f'", &out), 0)
        << out;
    std::string want;
    for (const int id : tok.encode("ab12 be 0x3f")) {
        if (!want.empty()) want += ' ';
        want += std::to_string(id);
    }
    EXPECT_EQ(out, want + "\n");
    ASSERT_EQ(run(lmgc_bin() + " tokenize --tokenizer " + sh(dir.file("tokenizer.model")) +
                      " --text 'ab be' --pieces",
                  &out),
              0);
    EXPECT_EQ(out, "▁ab ▁be\n");
    const std::string lines = "ab\n\nfe 00\n";
    write_bytes(dir.file("in.txt"), bytes(lines.begin(), lines.end()));
    ASSERT_EQ(run(lmgc_bin() + " tokenize --model " + sh(dir.path()) + " --file " +
                      sh(dir.file("in.txt")) + " --pieces",
                  &out),
              0);
    EXPECT_EQ(out, "▁ab\n\n▁f e ▁ 0 0\n");
    EXPECT_EQ(run(lmgc_bin() + " tokenize --model " + sh(dir.path()) + " --text a --file b", &out),
              2);
    EXPECT_EQ(run(lmgc_bin() + " tokenize --model " + sh(dir.file("missing")) + " --text a", &out),
              1);
}

TEST(cli_serialize, tokens_table_for_every_mode) {
    temp_dir dir;
    write_bytes(dir.file("tokenizer.model"), build_model(llama_like_spec()));
    write_bytes(dir.file("g.npy"), grad_npy(2000, 4));
    std::string out;
    ASSERT_EQ(run(lmgc_bin() + " tokens " + sh(dir.file("g.npy")) + " --model " + sh(dir.path()) +
                      " --mode all",
                  &out),
              0)
        << out;
    for (const auto& mode : experimental::serialize_modes())
        EXPECT_NE(out.find("| " + mode + " "), std::string::npos) << mode << "\n" << out;
    EXPECT_EQ(out.find("| no "), std::string::npos) << out;
    EXPECT_NE(out.find("2000 elements"), std::string::npos) << out;
    // hex-none: 2000 floats in 16 chunks of 1024 characters.
    EXPECT_NE(out.find("| hex-none        | 16384 "), std::string::npos) << out;
    ASSERT_EQ(run(lmgc_bin() + " tokens " + sh(dir.file("g.npy")) + " --model " + sh(dir.path()) +
                      " --mode hex-space --context 512",
                  &out),
              0)
        << out;
    EXPECT_NE(out.find("| hex-space "), std::string::npos) << out;
    EXPECT_EQ(out.find("| iso "), std::string::npos) << out;
}
