// lmgc serialize / deserialize / tokenize / tokens, run as a user would: round trips of
// tensor files through text, clean failures on damaged text, ids as the library gives them,
// and the token table.
#include "lmgc/experimental.hpp"
#include "tokenize-testutil.hpp"

#include <gtest/gtest.h>

#include <cstdio>
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

namespace {

std::vector<int> read_ids(const std::string& path) {
    const auto b = read_bytes(path);
    EXPECT_EQ(b.size() % 4, 0u);
    std::vector<int> ids(b.size() / 4);
    for (std::size_t i = 0; i < ids.size(); ++i) {
        std::uint32_t v = 0;
        for (int k = 0; k < 4; ++k) v |= static_cast<std::uint32_t>(b[4 * i + k]) << 8 * k;
        ids[i] = static_cast<int>(v);
    }
    return ids;
}

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> out;
    std::size_t at = 0;
    for (std::size_t nl; (nl = text.find('\n', at)) != std::string::npos; at = nl + 1)
        out.push_back(text.substr(at, nl - at));
    return out;
}

} // namespace

// The ids --dump writes are rebuilt here from the serialized text with the public tokenizer
// (canonical: each chunk's ids with the standalone dummy "▁" dropped; symbol: one token per
// character), across two float streams, and their counts are those of the token table.
TEST(cli_serialize, tokens_dump_writes_the_ids_the_codec_codes) {
    temp_dir dir;
    write_bytes(dir.file("tokenizer.model"), build_model(llama_like_spec()));
    const auto tok = experimental::tokenizer::load(dir.path());
    bytes bf16(2 * 300);
    for (std::size_t i = 0; i < bf16.size(); ++i) bf16[i] = static_cast<std::uint8_t>(i * 37 + 5);
    const auto file = make_safetensors({{"a", "F32", {700}, float_bytes(gradient_like(700, 5))},
                                        {"b", "BF16", {300}, bf16},
                                        {"c", "F32", {90}, float_bytes(gradient_like(90, 6))}});
    write_bytes(dir.file("t.safetensors"), file);
    auto params = experimental::default_serialize_params();
    const std::string text = experimental::serialize_tensors(file, params);
    const auto counts = experimental::count_tokens(file, tok, params, {"hex-space"});
    ASSERT_EQ(counts.size(), 1u);

    std::string out;
    const std::string dump = lmgc_bin() + " tokens " + sh(dir.file("t.safetensors")) + " --model " +
                             sh(dir.path()) + " --mode hex-space -f --dump ";
    ASSERT_EQ(run(dump + "canonical -o " + sh(dir.file("c.ids")), &out), 0) << out;
    EXPECT_NE(out.find("2 stream(s)"), std::string::npos) << out;
    const auto canonical = read_ids(dir.file("c.ids"));
    std::vector<int> want;
    for (const auto& line : lines_of(text)) {
        auto ids = tok.encode(line);
        if (!ids.empty() && tok.piece(ids.front()) == "▁") ids.erase(ids.begin());
        want.insert(want.end(), ids.begin(), ids.end());
    }
    EXPECT_EQ(canonical, want);
    EXPECT_EQ(canonical.size(), counts[0].tokens);

    ASSERT_EQ(run(dump + "symbol -o " + sh(dir.file("s.ids")), &out), 0) << out;
    const auto symbol = read_ids(dir.file("s.ids"));
    EXPECT_EQ(symbol.size(), counts[0].symbol_tokens);
    // Symbol tokens run on across a stream's chunks, one separator between any two groups:
    // the F32 stream (a and c, 3160 bytes) is 7 chunks of 512, the BF16 one (600 bytes) 2.
    const auto lines = lines_of(text);
    ASSERT_EQ(lines.size(), 9u);
    std::string chars;
    for (std::size_t i = 0; i < lines.size(); ++i)
        chars += (i == 0 || i == 7 ? "" : " ") + lines[i];
    ASSERT_EQ(symbol.size(), chars.size());
    for (std::size_t i = 0; i < symbol.size(); ++i) {
        const std::string piece = tok.piece(symbol[i]);
        char byte_piece[8];
        std::snprintf(byte_piece, sizeof byte_piece, "<0x%02X>", static_cast<unsigned>(chars[i]));
        const bool ok = chars[i] == ' ' ? piece == "▁"
                                        : piece == std::string(1, chars[i]) || piece == byte_piece;
        ASSERT_TRUE(ok) << "token " << i << ": '" << piece << "' for '" << chars[i] << "'";
    }

    // Usage errors (exit 2) and an existing output kept without -f.
    const std::string base = lmgc_bin() + " tokens " + sh(dir.file("t.safetensors")) + " --model " +
                             sh(dir.path()) + " ";
    EXPECT_EQ(run(base + "--mode hex-space --dump bytes -o " + sh(dir.file("x.ids")), &out), 2)
        << out;
    EXPECT_NE(out.find("canonical or symbol"), std::string::npos) << out;
    EXPECT_EQ(run(base + "--dump symbol -o " + sh(dir.file("x.ids")), &out), 2) << out;
    EXPECT_EQ(run(base + "--mode hex-space --dump symbol", &out), 2) << out;
    EXPECT_EQ(run(base + "--mode hex-space -o " + sh(dir.file("x.ids")), &out), 2) << out;
    EXPECT_EQ(run(base + "--mode iso --dump symbol -o " + sh(dir.file("x.ids")), &out), 2) << out;
    EXPECT_FALSE(std::filesystem::exists(dir.file("x.ids")));
    EXPECT_NE(run(base + "--mode hex-space --dump symbol -o " + sh(dir.file("s.ids")), &out), 0);
    EXPECT_EQ(read_ids(dir.file("s.ids")), symbol);
}
