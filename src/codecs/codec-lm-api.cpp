// The LLM calls that need no LibTorch: the codec options of the settings and random
// checkpoints. Predict, analyze and the prefill benchmark are the module's
// (codec-lm-tools.cpp), reached through src/module/module-research.cpp.
#include "lmgc/research.hpp"

#include "common/common-error.hpp"
#include "io/io-tensor-file.hpp"
#include "model/model-llm.hpp"

#include <chrono>
#include <cmath>
#include <map>
#include <random>
#include <sys/stat.h>

namespace lmgc::experimental {

using namespace lmgc::detail;

std::vector<codec_option> llm_codec_options(const llm_settings& s) {
    std::vector<codec_option> o;
    if (!s.model.empty()) o.emplace_back("model", s.model);
    if (!s.serialization.empty()) o.emplace_back("serialization", s.serialization);
    if (s.bytes_per_group) o.emplace_back("bytes-per-group", std::to_string(s.bytes_per_group));
    if (!s.tokens.empty()) o.emplace_back("tokens", s.tokens);
    if (s.context) o.emplace_back("context", std::to_string(s.context));
    if (s.batch) o.emplace_back("batch", std::to_string(s.batch));
    if (!s.device.empty()) o.emplace_back("device", s.device);
    if (!s.dtype.empty()) o.emplace_back("dtype", s.dtype);
    if (s.n_threads) o.emplace_back("threads", std::to_string(s.n_threads));
    return o;
}

void llm_write_random_model(const std::string& dir, const std::string& shape,
                            const std::string& dtype, std::uint64_t seed) {
    llm_config c;
    c.architecture = "LlamaForCausalLM";
    double std_dev = 0.02;
    if (shape == "tiny") {
        c.vocab_size = 512;
        c.hidden_size = 64;
        c.intermediate_size = 176;
        c.n_layers = 2;
        c.n_heads = 4;
        c.n_kv_heads = 2;
        c.head_dim = 16;
        c.max_position_embeddings = 4096;
        std_dev = 0.3;
    } else if (shape == "tinyllama") { // TinyLlama-1.1B-Chat-v1.0's config.json
        c.vocab_size = 32000;
        c.hidden_size = 2048;
        c.intermediate_size = 5632;
        c.n_layers = 22;
        c.n_heads = 32;
        c.n_kv_heads = 4;
        c.head_dim = 64;
        c.max_position_embeddings = 2048;
        c.rms_norm_eps = 1e-5;
    } else {
        LMGC_FAIL(errc::usage, "shape must be tiny or tinyllama, not '", shape, "'");
    }
    c.rope_theta = 10000.0;
    c.bos_token_id = 1;
    ::mkdir(dir.c_str(), 0755);
    llm_write_random_checkpoint(dir, c, llm_dtype_from_name(dtype), seed, std_dev);
    llm_write_synthetic_tokenizer(dir + "/tokenizer.model");
}

} // namespace lmgc::experimental
