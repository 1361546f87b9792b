// Test fixtures for the LLM prior, made at test time: tiny random Llama checkpoints in Hugging
// Face layout and SentencePiece BPE tokenizers trained by `spm_train` on hex text.
#pragma once

#include "model/model-llm.hpp"

#include <string>

namespace lmgc::test {

struct tiny_llama {
    bool gqa = true;   // 4 query heads over 2 KV heads, else 4 over 4
    bool tied = false; // tie_word_embeddings
    detail::llm_dtype file_dtype = detail::llm_dtype::f32;
    int n_shards = 1;
    bool bias = false; // attention_bias and mlp_bias
    std::uint64_t seed = 1;
    int vocab = 320;
};

// The config of a tiny model (hidden 32, 2 layers).
detail::llm_config tiny_config(const tiny_llama& t);
// Writes config.json, weights and tokenizer.model into dir (created).
void make_tiny_llama(const std::string& dir, const tiny_llama& t = {});
// Copies (trains once per process, then copies) a BPE tokenizer.model with `vocab` pieces.
void make_tokenizer(const std::string& path, int vocab = 320);
// Whether spm_train is on PATH.
bool have_spm_train();

} // namespace lmgc::test
