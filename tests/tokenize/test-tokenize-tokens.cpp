// Canonical and symbol tokens and windows: exact round trips for every mode, the paper's
// token dropping reproduced where it is invertible and repaired where it is not, refusal of
// tokenizers that would not decode exactly, and corrupt token streams failing cleanly. Runs
// on a hand-built Llama-like tokenizer.model everywhere, and on a Llama-like model trained
// by spm_train (checked against spm_encode) where the sentencepiece tools are installed.
#include "expect-error.hpp"
#include "tokenize-testutil.hpp"
#include "tokenize/tokenize-tokens.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <random>

using namespace lmgc;
using namespace lmgc::test;
using namespace lmgc::detail;

namespace {

spm_tokenizer llama_like() {
    return spm_tokenizer::from_bytes(build_model(llama_like_spec()), "llama-like");
}

serial_params params(serial_mode m, unsigned bpg = 4,
                     serial_byte_order o = serial_byte_order::little, dtype t = dtype::f32) {
    serial_params p;
    p.mode = m;
    p.bytes_per_group = bpg;
    p.order = o;
    p.type = t;
    return p;
}

// Gradient-like floats with the special patterns mixed in.
bytes test_stream(std::size_t n, std::uint64_t seed) {
    auto b = float_bytes(gradient_like(n, seed));
    const auto bits = special_f32_bits(50, seed);
    std::memcpy(b.data(), bits.data(), std::min(b.size(), bits.size() * 4));
    return b;
}

std::vector<std::string> pieces_of(const spm_tokenizer& tok, const std::vector<int>& ids) {
    std::vector<std::string> out;
    for (const int id : ids) out.push_back(tok.piece(id));
    return out;
}

// The paper's procedure: tokenize each chunk, drop every leading BOS and lone "▁".
std::vector<int> paper_tokens(const spm_tokenizer& tok, const std::vector<std::string>& texts) {
    std::vector<int> out;
    const int ws = tok.piece_to_id("▁");
    for (const auto& t : texts) {
        auto ids = tok.encode(t);
        std::size_t k = 0;
        while (k < ids.size() && (ids[k] == ws || ids[k] == tok.bos_id())) ++k;
        out.insert(out.end(), ids.begin() + static_cast<std::ptrdiff_t>(k), ids.end());
    }
    return out;
}

void check_all_modes(const spm_tokenizer& tok, const bytes& data) {
    for (const dtype t : {dtype::f32, dtype::bf16})
        for (const auto m : serial_modes_all())
            for (const unsigned bpg : {1u, 2u, 4u, 8u})
                for (const auto o : {serial_byte_order::little, serial_byte_order::big}) {
                    const auto p = params(m, bpg, o, t);
                    SCOPED_TRACE(std::string(serial_mode_name(m)) + " bpg " + std::to_string(bpg) +
                                 " " + std::string(serial_byte_order_name(o)) + " " +
                                 std::string(dtype_name(t)));
                    const auto texts = serialize_stream(data, p);
                    const auto ids = canonical_tokens(tok, texts);
                    ASSERT_EQ(canonical_texts(tok, ids, p, data.size()), texts);
                    ASSERT_EQ(canonical_decode(tok, ids, p, data.size()), data);
                    if (serial_mode_is_hex(m)) {
                        EXPECT_EQ(ids, paper_tokens(tok, texts)); // the paper's tokens exactly
                        const auto a = symbol_alphabet_of(tok, p);
                        const auto sym = symbol_encode(a, data, p);
                        EXPECT_EQ(sym.size(), symbol_token_count(a, p, data.size()));
                        ASSERT_EQ(symbol_decode(a, sym, p, data.size()), data);
                    }
                }
}

} // namespace

TEST(tokenize_tokens, hand_built_model_encodes_like_llama) {
    const auto tok = llama_like();
    EXPECT_EQ(tok.bos_id(), 1);
    EXPECT_EQ(pieces_of(tok, tok.encode("0000803f 000000c0")),
              (std::vector<std::string>{"▁", "0", "0", "0", "0", "8", "0", "3", "f", "▁", "0", "0",
                                        "0", "0", "0", "0", "c", "0"}));
    EXPECT_EQ(pieces_of(tok, tok.encode("ab12 be")),
              (std::vector<std::string>{"▁ab", "1", "2", "▁be"}));
    EXPECT_EQ(pieces_of(tok, tok.encode("fé")),
              (std::vector<std::string>{"▁f", "<0xC3>", "<0xA9>"}));
    EXPECT_EQ(tok.decode(tok.encode("fé  ab")), "fé  ab");
}

TEST(tokenize_tokens, every_mode_round_trips_through_canonical_and_symbol_tokens) {
    check_all_modes(llama_like(), test_stream(700, 1));
}

TEST(tokenize_tokens, dummy_prefix_merged_into_the_first_piece_is_recovered) {
    const auto tok = llama_like();
    const auto p = params(serial_mode::hex_space, 4, serial_byte_order::little, dtype::f32);
    // Chunks that start with "ab", "be", "f", "0": the dummy "▁" merges or stands alone.
    for (const std::uint32_t first : {0x00c0ab00u /* "00abc000": lone ▁ */, 0x000000abu,
                                      0x000000beu, 0x000000f0u, 0x000000deu}) {
        bytes data(512 * 2, 0x11);
        std::memcpy(data.data(), &first, 4);
        std::memcpy(data.data() + 512, &first, 4);
        const auto texts = serialize_stream(data, p);
        const auto ids = canonical_tokens(tok, texts);
        EXPECT_EQ(canonical_decode(tok, ids, p, data.size()), data) << texts[0].substr(0, 8);
        const auto first_piece = tok.piece(ids.front());
        if (texts[0][0] == '0') {
            EXPECT_EQ(first_piece, "0");
        } else {
            EXPECT_EQ(first_piece.substr(0, 3), "▁") << first_piece; // kept, merged
        }
    }
}

TEST(tokenize_tokens, iso_chunks_starting_with_a_space_stay_invertible) {
    // Without a "▁▁" piece, " a" normalizes to "▁▁a" and encodes as "▁" "▁a".
    auto spec = llama_like_spec();
    std::erase_if(spec.pieces,
                  [](const model_piece& q) { return q.piece == "▁▁" || q.piece == "▁▁▁▁"; });
    const auto tok = spm_tokenizer::from_bytes(build_model(spec), "no-double-space");
    const auto p = params(serial_mode::iso, 4, serial_byte_order::little, dtype::f32);
    bytes data(1024);
    for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<std::uint8_t>(i * 7 + 3);
    data[0] = ' ';
    data[1] = ' ';
    data[512] = ' ';
    data[513] = 'a';
    const auto texts = serialize_stream(data, p);
    const auto ids = canonical_tokens(tok, texts);
    EXPECT_EQ(canonical_decode(tok, ids, p, data.size()), data);
    // The paper drops every leading lone "▁", and with them the leading spaces of the data:
    // its tokens decode to other bytes, or to no valid stream at all.
    const auto paper = paper_tokens(tok, texts);
    EXPECT_LT(paper.size(), ids.size());
    bool differs = true;
    try {
        differs = canonical_decode(tok, paper, p, data.size()) != data;
    } catch (const error&) {
    }
    EXPECT_TRUE(differs);
}

TEST(tokenize_tokens, canonical_reader_follows_the_stream_token_by_token) {
    const auto tok = llama_like();
    const auto p = params(serial_mode::hex_comma_space, 4, serial_byte_order::little, dtype::f32);
    const auto data = test_stream(300, 4);
    const auto ids = canonical_encode(tok, data, p);
    std::vector<std::uint64_t> ends;
    canonical_tokens(tok, serialize_stream(data, p), 2, &ends);
    ASSERT_EQ(ends.size(), 3u);
    ASSERT_EQ(ends.back(), ids.size());
    canonical_reader r(tok, p, data.size());
    for (std::size_t i = 0; i < ids.size(); ++i) {
        EXPECT_FALSE(r.done()) << i;
        r.push(ids[i]);
        // A chunk is complete as soon as its last token has been read.
        const auto expect_chunks = static_cast<std::uint64_t>(
            std::upper_bound(ends.begin(), ends.end(), static_cast<std::uint64_t>(i + 1)) -
            ends.begin());
        EXPECT_EQ(r.chunks_done(), expect_chunks) << i;
    }
    EXPECT_TRUE(r.done());
    EXPECT_EQ(r.finish(), data);
    expect_error([&] { r.push(ids[0]); }, errc::bad_input, "already complete");

    canonical_reader partial(tok, p, data.size());
    partial.push(ids[0]);
    expect_error([&] { partial.finish(); }, errc::bad_input, "ends after 1 tokens inside chunk 0");
    expect_error([&] { partial.push(tok.bos_id()); }, errc::bad_input, "control or unknown piece");
    expect_error([&] { partial.push(tok.vocab_size()); }, errc::bad_input, "out of range");
    expect_error([&] { partial.push(tok.piece_to_id("t")); }, errc::bad_input, "token 1: chunk 0");

    // Thread count does not change the tokens.
    EXPECT_EQ(canonical_tokens(tok, serialize_stream(data, p), 1),
              canonical_tokens(tok, serialize_stream(data, p), 2));
}

TEST(tokenize_tokens, corrupt_token_streams_fail_or_differ_never_crash) {
    const auto tok = llama_like();
    const auto p = params(serial_mode::hex_space, 4, serial_byte_order::little, dtype::f32);
    const auto data = test_stream(256, 5);
    const auto ids = canonical_encode(tok, data, p);
    std::mt19937_64 rng(9);
    int errors = 0;
    for (int k = 0; k < 500; ++k) {
        auto bad = ids;
        bad[rng() % bad.size()] =
            static_cast<int>(rng() % static_cast<std::uint64_t>(tok.vocab_size()));
        if (k % 5 == 0) bad.erase(bad.begin() + static_cast<std::ptrdiff_t>(rng() % bad.size()));
        if (bad == ids) continue;
        try {
            // A stream that still parses is another valid stream: other bytes, never these.
            EXPECT_NE(canonical_decode(tok, bad, p, data.size()), data);
        } catch (const error& e) {
            EXPECT_EQ(e.code(), errc::bad_input);
            ++errors;
        }
    }
    EXPECT_GT(errors, 250); // most random tokens break the layout
}

TEST(tokenize_tokens, tokenizers_that_cannot_round_trip_are_refused) {
    // No byte fallback and no piece for 'x': hex-0x text is not representable.
    auto spec = llama_like_spec();
    spec.byte_fallback = false;
    spec.pieces.erase(spec.pieces.begin() + 3, spec.pieces.begin() + 259); // byte pieces
    std::erase_if(spec.pieces, [](const model_piece& q) { return q.piece == "x"; });
    const auto no_x = spm_tokenizer::from_bytes(build_model(spec), "no-x");
    const auto data = test_stream(128, 6);
    expect_error([&] { canonical_encode(no_x, data, params(serial_mode::hex_0x)); },
                 errc::unsupported, "no piece (and no byte fallback) for 'x'");
    expect_error([&] { symbol_alphabet_of(no_x, params(serial_mode::hex_0x)); }, errc::unsupported,
                 "no piece for 'x' and no byte fallback");
    EXPECT_EQ(canonical_decode(no_x, canonical_encode(no_x, data, params(serial_mode::hex_space)),
                               params(serial_mode::hex_space), data.size()),
              data);

    // remove_extra_whitespaces collapses the double spaces of iso text.
    auto rm = llama_like_spec();
    rm.remove_extra_whitespaces = true;
    const auto collapse = spm_tokenizer::from_bytes(build_model(rm), "collapse");
    bytes spaces(512, ' ');
    expect_error([&] { canonical_encode(collapse, spaces, params(serial_mode::iso)); },
                 errc::unsupported, "normalization changes the serialized text");
    EXPECT_NO_THROW(canonical_encode(collapse, data, params(serial_mode::hex_comma_space)));
}

TEST(tokenize_tokens, symbol_alphabet_positions) {
    const auto tok = llama_like();
    const auto p = params(serial_mode::hex_comma_space, 2);
    const auto a = symbol_alphabet_of(tok, p);
    EXPECT_EQ(a.digits_per_group, 4u);
    EXPECT_EQ(a.separator_ids, (std::vector<int>{tok.piece_to_id(","), tok.piece_to_id("▁")}));
    EXPECT_TRUE(a.prefix_ids.empty());
    for (int v = 0; v < 16; ++v) {
        EXPECT_EQ(tok.piece(a.digit_ids[static_cast<std::size_t>(v)]),
                  std::string(1, "0123456789abcdef"[v]));
        EXPECT_EQ(a.digit_value(a.digit_ids[static_cast<std::size_t>(v)]), v);
    }
    // "0000, 803f, ...": 4 digits, then ',' and '▁'.
    const int expect[] = {-1, -1, -1, -1, a.separator_ids[0], a.separator_ids[1],
                          -1, -1, -1, -1, a.separator_ids[0]};
    for (std::uint64_t k = 0; k < std::size(expect); ++k) EXPECT_EQ(a.fixed_at(k), expect[k]) << k;
    EXPECT_EQ(a.stream_tokens(3), 3u * 4 + 2u * 2);
    const auto ids = symbol_encode(a, float_bytes({1.0f}), p);
    ASSERT_EQ(ids.size(), a.stream_tokens(256)); // 512-byte chunk of 2-byte groups
    EXPECT_EQ(pieces_of(tok, std::vector<int>(ids.begin(), ids.begin() + 11)),
              (std::vector<std::string>{"0", "0", "0", "0", ",", "▁", "8", "0", "3", "f", ","}));

    const auto x = symbol_alphabet_of(tok, params(serial_mode::hex_0x, 1));
    EXPECT_EQ(x.prefix_ids, (std::vector<int>{tok.piece_to_id("0"), tok.piece_to_id("x")}));
    EXPECT_EQ(x.fixed_at(0), tok.piece_to_id("0"));
    EXPECT_EQ(x.fixed_at(1), tok.piece_to_id("x"));
    EXPECT_EQ(x.fixed_at(2), -1);
    EXPECT_EQ(x.fixed_at(4), tok.piece_to_id("0"));
    expect_error([&] { symbol_alphabet_of(tok, params(serial_mode::iso)); }, errc::usage,
                 "need a hex mode");

    // A digit without a piece of its own falls back to its byte piece.
    auto spec = llama_like_spec();
    std::erase_if(spec.pieces, [](const model_piece& q) { return q.piece == "7"; });
    const auto no7 = spm_tokenizer::from_bytes(build_model(spec), "no-7");
    EXPECT_EQ(symbol_alphabet_of(no7, p).digit_ids[7], no7.byte_id('7'));
}

TEST(tokenize_tokens, symbol_decode_rejects_bad_streams) {
    const auto tok = llama_like();
    const auto p = params(serial_mode::hex_space);
    const auto a = symbol_alphabet_of(tok, p);
    const auto data = test_stream(200, 7);
    const auto ids = symbol_encode(a, data, p);
    auto bad = ids;
    bad[8] = a.digit_ids[0]; // where "▁" belongs
    expect_error([&] { symbol_decode(a, bad, p, data.size()); }, errc::bad_input, "token 8");
    bad = ids;
    bad[0] = tok.piece_to_id("x");
    expect_error([&] { symbol_decode(a, bad, p, data.size()); }, errc::bad_input,
                 "not a hex digit token");
    bad = ids;
    bad.pop_back();
    expect_error([&] { symbol_decode(a, bad, p, data.size()); }, errc::bad_input,
                 "tokens for a stream");
    bad = ids;
    bad[bad.size() - 1] = a.digit_ids[1]; // padding not zero
    expect_error([&] { symbol_decode(a, bad, p, data.size()); }, errc::bad_input, "padding byte");
}

TEST(tokenize_tokens, windows) {
    const auto w = cut_windows(5000, 2048);
    ASSERT_EQ(w.size(), 3u);
    EXPECT_EQ(w[0].first, 0u);
    EXPECT_EQ(w[0].count, 2047u);
    EXPECT_EQ(w[1].first, 2047u);
    EXPECT_EQ(w[2].first, 4094u);
    EXPECT_EQ(w[2].count, 906u);
    EXPECT_TRUE(cut_windows(0, 2048).empty());
    EXPECT_EQ(cut_windows(2047, 2048).size(), 1u);
    EXPECT_EQ(cut_windows(2048, 2048).size(), 2u);
    std::vector<int> ids(5000);
    for (std::size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<int>(i + 10);
    const auto in = window_input(ids, w[1], 1);
    ASSERT_EQ(in.size(), 2048u);
    EXPECT_EQ(in[0], 1);
    EXPECT_EQ(in[1], 2057);
    const auto last = window_input(ids, w[2], 1, 2048, 2);
    ASSERT_EQ(last.size(), 2048u);
    EXPECT_EQ(last[906], 5009);
    EXPECT_EQ(last[907], 2);
    expect_error([] { cut_windows(10, 1); }, errc::usage, "context 1");
    expect_error([&] { window_input(ids, {4990, 20}, 1); }, errc::usage, "outside");
}

TEST(tokenize_tokens, spm_trained_llama_like_model_round_trips_and_matches_spm_encode) {
    if (!have_spm_tools()) GTEST_SKIP() << "sentencepiece tools not installed";
    temp_dir dir;
    auto corpus = ordinary_lines(2000, 11);
    const auto grad = serialized_lines(400, 12);
    corpus.insert(corpus.end(), grad.begin(), grad.end());
    const auto path =
        train_spm(dir.path(), "m", corpus,
                  "--model_type=bpe --vocab_size=2500 --byte_fallback=true --split_digits=true "
                  "--normalization_rule_name=identity --remove_extra_whitespaces=false "
                  "--allow_whitespace_only_pieces=true");
    const auto tok = spm_tokenizer::load(path);
    const auto data = test_stream(1000, 13);
    check_all_modes(tok, data);
    // The canonical tokens are the paper's procedure run on spm_encode's own output.
    for (const auto m : serial_modes_all()) {
        if (m == serial_mode::iso) continue; // spm_encode reads lines; iso text may hold '\n'
        const auto p = params(m);
        const auto texts = serialize_stream(data, p);
        std::vector<int> ref;
        for (auto ids : spm_encode_ids(path, texts, dir.path())) {
            if (!ids.empty() && ids[0] == tok.piece_to_id("▁")) ids.erase(ids.begin());
            ref.insert(ref.end(), ids.begin(), ids.end());
        }
        EXPECT_EQ(canonical_tokens(tok, texts), ref) << serial_mode_name(m);
    }
}
