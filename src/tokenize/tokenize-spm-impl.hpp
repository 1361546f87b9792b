// Internals of spm_tokenizer shared by tokenize-spm-model.cpp (reading, normalizing) and
// tokenize-spm-bpe.cpp (BPE, decoding). Only those two files include this.
#pragma once

#include "tokenize/tokenize-spm.hpp"

#include <array>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace lmgc::detail {

struct spm_tokenizer::impl {
    std::string what; // names the file in errors

    // The vocabulary, by id.
    std::vector<std::string> pieces;
    std::vector<float> scores;
    std::vector<spm_piece_type> types;

    // SentencePiece keeps two maps: `pieces_` (normal, user-defined, unused: what BPE may
    // merge into) and `reserved_id_map_` (unknown, control, byte). Lookups try the reserved
    // map first. Keys view the strings in `pieces`.
    std::unordered_map<std::string_view, int> merge_map;
    std::unordered_map<std::string_view, int> reserved_map;

    int model_type = 1;    // TrainerSpec.ModelType: 1 unigram, 2 bpe, 3 word, 4 char
    int unk = -1;          // the UNKNOWN piece
    int unk_reported = -1; // unk_id(): the id of trainer_spec.unk_piece when it is UNKNOWN
    int bos = -1, eos = -1, pad = -1;
    bool byte_fallback = false;
    bool split_digits = false;
    bool add_dummy_prefix = true;
    bool remove_extra_whitespaces = true;
    bool escape_whitespaces = true;
    std::string unk_surface = " \xE2\x81\x87 ";
    std::array<int, 256> byte_ids{};
    bool has_denormalizer = false;

    // User-defined pieces, matched longest first; bucketed by first byte.
    std::array<std::vector<std::string_view>, 256> user_defined;
    bool has_user_defined = false;

    // Precompiled character map: a darts-clone double array and the replacement strings.
    std::vector<std::uint32_t> trie;
    std::string charsmap_strings;

    std::uint32_t crc = 0;

    // SentencePiece's PieceToId: reserved, then mergeable, else the unknown id.
    int spm_piece_to_id(std::string_view w) const {
        if (const auto it = reserved_map.find(w); it != reserved_map.end()) return it->second;
        if (const auto it = merge_map.find(w); it != merge_map.end()) return it->second;
        return unk;
    }
    // Length of the user-defined piece at the start of w, or 0.
    std::size_t match_user_defined(std::string_view w) const;
    // The normalizer's NormalizePrefix: (replacement text, input bytes consumed).
    std::pair<std::string_view, std::size_t> normalize_prefix(std::string_view input) const;
    // The normalizer's Normalize.
    std::string normalize(std::string_view input) const;
    // BPE over normalized text: (piece, id) as bpe::Model::Encode returns them.
    std::vector<std::pair<std::string_view, int>> bpe(std::string_view normalized) const;
    // PopulateSentencePieceText: byte fallback or merging of unknown runs.
    void populate(const std::vector<std::pair<std::string_view, int>>& result,
                  std::vector<int>* ids, std::vector<std::string>* pieces_out) const;
};

} // namespace lmgc::detail
