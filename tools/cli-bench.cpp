// lmgc bench <mode>: benchmarks and experiments, one mode per kind of run. Modes are rows of
// the table below; `lmgc bench codecs` compares the codecs on the same files.
#include "cli-args.hpp"
#include "cli-commands.hpp"

#include "lmgc/experimental.hpp"

#include <charconv>
#include <cstdio>
#include <sstream>

namespace lmgc::cli {
namespace {

std::vector<std::string> split_commas(const std::string& s) {
    std::vector<std::string> out;
    std::stringstream ss(s);
    std::string item;
    while (std::getline(ss, item, ','))
        if (!item.empty()) out.push_back(item);
    return out;
}

// "0,512,64k,16M": chunk sizes, 0 = unchunked.
std::vector<std::uint64_t> parse_chunk_list(const std::string& s) {
    std::vector<std::uint64_t> out;
    for (auto item : split_commas(s)) {
        std::uint64_t mult = 1;
        const char last = item.back();
        if (last == 'k' || last == 'K') mult = 1ull << 10;
        if (last == 'm' || last == 'M') mult = 1ull << 20;
        if (mult != 1) item.pop_back();
        std::uint64_t v = 0;
        const auto r = std::from_chars(item.data(), item.data() + item.size(), v);
        if (item.empty() || r.ec != std::errc() || r.ptr != item.data() + item.size() ||
            v > UINT64_MAX / mult)
            throw usage_error("--chunk-bytes expects sizes such as 0,512,16M, got '" + s + "'");
        out.push_back(v * mult);
    }
    if (out.empty()) throw usage_error("--chunk-bytes expects at least one size");
    return out;
}

std::string mode_name(std::uint64_t chunk_bytes) {
    return chunk_bytes ? std::to_string(chunk_bytes) + " B chunks" : "unchunked";
}

int bench_codecs_mode(const args_t& args) {
    std::vector<std::string> files;
    std::string codecs, chunks = "0", format = "auto";
    int repeats = 3, threads = 1;
    bool raw = false;
    arg_parser p("bench codecs",
                 "Compresses and decompresses the same files with each codec, checks every round "
                 "trip byte for byte, and prints rates and speeds as a Markdown table.");
    p.positionals("FILES", "tensor files (.npy, .safetensors, .pt, or raw with --raw)", &files)
        .option("--codecs", "A,B,C", "codecs to run (default: every built-in codec but store and lm)",
                &codecs)
        .option("--chunk-bytes", "N,M",
                "chunking modes, 0 = unchunked (default 0; the paper's two: 0,512)", &chunks)
        .option("-r,--repeats", "N", "timed repeats after one warm-up (default 3)", &repeats)
        .option("-t,--threads", "N", "threads per compress/decompress (default 1; 0 = all cores)",
                &threads)
        .flag("--raw", "inputs are raw little-endian float32", &raw)
        .option("--format", "F", "input format: auto, npy, safetensors, torch, raw", &format)
        .epilog("Rates: 100 * .lmgc bytes / tensor bytes; 'payload' leaves out the container.\n"
                "Speeds: tensor MB (10^6 B) per second, best / median of the repeats.\n"
                "Example: lmgc bench codecs grad_000400.npy grad_000800.npy --chunk-bytes 0,512");
    p.parse(args);
    if (files.empty()) throw usage_error("no input files");
    if (repeats < 1) throw usage_error("--repeats must be at least 1");
    if (threads < 0) throw usage_error("--threads must be >= 0");

    auto params = experimental::default_codec_bench_params();
    params.codecs = split_commas(codecs);
    params.chunk_bytes = parse_chunk_list(chunks);
    params.repeats = repeats;
    params.n_threads = threads;
    if (raw)
        params.format = input_format::raw;
    else if (format == "npy")
        params.format = input_format::npy;
    else if (format == "safetensors")
        params.format = input_format::safetensors;
    else if (format == "torch" || format == "pt")
        params.format = input_format::torch;
    else if (format == "raw")
        params.format = input_format::raw;
    else if (format != "auto")
        throw usage_error("--format must be auto, npy, safetensors, torch or raw");

    progress_bar bar("bench", "runs");
    params.progress = bar.callback();
    const auto results = experimental::bench_codecs(files, params);
    bar.finish();

    std::vector<std::vector<std::string>> rows{
        {"codec", "mode", "rate %", "payload %", "compress MB/s", "decompress MB/s", "streams"}};
    for (const auto& r : results)
        rows.push_back({r.codec, mode_name(r.chunk_bytes), format_fixed(r.rate_percent, 2),
                        format_fixed(r.payload_rate_percent, 2),
                        format_fixed(r.compress_mbps_best, 1) + " / " +
                            format_fixed(r.compress_mbps_median, 1),
                        format_fixed(r.decompress_mbps_best, 1) + " / " +
                            format_fixed(r.decompress_mbps_median, 1),
                        r.codecs_used});
    const auto tensor_bytes = results.empty() ? 0 : results.front().tensor_bytes;
    std::printf("%zu file(s), %s of tensor data; %d thread(s); best / median of %d repeat(s); "
                "every round trip checked byte for byte\n\n",
                files.size(), format_bytes(static_cast<double>(tensor_bytes)).c_str(), threads,
                repeats);
    std::fputs(markdown_table(rows).c_str(), stdout);
    return 0;
}

struct bench_mode {
    const char* name;
    const char* summary;
    int (*run)(const args_t&);
};

const bench_mode modes[] = {
    {"codecs", "rates and speeds of the codecs on the same files", bench_codecs_mode},
};

std::string mode_names() {
    std::string s;
    for (const auto& m : modes) s += (s.empty() ? "" : ", ") + std::string(m.name);
    return s;
}

std::string modes_help() {
    std::string s =
        "Usage: lmgc bench <mode> [arguments] [options]\n\nBenchmarks and experiments.\n\nModes:\n";
    for (const auto& m : modes) {
        std::string name = std::string("  ") + m.name;
        name.resize(16, ' ');
        s += name + m.summary + "\n";
    }
    return s + "\nRun 'lmgc bench <mode> --help' for a mode's options.\n";
}

} // namespace

int cmd_bench(const args_t& args) {
    if (args.empty()) throw usage_error("which benchmark? modes: " + mode_names());
    if (args[0] == "-h" || args[0] == "--help") {
        std::fputs(modes_help().c_str(), stdout);
        return 0;
    }
    for (const auto& m : modes)
        if (args[0] == m.name) return m.run(args_t(args.begin() + 1, args.end()));
    throw usage_error("unknown benchmark mode '" + args[0] + "' (modes: " + mode_names() + ")");
}

} // namespace lmgc::cli
