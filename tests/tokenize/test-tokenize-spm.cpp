// Our tokenizer.model reader and BPE encoder against SentencePiece itself: models trained
// here by spm_train (BPE with byte_fallback and split_digits as Llama, the default nmt_nfkc
// normalizer without byte fallback, and a hex-trained model without dummy prefix), thousands
// of ordinary and serialized-gradient strings, ids and pieces compared with spm_encode and
// decoded text with spm_decode. Skipped where the sentencepiece tools are not installed.
#include "tokenize-testutil.hpp"
#include "tokenize/tokenize-spm.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <random>

using namespace lmgc;
using namespace lmgc::test;
using detail::spm_piece_type;
using detail::spm_tokenizer;

namespace {

struct trained {
    std::string name, path;
};

class spm_reference : public ::testing::Test {
  protected:
    static void SetUpTestSuite() {
        if (!have_spm_tools()) return;
        dir_ = std::make_unique<temp_dir>();
        ordinary_ = ordinary_lines(3000, 1);
        serialized_ = serialized_lines(3000, 2);
        std::vector<std::string> mixed = ordinary_lines(4000, 3);
        const auto grad = serialized_lines(800, 4);
        mixed.insert(mixed.end(), grad.begin(), grad.end());
        const std::string dir = dir_->path();
        models_.push_back(
            {"llama", train_spm(dir, "llama", mixed,
                                "--model_type=bpe --vocab_size=3000 --byte_fallback=true "
                                "--split_digits=true --normalization_rule_name=identity "
                                "--remove_extra_whitespaces=false "
                                "--allow_whitespace_only_pieces=true")});
        models_.push_back(
            {"nfkc", train_spm(dir, "nfkc", mixed,
                               "--model_type=bpe --vocab_size=2000 "
                               "'--user_defined_symbols=foo,<sep>,gradient' "
                               "'--control_symbols=<ctl>' --character_coverage=0.999")});
        models_.push_back(
            {"hex", train_spm(dir, "hex", serialized_lines(1500, 5),
                              "--model_type=bpe --vocab_size=1500 --byte_fallback=true "
                              "--normalization_rule_name=identity --add_dummy_prefix=false "
                              "--remove_extra_whitespaces=false")});
    }
    static void TearDownTestSuite() { dir_.reset(); }
    void SetUp() override {
        if (!have_spm_tools())
            GTEST_SKIP() << "sentencepiece tools (spm_train, spm_encode) not installed";
    }

    static void expect_same_ids(const trained& m, const std::vector<std::string>& lines) {
        const auto tok = spm_tokenizer::load(m.path);
        const auto ref = spm_encode_ids(m.path, lines, dir_->path());
        ASSERT_EQ(ref.size(), lines.size()) << m.name;
        std::size_t bad = 0;
        for (std::size_t i = 0; i < lines.size(); ++i) {
            const auto ours = tok.encode(lines[i]);
            if (ours != ref[i] && ++bad <= 5)
                ADD_FAILURE() << m.name << ": line " << i << " '" << lines[i].substr(0, 200)
                              << "': ids differ from spm_encode";
        }
        EXPECT_EQ(bad, 0u) << m.name << ": " << bad << " of " << lines.size() << " lines differ";
    }

    static std::unique_ptr<temp_dir> dir_;
    static std::vector<std::string> ordinary_, serialized_;
    static std::vector<trained> models_;
};

std::unique_ptr<temp_dir> spm_reference::dir_;
std::vector<std::string> spm_reference::ordinary_, spm_reference::serialized_;
std::vector<trained> spm_reference::models_;

} // namespace

TEST_F(spm_reference, reads_the_model_settings) {
    const auto llama = spm_tokenizer::load(models_[0].path);
    EXPECT_EQ(llama.vocab_size(), 3000);
    EXPECT_EQ(llama.unk_id(), 0);
    EXPECT_EQ(llama.bos_id(), 1);
    EXPECT_EQ(llama.eos_id(), 2);
    EXPECT_EQ(llama.pad_id(), -1);
    EXPECT_TRUE(llama.has_byte_fallback());
    EXPECT_TRUE(llama.has_split_digits());
    EXPECT_TRUE(llama.adds_dummy_prefix());
    EXPECT_FALSE(llama.removes_extra_whitespaces());
    EXPECT_FALSE(llama.has_charsmap());
    EXPECT_EQ(llama.piece(1), "<s>");
    EXPECT_EQ(llama.piece_type(1), spm_piece_type::control);
    EXPECT_EQ(llama.byte_id(0x41), llama.piece_to_id("<0x41>"));
    EXPECT_EQ(llama.piece_type(llama.byte_id(0x41)), spm_piece_type::byte);
    EXPECT_EQ(llama.piece_byte(llama.byte_id(0xfe)), 0xfe);
    EXPECT_GE(llama.piece_to_id("▁"), 0);
    EXPECT_EQ(llama.piece_to_id("no such piece, surely"), -1);
    // split_digits: no piece mixes a digit with anything else.
    for (int id = 0; id < llama.vocab_size(); ++id) {
        const auto& w = llama.piece(id);
        if (w.size() > 1 && llama.piece_type(id) == spm_piece_type::normal) {
            EXPECT_EQ(w.find_first_of("0123456789"), std::string::npos) << w;
        }
    }

    const auto nfkc = spm_tokenizer::load(models_[1].path);
    EXPECT_TRUE(nfkc.has_charsmap());
    EXPECT_TRUE(nfkc.removes_extra_whitespaces());
    EXPECT_FALSE(nfkc.has_byte_fallback());
    EXPECT_EQ(nfkc.byte_id(0x41), -1);
    EXPECT_EQ(nfkc.piece_type(nfkc.piece_to_id("foo")), spm_piece_type::user_defined);
    EXPECT_EQ(nfkc.piece_type(nfkc.piece_to_id("<ctl>")), spm_piece_type::control);
    EXPECT_EQ(nfkc.normalize("ＡＢＣ  x"), "▁ABC▁x"); // NFKC and extra whitespace

    const auto hex = spm_tokenizer::load(models_[2].path);
    EXPECT_FALSE(hex.adds_dummy_prefix());
    EXPECT_FALSE(hex.has_split_digits());
}

TEST_F(spm_reference, ids_match_spm_encode_on_ordinary_text) {
    for (const auto& m : models_) expect_same_ids(m, ordinary_);
}

TEST_F(spm_reference, ids_match_spm_encode_on_serialized_gradients) {
    for (const auto& m : models_) expect_same_ids(m, serialized_);
}

TEST_F(spm_reference, pieces_match_spm_encode) {
    std::vector<std::string> lines(ordinary_.begin(), ordinary_.begin() + 500);
    lines.insert(lines.end(), serialized_.begin(), serialized_.begin() + 200);
    for (const auto& m : models_) {
        const auto tok = spm_tokenizer::load(m.path);
        const auto ref = spm_encode_pieces(m.path, lines, dir_->path());
        ASSERT_EQ(ref.size(), lines.size());
        for (std::size_t i = 0; i < lines.size(); ++i) {
            std::string ours;
            for (const auto& p : tok.encode_pieces(lines[i])) ours += (ours.empty() ? "" : " ") + p;
            EXPECT_EQ(ours, ref[i]) << m.name << ": line " << i;
        }
    }
}

TEST_F(spm_reference, decode_matches_spm_decode) {
    for (const auto& m : models_) {
        const auto tok = spm_tokenizer::load(m.path);
        std::vector<std::vector<int>> ids;
        for (std::size_t i = 0; i < 1000; ++i) ids.push_back(tok.encode(ordinary_[i]));
        for (std::size_t i = 0; i < 300; ++i) ids.push_back(tok.encode(serialized_[i]));
        // Random id sequences: control, byte (malformed UTF-8 too), unknown and BOS pieces,
        // but no newline, which would split spm_decode's output lines.
        std::mt19937_64 rng(7);
        const int nl = tok.byte_id('\n'), cr = tok.byte_id('\r');
        for (int k = 0; k < 500; ++k) {
            std::vector<int> v;
            if (k % 3 == 0 && tok.bos_id() >= 0) v.push_back(tok.bos_id());
            const int n = 1 + static_cast<int>(rng() % 25);
            while (static_cast<int>(v.size()) < n) {
                int id = static_cast<int>(rng() % static_cast<std::uint64_t>(tok.vocab_size()));
                if (k % 2 && tok.has_byte_fallback())
                    id = 3 + static_cast<int>(rng() % 256); // bytes
                const auto& w = tok.piece(id);
                if ((id == nl && nl >= 0) || (id == cr && cr >= 0) ||
                    w.find_first_of("\n\r") != std::string::npos)
                    continue;
                v.push_back(id);
            }
            ids.push_back(v);
        }
        const auto ref = spm_decode_ids(m.path, ids, dir_->path());
        ASSERT_EQ(ref.size(), ids.size()) << m.name;
        for (std::size_t i = 0; i < ids.size(); ++i)
            EXPECT_EQ(tok.decode(ids[i]), ref[i]) << m.name << ": sequence " << i;
    }
}

TEST_F(spm_reference, encode_decode_round_trip_with_byte_fallback) {
    // Identity normalization and byte fallback: decode(encode(s)) == s for valid UTF-8
    // without extra whitespace handling (the property the canonical tokens rely on).
    const auto tok = spm_tokenizer::load(models_[0].path);
    for (const auto& s : serialized_) EXPECT_EQ(tok.decode(tok.encode(s)), s);
}

TEST_F(spm_reference, unigram_models_are_refused_clearly) {
    const auto path = train_spm(dir_->path(), "uni", ordinary_lines(2000, 9),
                                "--model_type=unigram --vocab_size=500");
    try {
        spm_tokenizer::load(path);
        ADD_FAILURE() << "a Unigram model was accepted";
    } catch (const error& e) {
        EXPECT_EQ(e.code(), errc::unsupported);
        EXPECT_NE(std::string(e.what()).find("Unigram"), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("not supported"), std::string::npos) << e.what();
    }
}

TEST_F(spm_reference, damaged_model_files_fail_cleanly) {
    const auto good = read_bytes(models_[0].path);
    auto expect_error_or_load = [](const bytes& b) {
        try {
            const auto tok = spm_tokenizer::from_bytes(b, "damaged.model");
            tok.encode("0000803f ab");
        } catch (const error& e) {
            EXPECT_TRUE(e.code() == errc::bad_input || e.code() == errc::unsupported) << e.what();
        }
    };
    for (std::size_t cut = 0; cut < good.size(); cut += 97)
        expect_error_or_load(bytes(good.begin(), good.begin() + cut));
    std::mt19937_64 rng(3);
    for (int k = 0; k < 300; ++k) {
        auto b = good;
        for (int f = 0; f < 3; ++f)
            b[rng() % b.size()] ^= static_cast<std::uint8_t>(1 + rng() % 255);
        expect_error_or_load(b);
    }
}
