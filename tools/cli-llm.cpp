// lmgc predict / analyze / random-model, and the LLM options of compress and decompress.
#include "cli-llm.hpp"

#include "cli-commands.hpp"

#include <cmath>
#include <cstdio>
#include <sstream>

namespace lmgc::cli {

using experimental::llm_settings;

void add_llm_options(arg_parser& p, llm_settings& s, bool decoding) {
    p.option("--model", "DIR", "Hugging Face Llama checkpoint folder (implies --codec lm)",
             &s.model);
    p.option("--device", "D", "cpu (default) or cuda[:N]", &s.device);
    const char* refuse = decoding ? " (decoding: must equal the encoder's)" : "";
    p.option("--serialization", "S",
             std::string("hex-space (default), hex-none, hex-comma, hex-comma+space, "
                         "hex-semicolon, hex-0x, iso") +
                 refuse,
             &s.serialization)
        .option("--bytes-per-group", "N",
                std::string("bytes per hex group: 1, 2, 4 (default) or 8") + refuse,
                &s.bytes_per_group)
        .option(
            "--tokens", "T",
            std::string("canonical (default: the model's tokenizer) or symbol (16 hex digits)") +
                refuse,
            &s.tokens)
        .option("--context", "N",
                std::string("tokens per window incl. BOS (default 2048)") + refuse, &s.context)
        .option("--batch", "N",
                std::string("windows evaluated together (default 4 on CPU, 128 on CUDA)") + refuse,
                &s.batch)
        .option("--dtype", "T",
                std::string("fp32 (CPU default), bf16 (CUDA default) or fp16") + refuse, &s.dtype);
}

double llm_tokens_per_byte(const llm_settings& s) {
    const double bpg = s.bytes_per_group ? s.bytes_per_group : 4;
    const std::string m = s.serialization.empty() ? "hex-space" : s.serialization;
    double extra = 0; // tokens per group besides the digits
    if (m == "hex-space" || m == "hex-comma" || m == "hex-semicolon") extra = 1;
    if (m == "hex-comma+space" || m == "hex-0x") extra = 2;
    if (m == "iso") return 1.0;
    return (2 * bpg + extra) / bpg;
}

namespace {

std::vector<int> parse_ids(const std::string& s) {
    std::vector<int> ids;
    std::stringstream ss(s);
    std::string item;
    while (std::getline(ss, item, ',')) {
        std::size_t used = 0;
        int v = 0;
        try {
            v = std::stoi(item, &used);
        } catch (const std::exception&) {
            used = 0;
        }
        if (used == 0 || used != item.size() || v < 0)
            throw usage_error("--ids expects comma-separated token ids, got '" + item + "'");
        ids.push_back(v);
    }
    return ids;
}

} // namespace

int cmd_predict(const args_t& args) {
    llm_settings s;
    std::string ids_text, text;
    bool quantized = false, verbose = false;
    arg_parser p(
        "predict",
        "Prints, for each position, log2 of the probability the model gives the next token.");
    p.option("--model", "DIR", "Hugging Face Llama checkpoint folder", &s.model)
        .option("--ids", "I,J,...", "token ids (the first is the context start, e.g. BOS = 1)",
                &ids_text)
        .option("--text", "STR", "text, tokenized with the model's tokenizer after BOS", &text)
        .option("--device", "D", "cpu (default) or cuda[:N]", &s.device)
        .option("--dtype", "T", "fp32 (CPU default), bf16 or fp16", &s.dtype)
        .flag("--quantized", "print log2 of the integer frequencies the coder uses instead",
              &quantized)
        .flag("-v,--verbose", "one line per token: id, piece, log2 p, log2 q", &verbose);
    p.parse(args);
    if (s.model.empty()) throw usage_error("--model DIR is required");
    if (ids_text.empty() == text.empty()) throw usage_error("give exactly one of --ids and --text");
    const auto r = experimental::llm_predict(
        s, ids_text.empty() ? std::vector<int>{} : parse_ids(ids_text), text);
    if (verbose) {
        std::vector<std::vector<std::string>> rows{
            {"pos", "id", "piece", "log2 p", "log2 q (coder)"}};
        for (std::size_t i = 0; i < r.log2p.size(); ++i)
            rows.push_back({std::to_string(i + 1), std::to_string(r.ids[i + 1]), r.pieces[i + 1],
                            format_fixed(r.log2p[i], 4), format_fixed(r.log2q[i], 4)});
        std::fputs(markdown_table(rows).c_str(), stdout);
        return 0;
    }
    const auto& v = quantized ? r.log2q : r.log2p;
    for (std::size_t i = 0; i < v.size(); ++i) std::printf("%s%.6f", i ? " " : "", v[i]);
    std::printf("\n");
    return 0;
}

int cmd_analyze(const args_t& args) {
    llm_settings s;
    std::string in;
    bool raw = false, no_verify = false, quiet = false;
    arg_parser p("analyze",
                 "The LLM prior's ideal code length (-sum log2 p) next to the real coded size.");
    p.positional("IN", "tensor file (.npy, .safetensors, .pt, or raw float32 with --raw)", &in);
    add_llm_options(p, s, false);
    p.flag("--raw", "input is raw little-endian float32", &raw)
        .flag("--no-verify", "do not decode the payload back (faster; the size is then unverified)",
              &no_verify)
        .flag("-q,--quiet", "no progress bar", &quiet);
    p.parse(args);
    if (s.model.empty()) throw usage_error("--model DIR is required");
    progress_bar bar("analyze", "tok", llm_tokens_per_byte(s));
    const auto a = experimental::llm_analyze(in, s, !no_verify,
                                             raw ? input_format::raw : input_format::auto_detect,
                                             quiet ? progress_fn{} : bar.callback());
    bar.finish();
    const double nv = static_cast<double>(a.n_values);
    const double raw_bits = 8.0 * static_cast<double>(a.tensor_bytes);
    auto rate = [&](double bits) { return format_fixed(100.0 * bits / raw_bits, 3); };
    auto per = [&](double bits) { return format_fixed(bits / nv, 4); };
    std::printf("%s: %llu float values (%llu bytes), %llu tokens (%llu coded) in %llu windows\n",
                in.c_str(), static_cast<unsigned long long>(a.n_values),
                static_cast<unsigned long long>(a.tensor_bytes),
                static_cast<unsigned long long>(a.n_tokens),
                static_cast<unsigned long long>(a.n_coded),
                static_cast<unsigned long long>(a.n_windows));
    std::string settings;
    for (const auto& [k, v] : a.params)
        if (k != "model-sha256" && k != "lm-version" && k != "freq")
            settings += (settings.empty() ? "" : " ") + k + "=" + v;
    std::printf("settings: %s\n\n", settings.c_str());
    const double payload_bits = 8.0 * static_cast<double>(a.payload_bytes);
    std::vector<std::vector<std::string>> rows{{"", "bits", "bits/float", "bits/token", "rate %"}};
    auto row = [&](const std::string& name, double bits) {
        rows.push_back({name, format_fixed(bits, 0), per(bits),
                        format_fixed(a.n_coded ? bits / static_cast<double>(a.n_coded) : 0, 4),
                        rate(bits)});
    };
    row("ideal, model softmax (-sum log2 p)", a.model_bits);
    row("ideal, integer tables the coder uses", a.coded_bits);
    row(std::string("real lm payload") +
            (a.verified ? " (decoded back bit-exactly)" : " (not verified)"),
        payload_bits);
    std::fputs(markdown_table(rows).c_str(), stdout);
    const double tok = static_cast<double>(a.n_tokens);
    std::printf("\nencode: %.2f s (%.0f tokens/s, tokenization %.2f s)", a.encode_seconds,
                a.encode_seconds > 0 ? tok / a.encode_seconds : 0, a.tokenize_seconds);
    if (a.verified)
        std::printf(", decode: %.2f s (%.0f tokens/s)", a.decode_seconds,
                    a.decode_seconds > 0 ? tok / a.decode_seconds : 0);
    std::printf("\n");
    return 0;
}

int cmd_random_model(const args_t& args) {
    std::string dir, shape = "tiny", dtype = "fp32";
    std::uint64_t seed = 1;
    arg_parser p("random-model",
                 "Writes a random-weight Llama checkpoint with a small synthetic tokenizer "
                 "(for benchmarks and checks without downloads).");
    p.positional("DIR", "output folder", &dir)
        .option("--shape", "S", "tiny (default) or tinyllama (TinyLlama-1.1B's exact shape)",
                &shape)
        .option("--dtype", "T", "weights file dtype: fp32 (default), bf16 or fp16", &dtype)
        .option("--seed", "N", "random seed (default 1)", &seed);
    p.parse(args);
    experimental::llm_write_random_model(dir, shape, dtype, seed);
    std::printf("%s: random %s checkpoint (%s)\n", dir.c_str(), shape.c_str(), dtype.c_str());
    return 0;
}

} // namespace lmgc::cli
