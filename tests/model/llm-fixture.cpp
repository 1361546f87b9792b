// Tiny Llama checkpoints and tokenizers for the LLM tests (see llm-fixture.hpp).
#include "llm-fixture.hpp"

#include "testutil.hpp"

#include <filesystem>
#include <map>
#include <random>
#include <stdexcept>

namespace lmgc::test {

detail::llm_config tiny_config(const tiny_llama& t) {
    detail::llm_config c;
    c.architecture = "LlamaForCausalLM";
    c.vocab_size = t.vocab;
    c.hidden_size = 32;
    c.intermediate_size = 48;
    c.n_layers = 2;
    c.n_heads = 4;
    c.n_kv_heads = t.gqa ? 2 : 4;
    c.head_dim = 8;
    c.max_position_embeddings = 512;
    c.rope_theta = 10000.0;
    c.rms_norm_eps = 1e-5;
    c.tie_word_embeddings = t.tied;
    c.attention_bias = t.bias;
    c.mlp_bias = t.bias;
    c.bos_token_id = 1;
    return c;
}

bool have_spm_train() {
    return run("command -v spm_train >/dev/null") == 0;
}

void make_tokenizer(const std::string& path, int vocab) {
    static std::map<int, std::string> trained; // vocab -> model file, made once per process
    static temp_dir cache;
    auto it = trained.find(vocab);
    if (it == trained.end()) {
        // A corpus of hex-serialized gradient-like floats, the text the tokenizer will see.
        std::string corpus;
        const auto v = gradient_like(4000, 42);
        const auto b = float_bytes(v);
        static const char hex[] = "0123456789abcdef";
        for (std::size_t i = 0; i < b.size(); ++i) {
            corpus += hex[b[i] >> 4];
            corpus += hex[b[i] & 15];
            if (i % 4 == 3) corpus += (i % 128 == 127) ? '\n' : ' ';
        }
        const std::string txt = cache.file("corpus-" + std::to_string(vocab) + ".txt");
        write_bytes(txt, bytes(corpus.begin(), corpus.end()));
        const std::string prefix = cache.file("spm-" + std::to_string(vocab));
        std::string out;
        const int rc =
            run("spm_train --input=" + txt + " --model_prefix=" + prefix +
                    " --model_type=bpe --vocab_size=" + std::to_string(vocab) +
                    " --byte_fallback=true --split_digits=true --character_coverage=1.0"
                    " --normalization_rule_name=identity --remove_extra_whitespaces=false"
                    " --num_threads=1 --minloglevel=2",
                &out);
        if (rc != 0) throw std::runtime_error("spm_train failed: " + out);
        it = trained.emplace(vocab, prefix + ".model").first;
    }
    std::filesystem::copy_file(it->second, path, std::filesystem::copy_options::overwrite_existing);
}

void make_tiny_llama(const std::string& dir, const tiny_llama& t) {
    std::filesystem::create_directories(dir);
    detail::llm_write_random_checkpoint(dir, tiny_config(t), t.file_dtype, t.seed, 0.5, t.n_shards);
    make_tokenizer(dir + "/tokenizer.model", t.vocab);
}

} // namespace lmgc::test
