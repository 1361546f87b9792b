// The torch-free half of the LLM prior: config.json, the checkpoint's files, the SHA-256
// fingerprint, dtype names, and a writer of random-weight checkpoints for tests and benchmarks.
#include "model/model-llm.hpp"

#include "common/common-error.hpp"
#include "common/common-float.hpp"
#include "common/common-json.hpp"
#include "common/common-parallel.hpp"
#include "common/common-random.hpp"
#include "common/common-sha256.hpp"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace lmgc::detail {
namespace {

bool file_exists(const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

std::string read_text(const std::string& path) {
    const auto b = read_file(path);
    return std::string(b.begin(), b.end());
}

std::int64_t get_int(const json_value& o, std::string_view key, std::int64_t min,
                     std::int64_t max) {
    const std::string what = "config.json: " + std::string(key);
    const auto v = o.at(key).as_int(what);
    LMGC_CHECK(v >= min && v <= max, errc::bad_input, what, " = ", v, " is outside [", min, ", ",
               max, "]");
    return v;
}

} // namespace

llm_config llm_parse_config(std::string_view json_text) {
    const auto doc = json_parse(json_text, "config.json");
    (void)doc.as_object("config.json");
    llm_config c;
    if (const auto* a = doc.find("architectures")) {
        const auto& arr = a->as_array("config.json: architectures");
        LMGC_CHECK(arr.size() == 1, errc::unsupported,
                   "config.json: expected exactly one architecture, found ", arr.size());
        c.architecture = arr[0].as_string("config.json: architectures");
    } else if (const auto* mt = doc.find("model_type")) {
        const auto& t = mt->as_string("config.json: model_type");
        c.architecture = t == "llama" ? "LlamaForCausalLM" : t;
    }
    LMGC_CHECK(c.architecture == "LlamaForCausalLM", errc::unsupported,
               "config.json: architecture '", c.architecture,
               "' is not supported (only LlamaForCausalLM)");
    if (const auto* act = doc.find("hidden_act")) {
        const auto& s = act->as_string("config.json: hidden_act");
        LMGC_CHECK(s == "silu", errc::unsupported, "config.json: hidden_act '", s,
                   "' is not supported (only silu)");
    }
    if (const auto* rs = doc.find("rope_scaling"))
        LMGC_CHECK(rs->is_null(), errc::unsupported,
                   "config.json: rope_scaling is set; scaled RoPE is not supported");
    constexpr std::int64_t big = std::int64_t{1} << 20;
    c.vocab_size = get_int(doc, "vocab_size", 2, static_cast<std::int64_t>(llm_freq_max_symbols));
    c.hidden_size = get_int(doc, "hidden_size", 1, big);
    c.intermediate_size = get_int(doc, "intermediate_size", 1, big);
    c.n_layers = get_int(doc, "num_hidden_layers", 1, 4096);
    c.n_heads = get_int(doc, "num_attention_heads", 1, 4096);
    c.n_kv_heads = doc.find("num_key_value_heads") && !doc.at("num_key_value_heads").is_null()
                       ? get_int(doc, "num_key_value_heads", 1, 4096)
                       : c.n_heads;
    LMGC_CHECK(c.n_heads % c.n_kv_heads == 0, errc::bad_input, "config.json: num_attention_heads (",
               c.n_heads, ") is not a multiple of num_key_value_heads (", c.n_kv_heads, ")");
    if (doc.find("head_dim") && !doc.at("head_dim").is_null()) {
        c.head_dim = get_int(doc, "head_dim", 2, 4096);
    } else {
        LMGC_CHECK(c.hidden_size % c.n_heads == 0, errc::bad_input, "config.json: hidden_size (",
                   c.hidden_size, ") is not a multiple of num_attention_heads (", c.n_heads, ")");
        c.head_dim = c.hidden_size / c.n_heads;
    }
    LMGC_CHECK(c.head_dim % 2 == 0, errc::bad_input, "config.json: head dimension ", c.head_dim,
               " is odd (RoPE needs pairs)");
    c.max_position_embeddings = doc.find("max_position_embeddings")
                                    ? get_int(doc, "max_position_embeddings", 1, big * 64)
                                    : 2048;
    if (const auto* v = doc.find("rope_theta"))
        c.rope_theta = v->as_double("config.json: rope_theta");
    LMGC_CHECK(c.rope_theta > 0 && std::isfinite(c.rope_theta), errc::bad_input,
               "config.json: rope_theta must be positive");
    if (const auto* v = doc.find("rms_norm_eps"))
        c.rms_norm_eps = v->as_double("config.json: rms_norm_eps");
    LMGC_CHECK(c.rms_norm_eps > 0 && c.rms_norm_eps < 1, errc::bad_input,
               "config.json: rms_norm_eps must be in (0, 1)");
    if (const auto* v = doc.find("tie_word_embeddings"))
        c.tie_word_embeddings = v->as_bool("config.json: tie_word_embeddings");
    if (const auto* v = doc.find("attention_bias"))
        c.attention_bias = v->as_bool("config.json: attention_bias");
    if (const auto* v = doc.find("mlp_bias")) c.mlp_bias = v->as_bool("config.json: mlp_bias");
    if (const auto* v = doc.find("bos_token_id"); v && !v->is_null())
        c.bos_token_id = get_int(doc, "bos_token_id", 0, c.vocab_size - 1);
    return c;
}

std::string llm_config_json(const llm_config& c, std::string_view torch_dtype) {
    auto o = json_value::make_object();
    auto arch = json_value::make_array();
    arch.push_back(json_value::make_string("LlamaForCausalLM"));
    o.set("architectures", arch);
    o.set("model_type", json_value::make_string("llama"));
    auto num = [](std::int64_t v) {
        return json_value::make_number(static_cast<double>(v), std::to_string(v));
    };
    auto real = [](double v) {
        char buf[64];
        std::snprintf(buf, sizeof buf, "%.17g", v);
        return json_value::make_number(v, buf);
    };
    o.set("vocab_size", num(c.vocab_size));
    o.set("hidden_size", num(c.hidden_size));
    o.set("intermediate_size", num(c.intermediate_size));
    o.set("num_hidden_layers", num(c.n_layers));
    o.set("num_attention_heads", num(c.n_heads));
    o.set("num_key_value_heads", num(c.n_kv_heads));
    if (c.head_dim != c.hidden_size / c.n_heads) o.set("head_dim", num(c.head_dim));
    o.set("max_position_embeddings", num(c.max_position_embeddings));
    o.set("rope_theta", real(c.rope_theta));
    o.set("rms_norm_eps", real(c.rms_norm_eps));
    o.set("tie_word_embeddings", json_value::make_bool(c.tie_word_embeddings));
    o.set("attention_bias", json_value::make_bool(c.attention_bias));
    o.set("mlp_bias", json_value::make_bool(c.mlp_bias));
    o.set("hidden_act", json_value::make_string("silu"));
    o.set("rope_scaling", json_value());
    o.set("bos_token_id", num(c.bos_token_id));
    o.set("eos_token_id", num(c.bos_token_id + 1 < c.vocab_size ? c.bos_token_id + 1 : 0));
    o.set("torch_dtype", json_value::make_string(std::string(torch_dtype)));
    return o.dump();
}

llm_files llm_find_files(const std::string& dir) {
    struct stat st {};
    LMGC_CHECK(::stat(dir.c_str(), &st) == 0 && S_ISDIR(st.st_mode), errc::io, "model folder '",
               dir, "' does not exist or is not a folder");
    llm_files f;
    f.dir = dir;
    auto need = [&](const std::string& name) {
        const std::string p = dir + "/" + name;
        LMGC_CHECK(file_exists(p), errc::io, "model folder '", dir, "' has no ", name);
        return p;
    };
    f.config = need("config.json");
    f.tokenizer = need("tokenizer.model");
    if (file_exists(dir + "/model.safetensors")) {
        f.weights.push_back(dir + "/model.safetensors");
        return f;
    }
    const std::string index = dir + "/model.safetensors.index.json";
    if (!file_exists(index)) {
        const bool has_bin = file_exists(dir + "/pytorch_model.bin") ||
                             file_exists(dir + "/pytorch_model.bin.index.json");
        LMGC_FAIL(errc::io, "model folder '", dir,
                  "' has no model.safetensors nor model.safetensors.index.json",
                  has_bin ? " (only pytorch_model.bin: convert it to safetensors)" : "");
    }
    f.index = index;
    const auto doc = json_parse(read_text(index), "model.safetensors.index.json");
    const auto& map = doc.at("weight_map").as_object("model.safetensors.index.json: weight_map");
    std::vector<std::string> shards;
    for (const auto& [tensor, file] : map) {
        const auto& name = file.as_string("model.safetensors.index.json: weight_map." + tensor);
        LMGC_CHECK(!name.empty() && name.find('/') == std::string::npos && name != "." &&
                       name != "..",
                   errc::bad_input, "model.safetensors.index.json: bad shard name '", name, "'");
        if (std::find(shards.begin(), shards.end(), name) == shards.end()) shards.push_back(name);
    }
    LMGC_CHECK(!shards.empty(), errc::bad_input,
               "model.safetensors.index.json: weight_map is empty");
    std::sort(shards.begin(), shards.end());
    for (const auto& s : shards) f.weights.push_back(need(s));
    return f;
}

// Fingerprint construction (docs/llm.md): SHA-256 over
//   "lmgc-model-fingerprint-1\n" and, for config.json, tokenizer.model, then each weights file
//   in order: its base name, '\n', its size as 8 LE bytes, and the SHA-256 of the
//   concatenated SHA-256 digests of its 64 MiB blocks.
// Hashing blocks independently lets all cores work on one large file.
std::string llm_fingerprint(const llm_files& files, int n_threads) {
    std::vector<std::string> paths{files.config, files.tokenizer};
    paths.insert(paths.end(), files.weights.begin(), files.weights.end());
    constexpr std::uint64_t block = std::uint64_t{64} << 20;
    struct job {
        std::size_t file;
        std::uint64_t offset, size;
    };
    std::vector<std::uint64_t> sizes;
    std::vector<job> jobs;
    std::vector<std::size_t> first_job;
    for (std::size_t i = 0; i < paths.size(); ++i) {
        struct stat st {};
        LMGC_CHECK(::stat(paths[i].c_str(), &st) == 0, errc::io, "cannot read '", paths[i],
                   "': ", std::strerror(errno));
        const auto size = static_cast<std::uint64_t>(st.st_size);
        sizes.push_back(size);
        first_job.push_back(jobs.size());
        for (std::uint64_t off = 0; off < size || (off == 0 && size == 0); off += block) {
            jobs.push_back({i, off, std::min(block, size - off)});
            if (size == 0) break;
        }
    }
    first_job.push_back(jobs.size());
    std::vector<sha256_digest> digests(jobs.size());
    parallel_for(jobs.size(), resolve_threads(n_threads), [&](std::size_t j) {
        const auto& jb = jobs[j];
        const int fd = ::open(paths[jb.file].c_str(), O_RDONLY | O_CLOEXEC);
        LMGC_CHECK(fd >= 0, errc::io, "cannot open '", paths[jb.file], "': ", std::strerror(errno));
        sha256 h;
        std::vector<std::uint8_t> buf(std::size_t{1} << 20);
        std::uint64_t done = 0;
        while (done < jb.size) {
            const auto want =
                static_cast<std::size_t>(std::min<std::uint64_t>(buf.size(), jb.size - done));
            const ssize_t n = ::pread(fd, buf.data(), want, static_cast<off_t>(jb.offset + done));
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) {
                const int e = n < 0 ? errno : EIO;
                ::close(fd);
                LMGC_FAIL(errc::io, "cannot read '", paths[jb.file], "': ", std::strerror(e));
            }
            h.update(std::span(buf.data(), static_cast<std::size_t>(n)));
            done += static_cast<std::uint64_t>(n);
        }
        ::close(fd);
        digests[j] = h.final();
    });
    sha256 all;
    all.update("lmgc-model-fingerprint-1\n");
    for (std::size_t i = 0; i < paths.size(); ++i) {
        const auto slash = paths[i].find_last_of('/');
        all.update(std::string_view(paths[i]).substr(slash == std::string::npos ? 0 : slash + 1));
        all.update("\n");
        std::uint8_t le[8];
        store_le(le, sizes[i]);
        all.update(std::span<const std::uint8_t>(le, 8));
        sha256 f;
        for (std::size_t j = first_job[i]; j < first_job[i + 1]; ++j) f.update(digests[j]);
        all.update(f.final());
    }
    return sha256_hex(all.final());
}

std::string_view llm_dtype_name(llm_dtype t) noexcept {
    switch (t) {
    case llm_dtype::f32:
        return "fp32";
    case llm_dtype::bf16:
        return "bf16";
    case llm_dtype::f16:
        return "fp16";
    }
    return "?";
}

llm_dtype llm_dtype_from_name(std::string_view s) {
    if (s == "fp32" || s == "f32" || s == "float32") return llm_dtype::f32;
    if (s == "bf16" || s == "bfloat16") return llm_dtype::bf16;
    if (s == "fp16" || s == "f16" || s == "float16") return llm_dtype::f16;
    LMGC_FAIL(errc::usage, "dtype must be fp32, bf16 or fp16, not '", s, "'");
}

namespace {

using rng = xoshiro256ss;

struct tensor_spec {
    std::string name;
    std::vector<std::int64_t> shape;
    bool ones; // a norm weight
};

} // namespace

void llm_write_random_checkpoint(const std::string& dir, const llm_config& c, llm_dtype file_dtype,
                                 std::uint64_t seed, double std_dev, int n_shards) {
    ::mkdir(dir.c_str(), 0755);
    const std::string torch_dtype = file_dtype == llm_dtype::f32    ? "float32"
                                    : file_dtype == llm_dtype::bf16 ? "bfloat16"
                                                                    : "float16";
    const std::string cfg = llm_config_json(c, torch_dtype);
    write_file_atomic(dir + "/config.json",
                      std::span(reinterpret_cast<const std::uint8_t*>(cfg.data()), cfg.size()),
                      true);

    std::vector<tensor_spec> specs;
    const auto H = c.hidden_size, I = c.intermediate_size, hd = c.head_dim;
    specs.push_back({"model.embed_tokens.weight", {c.vocab_size, H}, false});
    for (std::int64_t l = 0; l < c.n_layers; ++l) {
        const std::string p = "model.layers." + std::to_string(l) + ".";
        specs.push_back({p + "input_layernorm.weight", {H}, true});
        specs.push_back({p + "self_attn.q_proj.weight", {c.n_heads * hd, H}, false});
        specs.push_back({p + "self_attn.k_proj.weight", {c.n_kv_heads * hd, H}, false});
        specs.push_back({p + "self_attn.v_proj.weight", {c.n_kv_heads * hd, H}, false});
        specs.push_back({p + "self_attn.o_proj.weight", {H, c.n_heads * hd}, false});
        if (c.attention_bias) {
            specs.push_back({p + "self_attn.q_proj.bias", {c.n_heads * hd}, false});
            specs.push_back({p + "self_attn.k_proj.bias", {c.n_kv_heads * hd}, false});
            specs.push_back({p + "self_attn.v_proj.bias", {c.n_kv_heads * hd}, false});
            specs.push_back({p + "self_attn.o_proj.bias", {H}, false});
        }
        specs.push_back({p + "post_attention_layernorm.weight", {H}, true});
        specs.push_back({p + "mlp.gate_proj.weight", {I, H}, false});
        specs.push_back({p + "mlp.up_proj.weight", {I, H}, false});
        specs.push_back({p + "mlp.down_proj.weight", {H, I}, false});
        if (c.mlp_bias) {
            specs.push_back({p + "mlp.gate_proj.bias", {I}, false});
            specs.push_back({p + "mlp.up_proj.bias", {I}, false});
            specs.push_back({p + "mlp.down_proj.bias", {H}, false});
        }
    }
    specs.push_back({"model.norm.weight", {H}, true});
    if (!c.tie_word_embeddings) specs.push_back({"lm_head.weight", {c.vocab_size, H}, false});

    const std::size_t esize = file_dtype == llm_dtype::f32 ? 4 : 2;
    const char* st_dtype = file_dtype == llm_dtype::f32    ? "F32"
                           : file_dtype == llm_dtype::bf16 ? "BF16"
                                                           : "F16";
    n_shards = std::max(1, std::min<int>(n_shards, static_cast<int>(specs.size())));
    rng gen(seed);
    // Uniform on [-a, a] has standard deviation a / sqrt(3).
    const double a = std_dev * std::sqrt(3.0);
    auto index = json_value::make_object();
    auto weight_map = json_value::make_object();
    for (int s = 0; s < n_shards; ++s) {
        const std::size_t b =
            specs.size() * static_cast<std::size_t>(s) / static_cast<std::size_t>(n_shards);
        const std::size_t e =
            specs.size() * static_cast<std::size_t>(s + 1) / static_cast<std::size_t>(n_shards);
        char name[64];
        if (n_shards == 1)
            std::snprintf(name, sizeof name, "model.safetensors");
        else
            std::snprintf(name, sizeof name, "model-%05d-of-%05d.safetensors", s + 1, n_shards);
        auto header = json_value::make_object();
        std::uint64_t off = 0;
        for (std::size_t i = b; i < e; ++i) {
            std::uint64_t n = esize;
            auto shape = json_value::make_array();
            for (const auto d : specs[i].shape) {
                n *= static_cast<std::uint64_t>(d);
                shape.push_back(json_value::make_number(static_cast<double>(d), std::to_string(d)));
            }
            auto t = json_value::make_object();
            t.set("dtype", json_value::make_string(st_dtype));
            t.set("shape", shape);
            auto offs = json_value::make_array();
            offs.push_back(json_value::make_number(static_cast<double>(off), std::to_string(off)));
            offs.push_back(
                json_value::make_number(static_cast<double>(off + n), std::to_string(off + n)));
            t.set("data_offsets", offs);
            header.set(specs[i].name, t);
            weight_map.set(specs[i].name, json_value::make_string(name));
            off += n;
        }
        std::string htext = header.dump();
        while ((htext.size() + 8) % 8) htext += ' ';
        const std::string path = dir + "/" + name;
        std::FILE* f = std::fopen(path.c_str(), "wb");
        LMGC_CHECK(f, errc::io, "cannot create '", path, "': ", std::strerror(errno));
        std::uint8_t le[8];
        store_le(le, static_cast<std::uint64_t>(htext.size()));
        bool ok = std::fwrite(le, 1, 8, f) == 8 &&
                  std::fwrite(htext.data(), 1, htext.size(), f) == htext.size();
        std::vector<std::uint8_t> buf;
        for (std::size_t i = b; i < e && ok; ++i) {
            std::uint64_t n = 1;
            for (const auto d : specs[i].shape) n *= static_cast<std::uint64_t>(d);
            for (std::uint64_t done = 0; done < n && ok;) {
                const std::uint64_t m = std::min<std::uint64_t>(n - done, 1 << 20);
                buf.resize(m * esize);
                for (std::uint64_t k = 0; k < m; ++k) {
                    float v = 1.0f;
                    if (!specs[i].ones) {
                        const double u = static_cast<double>(gen.next() >> 11) * 0x1.0p-53;
                        v = static_cast<float>((2 * u - 1) * a);
                    }
                    if (file_dtype == llm_dtype::f32)
                        std::memcpy(&buf[k * 4], &v, 4);
                    else
                        store_le(&buf[k * 2],
                                 file_dtype == llm_dtype::bf16 ? f32_to_bf16(v) : f32_to_f16(v));
                }
                ok = std::fwrite(buf.data(), 1, buf.size(), f) == buf.size();
                done += m;
            }
        }
        ok = std::fclose(f) == 0 && ok;
        LMGC_CHECK(ok, errc::io, "cannot write '", path, "'");
    }
    if (n_shards > 1) {
        index.set("metadata", json_value::make_object());
        index.set("weight_map", weight_map);
        const std::string t = index.dump();
        write_file_atomic(dir + "/model.safetensors.index.json",
                          std::span(reinterpret_cast<const std::uint8_t*>(t.data()), t.size()),
                          true);
    }
}

namespace {

void pb_key(bytes& b, unsigned field, unsigned wire) {
    byte_writer(b).varint(static_cast<std::uint64_t>(field) << 3 | wire);
}
void pb_uint(bytes& b, unsigned field, std::uint64_t v) {
    pb_key(b, field, 0);
    byte_writer(b).varint(v);
}
void pb_bytes(bytes& b, unsigned field, std::string_view s) {
    pb_key(b, field, 2);
    byte_writer(b).str(s);
}

} // namespace

void llm_write_synthetic_tokenizer(const std::string& path) {
    struct piece {
        std::string text;
        float score;
        int type; // 1 normal, 2 unknown, 3 control, 6 byte
    };
    std::vector<piece> pieces{{"<unk>", 0, 2}, {"<s>", 0, 3}, {"</s>", 0, 3}};
    static const char hex_upper[] = "0123456789ABCDEF";
    for (int b = 0; b < 256; ++b)
        pieces.push_back({std::string("<0x") + hex_upper[b >> 4] + hex_upper[b & 15] + ">", 0, 6});
    // Merges first (higher scores), as spm_train orders them; digits never merge (split_digits).
    float score = 0;
    const std::string letters = "abcdef";
    for (const char a : letters)
        for (const char b : letters) pieces.push_back({std::string{a, b}, score--, 1});
    for (const char a : letters) pieces.push_back({"\xe2\x96\x81" + std::string{a}, score--, 1});
    for (const char* c : {"\xe2\x96\x81",
                          "0",
                          "1",
                          "2",
                          "3",
                          "4",
                          "5",
                          "6",
                          "7",
                          "8",
                          "9",
                          "a",
                          "b",
                          "c",
                          "d",
                          "e",
                          "f",
                          "x",
                          ",",
                          ";"})
        pieces.push_back({c, score--, 1});
    bytes out;
    for (const auto& p : pieces) {
        bytes m;
        pb_bytes(m, 1, p.text);
        pb_key(m, 2, 5);
        std::uint8_t f[4];
        std::memcpy(f, &p.score, 4);
        m.insert(m.end(), f, f + 4);
        if (p.type != 1) pb_uint(m, 3, static_cast<std::uint64_t>(p.type));
        pb_key(out, 1, 2);
        byte_writer(out).blob(m);
    }
    bytes t;
    pb_uint(t, 3, 2); // model_type BPE
    pb_uint(t, 4, pieces.size());
    pb_uint(t, 25, 1); // split_digits
    pb_uint(t, 35, 1); // byte_fallback
    pb_key(out, 2, 2);
    byte_writer(out).blob(t);
    bytes n;
    pb_bytes(n, 1, "identity");
    pb_uint(n, 3, 1); // add_dummy_prefix
    pb_uint(n, 4, 0); // remove_extra_whitespaces
    pb_uint(n, 5, 1); // escape_whitespaces
    pb_key(out, 3, 2);
    byte_writer(out).blob(n);
    write_file_atomic(path, out, true);
}

} // namespace lmgc::detail
