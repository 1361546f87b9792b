// Helpers of the tokenize tests: test text (ordinary and serialized gradients), SentencePiece
// models trained at test time with spm_train, the spm_encode/spm_decode reference, and
// hand-built tokenizer.model files (for the machines without the sentencepiece tools).
#pragma once

#include "serialize/serialize-text.hpp"
#include "testutil.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace lmgc::test {

// Whether spm_train / spm_encode / spm_decode are on PATH.
bool have_spm_tools();

// Pseudo-English lines with numbers, punctuation, odd whitespace and non-ASCII characters
// (accents, CJK, emoji, ligatures, fullwidth forms, U+2581 itself, stray control bytes).
std::vector<std::string> ordinary_lines(std::size_t n, std::uint64_t seed);

// Chunk texts of gradient-like streams in every mode, bytes per group and byte order, and of
// special float bit patterns. Texts holding '\n' (possible in iso mode) are left out, since
// spm_encode reads lines.
std::vector<std::string> serialized_lines(std::size_t n, std::uint64_t seed);

// Trains a model with spm_train on lines (written to dir/name.txt) with extra arguments;
// returns the path of the .model file. Fails the test on error.
std::string train_spm(const std::string& dir, const std::string& name,
                      const std::vector<std::string>& lines, const std::string& args);

// Runs spm_encode --output_format=id (or piece) over lines; one result per line.
std::vector<std::vector<int>> spm_encode_ids(const std::string& model,
                                             const std::vector<std::string>& lines,
                                             const std::string& dir);
std::vector<std::string> spm_encode_pieces(const std::string& model,
                                           const std::vector<std::string>& lines,
                                           const std::string& dir);
// Runs spm_decode --input_format=id over id lists; one text per list.
std::vector<std::string> spm_decode_ids(const std::string& model,
                                        const std::vector<std::vector<int>>& ids,
                                        const std::string& dir);

// A hand-built tokenizer.model (protobuf bytes).
struct model_piece {
    std::string piece;
    float score = 0;
    int type = 1; // 1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte
};
struct model_spec {
    std::vector<model_piece> pieces;
    int model_type = 2; // bpe
    bool byte_fallback = true;
    bool split_digits = true;
    bool add_dummy_prefix = true;
    bool remove_extra_whitespaces = false;
    bool escape_whitespaces = true;
};
bytes build_model(const model_spec& spec);
// A small Llama-like model: <unk> <s> </s>, 256 byte pieces, "▁", hex digits, separators,
// 'x', and merges such as "▁a", "▁ab", "▁▁", "00", "ab", "3f".
model_spec llama_like_spec();

} // namespace lmgc::test
