// lmgc compress / decompress / info / codecs.
#include "cli-args.hpp"
#include "cli-commands.hpp"
#include "cli-llm.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <unistd.h>

namespace lmgc::cli {
namespace {

const codec_description* find_codec_description(const std::vector<codec_description>& all,
                                                const std::string& name) {
    for (const auto& c : all)
        if (c.name == name) return &c;
    return nullptr;
}

// The LLM settings only mean something to a codec that needs a model; refuse them elsewhere
// rather than ignore them. `given` lists the options on the command line.
void check_llm_options(const arg_parser& p, const experimental::llm_settings& llm, bool lm) {
    for (const char* o : {"--device", "--serialization", "--bytes-per-group", "--tokens",
                          "--context", "--batch", "--dtype"})
        if (p.given(o) && !lm)
            throw usage_error(std::string(o) + " is a setting of the lm codec (give --model DIR)");
    if (p.given("--batch") && llm.batch < 1) throw usage_error("--batch must be at least 1");
    if (p.given("--context") && llm.context < 2) throw usage_error("--context must be at least 2");
    if (p.given("--bytes-per-group") && llm.bytes_per_group < 1)
        throw usage_error("--bytes-per-group must be 1, 2, 4 or 8");
}

compress_stats compress_to_stdout(const std::string& in, const compress_params& params) {
    return compress_file_to(in, params, [](std::span<const std::uint8_t> b) {
        std::size_t done = 0;
        while (done < b.size()) {
            const ssize_t n = ::write(1, b.data() + done, b.size() - done);
            if (n < 0 && errno == EINTR) continue;
            if (n < 0)
                throw lmgc::error(errc::io, std::string("cannot write to standard output: ") +
                                                std::strerror(errno));
            done += static_cast<std::size_t>(n);
        }
    });
}

std::string level_list() {
    std::string out;
    for (const auto& l : list_levels()) {
        out += "  -" + std::to_string(l.level) + "  " + l.codec;
        for (const auto& [k, v] : l.codec_params) out += " " + k + "=" + v;
        out += ": " + l.summary + (l.is_default ? " (default)" : "") + "\n";
    }
    return out;
}

} // namespace

int cmd_compress(const args_t& args) {
    std::string in, out, codec, format = "auto";
    std::string preprocess;
    std::uint64_t chunk_bytes = 0, seed = 0;
    int threads = 0, level = 0;
    bool force = false, raw = false, unchunked = false, quiet = false, verify = false;
    std::vector<std::string> sets;
    arg_parser p("compress", "Compresses a tensor file losslessly into a .lmgc file.");
    p.positional("IN",
                 "input file: .npy, .safetensors, torch.save (.pt/.ckpt), raw with --raw; "
                 "- for standard input",
                 &in)
        .option("-o,--output", "OUT", "output file (default: IN.lmgc; - for standard output)", &out)
        .option("-l,--level", "N",
                "compression level 1 (fastest) .. 9 (smallest); also -1 .. -9 (levels below)",
                &level)
        .option("-c,--codec", "C",
                "codec for float tensors, instead of a level (see 'lmgc codecs')", &codec)
        .option("--chunk-bytes", "N",
                "bytes per independently coded chunk (e.g. 512, 64k, 16M; 8 to 1G; 0 = each "
                "stream one chunk; default: the codec's)",
                &chunk_bytes)
        .flag("--unchunked", "code each stream as one chunk (same as --chunk-bytes 0)", &unchunked)
        .option("-t,--threads", "N", threads_help(), &threads)
        .flag("--verify",
              "decode every chunk again after coding it and compare: nothing is written unless "
              "it decodes (costs about one decompression)",
              &verify)
        .flag("--raw", "input is raw little-endian float32 (same as --format raw)", &raw)
        .option("--format", "F", "input format: " + input_format_names() + " (default auto)",
                &format)
        .option_list("--set", "KEY=VALUE",
                     "codec setting, e.g. --set level=6 for zstd (repeatable; 'lmgc codecs' "
                     "lists each codec's)",
                     &sets)
        .option("--preprocess", "SPEC",
                "lossy steps before coding: sparsify:P, topk:P, quantize:B, joined by + (e.g. "
                "sparsify:10+quantize:8)",
                &preprocess)
        .option("--seed", "N", "seed of random sparsification (default 0)", &seed)
        .flag("-f,--force", "overwrite the output if it exists", &force)
        .flag("-q,--quiet", "print nothing on success", &quiet)
        .epilog("Levels:\n" + level_list() +
                "\nExamples:\n  lmgc compress grads.npy\n"
                "  lmgc compress -1 model.safetensors          # fastest\n"
                "  lmgc compress grads.safetensors -c lzma --chunk-bytes 512\n"
                "  lmgc compress grads.npy --preprocess topk:10+quantize:8 -o lossy.lmgc\n"
                "  lmgc compress grads.npy --model /models/TinyLlama-1.1B-Chat-v1.0 --device cuda\n"
                "  python3 make_grads.py | lmgc compress - -o grads.lmgc");
    experimental::llm_settings llm;
    add_llm_options(p, llm, false);
    p.digit_option("--level");
    p.parse(args);

    const auto codecs = list_codecs();
    if (p.given("--codec") && codec.empty()) throw usage_error("--codec needs a codec name");
    if (p.given("--codec") && p.given("--level"))
        throw usage_error("--codec and a level exclude each other (a level picks the codec)");
    if (p.given("--level") && (level < 1 || level > 9))
        throw usage_error("--level must be 1 to 9, not " + std::to_string(level));
    if (!llm.model.empty() && codec.empty()) { // the codec that reads a model
        for (const auto& c : codecs)
            if (c.needs_model) codec = c.name;
    }
    const auto* chosen = find_codec_description(codecs, codec);
    const bool needs_model = chosen && chosen->needs_model;
    check_llm_options(p, llm, needs_model);
    if (unchunked && p.given("--chunk-bytes"))
        throw usage_error("--unchunked and --chunk-bytes exclude each other");
    if (raw && p.given("--format") && parse_format_option(format) != input_format::raw)
        throw usage_error("--raw and --format " + format + " exclude each other");

    auto params = default_compress_params();
    params.level = level;
    params.preprocess = preprocess;
    params.seed = seed;
    params.codec = codec;
    params.unchunked = unchunked || (p.given("--chunk-bytes") && chunk_bytes == 0);
    params.chunk_bytes = params.unchunked ? 0 : chunk_bytes;
    params.n_threads = check_threads_option(threads);
    params.verify = verify;
    params.report_ideal_bits = false; // not printed
    params.format = raw ? input_format::raw : parse_format_option(format);
    for (const auto& s : sets) params.codec_options.push_back(parse_set_option(s));
    for (auto& o : experimental::llm_codec_options(llm))
        params.codec_options.push_back(std::move(o));
    if (out.empty()) {
        if (in == "-") throw usage_error("reading standard input needs -o OUT (or -o - )");
        out = in + ".lmgc";
    }

    progress_bar bar("compress", needs_model ? "tok" : "B", llm_tokens_per_byte(llm));
    params.progress = bar.callback();
    compress_stats st;
    if (out == "-") {
        if (::isatty(1)) throw usage_error("refusing to write compressed data to a terminal");
        st = compress_to_stdout(in, params);
    } else {
        st = compress_file(in, out, params, force);
    }
    bar.finish();
    // With the output on standard output, the report goes to standard error.
    std::FILE* report = out == "-" ? stderr : stdout;
    if (!quiet)
        std::fprintf(
            report, "%s: %s -> %s (%.2f%% of %s tensor data) in %.2f s, %s/s%s\n",
            out == "-" ? "(stdout)" : out.c_str(),
            format_bytes(static_cast<double>(st.input_bytes)).c_str(),
            format_bytes(static_cast<double>(st.output_bytes)).c_str(), st.rate_percent(),
            format_bytes(static_cast<double>(st.tensor_bytes)).c_str(), st.seconds,
            format_bytes(st.seconds > 0 ? static_cast<double>(st.tensor_bytes) / st.seconds : 0)
                .c_str(),
            verify ? ", verified" : "");
    if (!quiet && !preprocess.empty())
        std::fprintf(
            report,
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
    p.positional("IN", ".lmgc file (- for standard input)", &in)
        .option("-o,--output", "OUT",
                "output file (default: IN without .lmgc, else IN.out); written in place in any "
                "order, so not standard output",
                &out)
        .option("-t,--threads", "N", threads_help(), &threads)
        .option_list("--set", "KEY=VALUE", "codec setting needed to decode (repeatable)", &sets)
        .flag("-f,--force", "overwrite the output if it exists", &force)
        .flag("-q,--quiet", "print nothing on success", &quiet);
    experimental::llm_settings llm;
    add_llm_options(p, llm, true);
    p.parse(args);
    auto params = default_decompress_params();
    params.n_threads = check_threads_option(threads);
    for (const auto& s : sets) params.codec_options.push_back(parse_set_option(s));
    for (auto& o : experimental::llm_codec_options(llm))
        params.codec_options.push_back(std::move(o));
    if (out.empty()) {
        if (in == "-") throw usage_error("reading standard input needs -o OUT");
        out = default_output(in, ".out", ".lmgc");
    }
    if (out == "-")
        throw usage_error("decompress writes its output in place, in any order: give -o FILE");
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
    if (fi.level) std::printf("level:         %d\n", fi.level);
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
    arg_parser p("codecs",
                 "Lists the codecs built into this lmgc, their settings, and the levels.");
    p.parse(args);
    std::vector<std::vector<std::string>> rows{
        {"codec", "status", "settings (--set)", "description"}};
    for (const auto& c : list_codecs())
        rows.push_back({c.name + (c.is_default ? " (default)" : ""),
                        c.available ? "built in" : "missing: " + c.why_missing,
                        c.settings.empty() ? "-" : c.settings, c.summary});
    std::fputs(markdown_table(rows).c_str(), stdout);
    std::printf("\nlevels (lmgc compress -N):\n");
    rows = {{"level", "codec", "settings", "what"}};
    for (const auto& l : list_levels()) {
        std::string settings;
        for (const auto& [k, v] : l.codec_params)
            settings += (settings.empty() ? "" : " ") + k + "=" + v;
        rows.push_back({std::to_string(l.level) + (l.is_default ? " (default)" : ""), l.codec,
                        settings.empty() ? "-" : settings, l.summary});
    }
    std::fputs(markdown_table(rows).c_str(), stdout);
    return 0;
}

} // namespace lmgc::cli
