// lmgc compress / decompress / info / codecs.
#include "cli-args.hpp"
#include "cli-commands.hpp"
#include "cli-llm.hpp"

#include <cstdio>

namespace lmgc::cli {
namespace {

input_format parse_format(const std::string& s) {
    if (s == "auto") return input_format::auto_detect;
    if (s == "npy") return input_format::npy;
    if (s == "safetensors") return input_format::safetensors;
    if (s == "torch" || s == "pt") return input_format::torch;
    if (s == "raw") return input_format::raw;
    throw usage_error("--format must be auto, npy, safetensors, torch or raw, not '" + s + "'");
}

codec_option parse_set(const std::string& kv) {
    const auto eq = kv.find('=');
    if (eq == std::string::npos || eq == 0)
        throw usage_error("--set expects KEY=VALUE, got '" + kv + "'");
    return {kv.substr(0, eq), kv.substr(eq + 1)};
}

} // namespace

int cmd_compress(const args_t& args) {
    std::string in, out, codec, format = "auto";
    std::string preprocess;
    std::uint64_t chunk_bytes = 0, seed = 0;
    int threads = 0;
    bool force = false, raw = false, unchunked = false, quiet = false;
    std::vector<std::string> sets;
    arg_parser p("compress", "Compresses a tensor file losslessly into a .lmgc file.");
    p.positional("IN", "input file: .npy, .safetensors, torch.save (.pt/.ckpt), or raw with --raw",
                 &in)
        .option("-o,--output", "OUT", "output file (default: IN.lmgc)", &out)
        .option("-c,--codec", "C", "codec for float tensors (default: see 'lmgc codecs')", &codec)
        .option("--chunk-bytes", "N", "bytes per independently coded chunk (e.g. 512, 16M)",
                &chunk_bytes)
        .flag("--unchunked", "code each stream as one chunk", &unchunked)
        .option("-t,--threads", "N", "worker threads (default: all cores)", &threads)
        .flag("--raw", "input is raw little-endian float32", &raw)
        .option("--format", "F", "input format: auto, npy, safetensors, torch, raw", &format)
        .option_list("--set", "KEY=VALUE", "codec setting, e.g. --set level=6 (repeatable)", &sets)
        .option("--preprocess", "SPEC",
                "lossy steps before coding: sparsify:P, topk:P, quantize:B, joined by + (e.g. "
                "sparsify:10+quantize:8)",
                &preprocess)
        .option("--seed", "N", "seed of random sparsification (default 0)", &seed)
        .flag("-f,--force", "overwrite the output if it exists", &force)
        .flag("-q,--quiet", "print nothing on success", &quiet)
        .epilog("Examples:\n  lmgc compress grads.npy\n"
                "  lmgc compress grads.safetensors -c lzma --chunk-bytes 512\n"
                "  lmgc compress grads.npy --preprocess topk:10+quantize:8 -o lossy.lmgc\n"
                "  lmgc compress grads.npy --model /models/TinyLlama-1.1B-Chat-v1.0 --device cuda");
    experimental::llm_settings llm;
    add_llm_options(p, llm, false);
    p.parse(args);
    if (!llm.model.empty() && codec.empty()) codec = "lm";

    auto params = default_compress_params();
    params.preprocess = preprocess;
    params.seed = seed;
    params.codec = codec;
    params.chunk_bytes = chunk_bytes;
    params.unchunked = unchunked;
    if (threads < 0) throw usage_error("--threads must be >= 0");
    params.n_threads = threads;
    params.format = raw ? input_format::raw : parse_format(format);
    for (const auto& s : sets) params.codec_options.push_back(parse_set(s));
    for (auto& o : experimental::llm_codec_options(llm))
        params.codec_options.push_back(std::move(o));
    if (unchunked && chunk_bytes)
        throw usage_error("--unchunked and --chunk-bytes exclude each other");
    if (out.empty()) out = in + ".lmgc";

    progress_bar bar("compress", codec == "lm" ? "tok" : "B", llm_tokens_per_byte(llm));
    params.progress = bar.callback();
    const auto st = compress_file(in, out, params, force);
    bar.finish();
    if (!quiet)
        std::printf(
            "%s: %s -> %s (%.2f%% of %s tensor data) in %.2f s, %s/s\n", out.c_str(),
            format_bytes(static_cast<double>(st.input_bytes)).c_str(),
            format_bytes(static_cast<double>(st.output_bytes)).c_str(), st.rate_percent(),
            format_bytes(static_cast<double>(st.tensor_bytes)).c_str(), st.seconds,
            format_bytes(st.seconds > 0 ? static_cast<double>(st.tensor_bytes) / st.seconds : 0)
                .c_str());
    if (!quiet && !preprocess.empty())
        std::printf(
            "lossy: %s representation + %s side information; %.2f%% of the preprocessed "
            "size; relative L2 error %.4g\n",
            format_bytes(static_cast<double>(st.preprocessed_bytes - st.side_info_bytes)).c_str(),
            format_bytes(static_cast<double>(st.side_info_bytes)).c_str(),
            st.rate_vs_preprocessed_percent(), st.relative_l2_error);
    return 0;
}

int cmd_decompress(const args_t& args) {
    std::string in, out;
    int threads = 0;
    bool force = false, quiet = false;
    std::vector<std::string> sets;
    arg_parser p("decompress", "Restores the original file from a .lmgc file, bit for bit.");
    p.positional("IN", ".lmgc file", &in)
        .option("-o,--output", "OUT", "output file (default: IN without .lmgc, else IN.out)", &out)
        .option("-t,--threads", "N", "worker threads (default: all cores)", &threads)
        .option_list("--set", "KEY=VALUE", "codec setting needed to decode (repeatable)", &sets)
        .flag("-f,--force", "overwrite the output if it exists", &force)
        .flag("-q,--quiet", "print nothing on success", &quiet);
    experimental::llm_settings llm;
    add_llm_options(p, llm, true);
    p.parse(args);
    if (threads < 0) throw usage_error("--threads must be >= 0");
    auto params = default_decompress_params();
    params.n_threads = threads;
    for (const auto& s : sets) params.codec_options.push_back(parse_set(s));
    for (auto& o : experimental::llm_codec_options(llm))
        params.codec_options.push_back(std::move(o));
    if (out.empty()) out = default_output(in, ".out", ".lmgc");
    progress_bar bar("decompress", llm.model.empty() ? "B" : "tok", llm_tokens_per_byte(llm));
    params.progress = bar.callback();
    decompress_file(in, out, params, force);
    bar.finish();
    if (!quiet) std::printf("%s: restored\n", out.c_str());
    return 0;
}

int cmd_info(const args_t& args) {
    std::string in;
    bool all = false;
    arg_parser p("info", "Shows the header, tensors and chunks of a .lmgc file.");
    p.positional("IN", ".lmgc file", &in).flag("-a,--all", "list every tensor and chunk", &all);
    p.parse(args);
    const auto fi = inspect_file(in);
    std::printf("file:          %s (%s)\n", in.c_str(),
                format_bytes(static_cast<double>(fi.file_bytes)).c_str());
    std::printf("format:        .lmgc %u.%u\n", fi.format_major, fi.format_minor);
    std::printf("original:      %s file, %llu bytes (%llu tensor bytes, %llu other)\n",
                fi.source_format.c_str(), static_cast<unsigned long long>(fi.original_bytes),
                static_cast<unsigned long long>(fi.tensor_bytes),
                static_cast<unsigned long long>(fi.skeleton_bytes));
    const double rate = fi.tensor_bytes ? 100.0 * static_cast<double>(fi.file_bytes) /
                                              static_cast<double>(fi.tensor_bytes)
                                        : 0;
    std::printf("rate:          %.3f%% of the tensor data\n", rate);
    if (!fi.preprocess.empty()) std::printf("preprocess:    %s (lossy)\n", fi.preprocess.c_str());
    std::printf("\nstreams:\n");
    std::vector<std::vector<std::string>> rows{
        {"#", "dtype", "codec", "params", "raw bytes", "chunk bytes", "coded bytes", "rate %"}};
    for (std::size_t i = 0; i < fi.streams.size(); ++i) {
        const auto& s = fi.streams[i];
        std::uint64_t coded = 0;
        for (const auto& c : fi.chunks)
            if (c.stream == i) coded += c.coded_bytes;
        std::string params;
        for (const auto& [k, v] : s.codec_params)
            params += (params.empty() ? "" : " ") + k + "=" + v;
        rows.push_back({std::to_string(i), std::string(dtype_name(s.type)), s.codec, params,
                        std::to_string(s.raw_bytes),
                        s.chunk_bytes ? std::to_string(s.chunk_bytes) : "unchunked",
                        std::to_string(coded),
                        format_fixed(s.raw_bytes ? 100.0 * static_cast<double>(coded) /
                                                       static_cast<double>(s.raw_bytes)
                                                 : 0,
                                     3)});
    }
    std::fputs(markdown_table(rows).c_str(), stdout);
    const std::size_t limit = all ? SIZE_MAX : 20;
    std::printf("\ntensors (%zu):\n", fi.tensors.size());
    rows = {{"name", "dtype", "shape", "bytes", "codec"}};
    for (std::size_t i = 0; i < fi.tensors.size() && i < limit; ++i) {
        const auto& t = fi.tensors[i];
        std::string shape = "[";
        for (std::size_t d = 0; d < t.shape.size(); ++d)
            shape += (d ? ", " : "") + std::to_string(t.shape[d]);
        shape += "]";
        rows.push_back(
            {t.name, std::string(dtype_name(t.type)), shape, std::to_string(t.nbytes), t.codec});
    }
    std::fputs(markdown_table(rows).c_str(), stdout);
    if (fi.tensors.size() > limit)
        std::printf("... %zu more (use --all)\n", fi.tensors.size() - limit);
    std::printf("\nchunks (%zu):\n", fi.chunks.size());
    rows = {{"#", "stream", "raw bytes", "coded bytes", "rate %", "crc32c"}};
    for (std::size_t i = 0; i < fi.chunks.size() && i < limit; ++i) {
        const auto& c = fi.chunks[i];
        char crc[16];
        std::snprintf(crc, sizeof crc, "%08x", c.crc32c);
        rows.push_back(
            {std::to_string(i), std::to_string(c.stream), std::to_string(c.raw_bytes),
             std::to_string(c.coded_bytes),
             format_fixed(
                 100.0 * static_cast<double>(c.coded_bytes) / static_cast<double>(c.raw_bytes), 3),
             crc});
    }
    std::fputs(markdown_table(rows).c_str(), stdout);
    if (fi.chunks.size() > limit)
        std::printf("... %zu more (use --all)\n", fi.chunks.size() - limit);
    return 0;
}

int cmd_codecs(const args_t& args) {
    arg_parser p("codecs", "Lists the codecs built into this lmgc.");
    p.parse(args);
    std::vector<std::vector<std::string>> rows{{"codec", "status", "description"}};
    for (const auto& c : list_codecs())
        rows.push_back({c.name + (c.is_default ? " (default)" : ""),
                        c.available ? "built in" : "missing: " + c.why_missing, c.summary});
    std::fputs(markdown_table(rows).c_str(), stdout);
    return 0;
}

} // namespace lmgc::cli
