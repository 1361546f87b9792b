// lmgc bench: the paper's experiments (`lmgc bench --data DIR ...`, `--preset table3`) and
// benchmark modes (rows of the table below; `lmgc bench codecs` compares the codecs on the
// same files).
#include "cli-args.hpp"
#include "cli-commands.hpp"

#include "lmgc/research.hpp"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <filesystem>
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

// "0,512,64k,16M": chunk sizes, 0 = unchunked; "default": each codec's own chunk size.
std::vector<std::uint64_t> parse_chunk_list(const std::string& s) {
    std::vector<std::uint64_t> out;
    for (auto item : split_commas(s)) {
        if (item == "default") {
            out.push_back(experimental::codec_bench_default_chunks);
            continue;
        }
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

// "1,2": thread counts, each as --threads takes it.
std::vector<int> parse_threads_list(const std::string& s) {
    std::vector<int> out;
    for (const auto& item : split_commas(s)) {
        int v = 0;
        const auto r = std::from_chars(item.data(), item.data() + item.size(), v);
        if (r.ec != std::errc() || r.ptr != item.data() + item.size())
            throw usage_error("--threads expects numbers such as 1,2, got '" + s + "'");
        out.push_back(check_threads_option(v));
    }
    if (out.empty()) throw usage_error("--threads expects at least one number");
    return out;
}

// "NAME=FILE,FILE".
experimental::codec_bench_set parse_set_option(const std::string& s) {
    const auto eq = s.find('=');
    if (eq == 0 || eq == std::string::npos || eq + 1 == s.size())
        throw usage_error("--set expects NAME=FILE[,FILE...], got '" + s + "'");
    experimental::codec_bench_set set;
    set.name = s.substr(0, eq);
    set.files = split_commas(s.substr(eq + 1));
    return set;
}

int bench_codecs_mode(const args_t& args) {
    std::vector<std::string> files, set_options;
    std::string codecs, chunks = "0", format = "auto", threads = "1", out;
    int repeats = 3;
    bool raw = false, levels = false, classical = false, force = false, no_plots = false;
    arg_parser p("bench codecs",
                 "Compresses and decompresses the same files with each codec and each of lmgc's "
                 "levels asked for, side by side (timed repeats interleaved), checks every round "
                 "trip byte for byte, and prints rates and speeds as a Markdown table, which "
                 "points are dominated (Pareto: rate against compress and decompress speed), "
                 "and thread scaling. With --out also results.csv, table.md and two plots.");
    p.positionals("FILES", "tensor files (.npy, .safetensors, .pt, or raw with --raw): one set",
                  &files)
        .option_list("--set", "NAME=FILE,FILE",
                     "another set of files, benchmarked and reported on its own; repeatable",
                     &set_options)
        .option("--codecs", "A,B,C",
                "codecs, each CODEC[:KEY=VALUE...] (settings of `lmgc codecs`, e.g. "
                "zstd:level=19, lzma:preset=6 or lzma:level=6, brotli:quality=5) or level:N / -N "
                "(lmgc's compression level N); default: every built-in codec but store and lm, "
                "unless --levels or --classical",
                &codecs)
        .flag("--levels", "add lmgc's levels 1..9 (level:1,...,level:9)", &levels)
        .flag("--classical",
              "add the classical codecs at representative settings: gzip 1/6/9, zstd 1/3/9/19, "
              "lzma 1/6/9, brotli 1/5/11, shuffle-zstd 1/9/19, shuffle-lzma, fpzip, zfp, png, "
              "flac (those built in)",
              &classical)
        .option("--chunk-bytes", "N,M",
                "chunking modes, 0 = unchunked, default = each codec's own chunk size (what "
                "lmgc compress does) (default 0; the paper's two: 0,512)",
                &chunks)
        .option("-r,--repeats", "N", "timed repeats after one warm-up (default 3)", &repeats)
        .option("-t,--threads", "N[,M...]",
                "threads per compress/decompress (default 1); several: thread scaling, "
                "dominance at the first; " +
                    threads_help(),
                &threads)
        .flag("--raw", "inputs are raw little-endian float32", &raw)
        .option("--format", "F", "input format: " + input_format_names() + " (default auto)",
                &format)
        .option("-o,--out", "DIR",
                "write results.csv, table.md, pareto.gp and its data, and (gnuplot) "
                "rate-vs-compress.svg, rate-vs-decompress.svg here",
                &out)
        .flag("-f,--force", "replace an earlier report in --out", &force)
        .flag("--no-plots", "do not run gnuplot (the plot script and data are still written)",
              &no_plots)
        .epilog("Rates: 100 * .lmgc bytes / tensor bytes; 'payload' leaves out the container.\n"
                "Speeds: tensor MB (10^6 B) per second, best / median of the repeats.\n"
                "Dominated: another point has rate <= and compress and decompress MB/s >= (best "
                "of the repeats),\nstrictly better in one; per set, every codec, level and mode "
                "side by side, at the first\nthread count. Thread scaling: eff. N = MB/s at N "
                "threads / (N x MB/s at 1); an unchunked\nstream is one chunk, so use "
                "--chunk-bytes default (or a size) to measure scaling.\n"
                "Examples:\n"
                "  lmgc bench codecs grad_000400.npy grad_000800.npy --chunk-bytes 0,512\n"
                "  lmgc bench codecs a.npy b.npy --levels --classical --out pareto/\n"
                "  lmgc bench codecs a.npy --set vgg=v1.npy,v2.npy --codecs -1,-5,zstd:level=3 "
                "-t 1,2 --chunk-bytes default");
    p.parse(args);
    std::vector<experimental::codec_bench_set> sets;
    if (!files.empty()) sets.push_back({"files", files, {}});
    for (const auto& s : set_options) {
        sets.push_back(parse_set_option(s));
        for (std::size_t i = 0; i + 1 < sets.size(); ++i)
            if (sets[i].name == sets.back().name)
                throw usage_error("set '" + sets.back().name + "' is named twice");
    }
    if (sets.empty()) throw usage_error("no input files");
    if (repeats < 1) throw usage_error("--repeats must be at least 1");
    if (force && out.empty()) throw usage_error("--force needs --out");
    if (no_plots && out.empty()) throw usage_error("--no-plots needs --out");

    auto params = experimental::default_codec_bench_params();
    std::vector<std::string> specs;
    auto add = [&](const std::vector<std::string>& more) {
        for (const auto& s : more)
            if (std::find(specs.begin(), specs.end(), s) == specs.end()) specs.push_back(s);
    };
    add(split_commas(codecs));
    if (levels) add(experimental::codec_bench_level_specs());
    if (classical) add(experimental::codec_bench_classical_specs());
    params.codecs = specs;
    params.chunk_bytes = parse_chunk_list(chunks);
    params.repeats = repeats;
    params.thread_counts = parse_threads_list(threads);
    params.n_threads = params.thread_counts.front();
    params.format = raw ? input_format::raw : parse_format_option(format);
    if (!out.empty() && !force && std::filesystem::exists(out + "/results.csv"))
        throw lmgc::error(errc::io, "'" + out + "' already holds a bench report (use --force)");

    for (auto& set : sets) {
        progress_bar bar("bench " + set.name, "passes");
        params.progress = bar.callback();
        set.results = experimental::bench_codecs(set.files, params);
        bar.finish();
    }
    std::fputs(experimental::codec_bench_markdown(sets, repeats).c_str(), stdout);
    if (!out.empty()) {
        std::string title = "`lmgc bench codecs";
        for (const auto& a : args) title += " " + a;
        experimental::codec_bench_report_params rp;
        rp.title = title + "`";
        rp.gnuplot = no_plots ? "none" : "";
        rp.overwrite = force;
        const auto notes = experimental::write_codec_bench_report(sets, repeats, out, rp);
        for (const auto& n : notes) std::printf("note: %s\n", n.c_str());
        std::printf(
            "\nwrote %s/results.csv, table.md, pareto.gp%s\n", out.c_str(),
            std::filesystem::exists(out + "/rate-vs-compress.svg") ||
                    std::filesystem::exists(out + "/rate-vs-compress-" + sets[0].name + ".svg")
                ? ", rate-vs-compress*.svg, rate-vs-decompress*.svg"
                : "");
    }
    return 0;
}

// "1,2,4": small positive integers.
std::vector<unsigned> parse_uint_list(const std::string& name, const std::string& s) {
    std::vector<unsigned> out;
    for (const auto& item : split_commas(s)) {
        unsigned v = 0;
        const auto r = std::from_chars(item.data(), item.data() + item.size(), v);
        if (r.ec != std::errc() || r.ptr != item.data() + item.size())
            throw usage_error(name + " expects numbers such as 1,2,4, got '" + s + "'");
        out.push_back(v);
    }
    if (out.empty()) throw usage_error(name + " expects at least one number");
    return out;
}

std::string describe_preset(const experimental::bench_preset& p) {
    std::string s = p.name + ": " + p.title + "\n  codecs: ";
    for (std::size_t i = 0; i < p.codecs.size(); ++i) s += (i ? "," : "") + p.codecs[i];
    s += "; modes: ";
    for (std::size_t i = 0; i < p.chunk_bytes.size(); ++i)
        s += (i ? ", " : "") + mode_name(p.chunk_bytes[i]);
    s += "\n  with --lm-model DIR, per model: ";
    for (std::size_t i = 0; i < p.lm_serializations.size(); ++i)
        s += (i ? ", " : "") + ("lm:DIR:" + p.lm_serializations[i]);
    s += "\n  gradient folders under --data DATA:\n";
    for (const auto& slot : p.slots) {
        s += "    " + slot.label + ": DATA/" + slot.folders[0];
        if (slot.folders.size() > 1) {
            s += " (stand-in: ";
            for (std::size_t i = 1; i < slot.folders.size(); ++i)
                s += (i > 1 ? " or " : "") + ("DATA/" + slot.folders[i]);
            s += ")";
        }
        s += "\n      " + slot.collect_command + "\n      " + slot.standin_command + "\n";
    }
    return s;
}

std::string presets_help() {
    std::string s;
    for (const auto& p : experimental::bench_presets()) s += describe_preset(p);
    return s;
}

int bench_experiment(const args_t& args) {
    std::vector<std::string> data, positional, lm_models;
    std::string preset, codecs, chunks, preprocess, bpg, context, out, prefer = "npy";
    int sample = 10, repeats = 3, threads = 1;
    std::uint64_t seed = 0;
    bool force = false, no_plots = false, describe = false;
    arg_parser p("bench",
                 "Runs the paper's experiments: draws gradient files at random, compresses and "
                 "decompresses each with every codec, checks every decoded file byte for byte, and "
                 "reports mean ± std over repeats (Markdown on stdout; with --out also table.md, "
                 "results.csv, summary.csv and plots).");
    p.positionals("DATA", "more --data paths", &positional)
        .option_list("--data", "DIR|FILE",
                     "a folder of gradient files is one set (a folder of such folders: one set "
                     "each); files form one set; with --preset: the folder holding the sets",
                     &data)
        .option("--preset", "NAME", "table1, table2 or table3: the paper's table (see below)",
                &preset)
        .option("--codecs", "A,B,...",
                "codecs: gzip, lzma, png, flac, fpzip, cm, ..., and "
                "lm:MODEL_DIR:SERIALIZATION[:tokens=canonical|symbol] (default: "
                "png,flac,gzip,lzma,fpzip,cm, or the preset's)",
                &codecs)
        .option_list("--lm-model", "DIR",
                     "adds lm:DIR:S rows, S the preset's serializations (hex-space without a "
                     "preset); repeatable",
                     &lm_models)
        .option("--chunk-bytes", "N,M",
                "modes of the classical codecs, 0 = unchunked (default 0,512; presets: theirs)",
                &chunks)
        .option("--sample", "N", "files drawn per repeat (default 10; 0 = all)", &sample)
        .option("-r,--repeats", "N", "repeats, each with its own draw (default 3)", &repeats)
        .option("--seed", "S", "repeat r draws and sparsifies with seed S + r (default 0)", &seed)
        .option("--preprocess", "SPEC,...",
                "lossy runs: none, sparsify:P, topk:P, quantize:B, joined by + "
                "(e.g. none,sparsify:10,sparsify:10+quantize:8)",
                &preprocess)
        .option("--bytes-per-group", "1,2,4,8", "ablation: one lm row per value", &bpg)
        .option("--context", "256,512,...", "ablation: one lm row per window size (tokens)",
                &context)
        .option("-t,--threads", "N",
                "threads per compress/decompress (default 1); " + threads_help(), &threads)
        .option("--prefer", "EXT",
                "npy (default, the paper's flat vector) or safetensors: which file of a step "
                "`lmgc collect --flat-npy` wrote twice",
                &prefer)
        .option("-o,--out", "DIR", "write table.md, results.csv, summary.csv and plots here", &out)
        .flag("-f,--force", "replace an earlier report in --out", &force)
        .flag("--no-plots", "do not run gnuplot (the plot script and data are still written)",
              &no_plots)
        .flag("--describe", "with --preset: print the folders it expects and exit", &describe)
        .epilog("Modes: 'lmgc bench codecs FILES...' compares codecs and lmgc's levels side by "
                "side: rate, speed,\ndominated points, plots (see its --help).\n\n"
                "Presets (DATA = the --data folder; the real runs need the datasets, stand-ins\n"
                "run anywhere and are labelled as stand-ins, never as the real dataset):\n" +
                presets_help() +
                "\nExamples:\n"
                "  lmgc bench --data grads/convnet-fashion-mnist --codecs gzip,lzma,fpzip,cm "
                "--out results/\n"
                "  lmgc bench --preset table3 --data grads --sample 10 --repeats 3 --out t3/\n"
                "  lmgc bench --data grads/convnet-cifar10 --codecs lm:/models/TinyLlama:Hs "
                "--bytes-per-group 1,2,4,8\n"
                "  lmgc bench --data grads/convnet-fashion-mnist --codecs lzma,cm "
                "--preprocess none,sparsify:10,quantize:8");
    p.parse(args);
    for (const auto& path : positional)
        if (std::error_code ec; !std::filesystem::exists(path, ec))
            throw usage_error("'" + path +
                              "' is neither a benchmark mode (codecs) nor a file or "
                              "folder");
    data.insert(data.end(), positional.begin(), positional.end());
    if (prefer != "npy" && prefer != "safetensors")
        throw usage_error("--prefer must be npy or safetensors");
    const std::vector<std::string> prefer_list =
        prefer == "npy" ? std::vector<std::string>{"npy", "safetensors"}
                        : std::vector<std::string>{"safetensors", "npy"};
    check_threads_option(threads);
    if (repeats < 1) throw usage_error("--repeats must be at least 1");
    if (sample < 0) throw usage_error("--sample must be >= 0");
    if (force && out.empty()) throw usage_error("--force needs --out");

    auto params = experimental::default_experiment_params();
    params.sample = sample;
    params.repeats = repeats;
    params.seed = seed;
    params.n_threads = threads;
    params.codecs = split_commas(codecs);
    if (!chunks.empty()) params.chunk_bytes = parse_chunk_list(chunks);
    if (!bpg.empty()) params.bytes_per_group = parse_uint_list("--bytes-per-group", bpg);
    if (!context.empty()) params.context = parse_uint_list("--context", context);
    for (const auto& spec : split_commas(preprocess))
        params.preprocess.push_back(spec == "none" ? "" : spec);

    std::vector<experimental::gradient_set> sets;
    std::vector<std::string> preset_notes;
    std::string title = "lmgc bench";
    for (const auto& a : args) title += " " + a;
    if (!preset.empty()) {
        const auto pr = experimental::find_bench_preset(preset);
        if (describe) {
            std::fputs(describe_preset(pr).c_str(), stdout);
            return 0;
        }
        if (data.size() != 1)
            throw usage_error("--preset needs exactly one --data folder (holding the sets)");
        if (params.codecs.empty()) params.codecs = pr.codecs;
        if (params.chunk_bytes.empty()) params.chunk_bytes = pr.chunk_bytes;
        for (const auto& m : lm_models)
            for (const auto& ser : pr.lm_serializations)
                params.codecs.push_back("lm:" + m + ":" + ser);
        const auto found = experimental::resolve_bench_preset(pr, data[0], prefer_list);
        std::printf("%s\n\n", pr.title.c_str());
        for (const auto& m : found.missing) {
            std::printf("Missing: %s\n", m.c_str());
            preset_notes.push_back("not run: " + m);
        }
        preset_notes.insert(preset_notes.end(), found.notes.begin(), found.notes.end());
        if (found.sets.empty())
            throw lmgc::error(errc::io, "no gradient folder of " + pr.name + " under '" + data[0] +
                                            "' (see above for how to make them)");
        if (!found.missing.empty()) std::printf("\n");
        sets = found.sets;
        title = "`" + title + "`: " + pr.title;
    } else {
        if (describe) throw usage_error("--describe needs --preset");
        if (data.empty()) throw usage_error("no data: give --data DIR|FILE (or --preset)");
        for (const auto& m : lm_models) params.codecs.push_back("lm:" + m + ":hex-space");
        sets = experimental::gradient_sets_from(data, prefer_list);
        title = "`" + title + "`";
    }
    if (!out.empty() && !force && experimental::experiment_report_exists(out))
        throw lmgc::error(errc::io, "'" + out + "' already holds a bench report (use --force)");

    progress_bar bar("bench", "runs");
    params.progress = bar.callback();
    auto res = experimental::run_experiment(sets, params);
    bar.finish();
    res.notes.insert(res.notes.begin(), preset_notes.begin(), preset_notes.end());

    std::fputs(experimental::experiment_markdown(res).c_str(), stdout);
    if (!out.empty()) {
        experimental::experiment_report_params rp;
        rp.title = title;
        rp.gnuplot = no_plots ? "none" : "";
        rp.overwrite = force;
        const auto notes = experimental::write_experiment_report(res, out, rp);
        for (const auto& n : notes) std::printf("note: %s\n", n.c_str());
        std::printf("\nwrote %s/table.md, results.csv, summary.csv%s\n", out.c_str(),
                    std::filesystem::exists(out + "/rate.svg") ? ", rate.svg, rate-vs-speed.svg"
                                                               : "");
    }
    return 0;
}

struct bench_mode {
    const char* name;
    const char* summary;
    int (*run)(const args_t&);
};

const bench_mode modes[] = {
    {"codecs", "rates and speeds of the codecs and levels on the same files, dominated points",
     bench_codecs_mode},
};

} // namespace

int cmd_bench(const args_t& args) {
    if (!args.empty())
        for (const auto& m : modes)
            if (args[0] == m.name) return m.run(args_t(args.begin() + 1, args.end()));
    return bench_experiment(args);
}

} // namespace lmgc::cli
