// The codec benchmark (experimental API): every codec, every chunking mode, the same files,
// one run. Uses only the public API, so it measures exactly what `lmgc compress` and
// `lmgc decompress` do, container included.
#include "bench/bench-internal.hpp"
#include "lmgc/research.hpp"

#include "common/common-error.hpp"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <set>

namespace lmgc::experimental {

codec_bench_params default_codec_bench_params() {
    codec_bench_params p;
    p.chunk_bytes = {0};
    p.repeats = 3;
    p.n_threads = 1;
    p.format = input_format::auto_detect;
    p.u2_as_bf16 = false;
    return p;
}

namespace {

using detail::bench_clock;
using detail::seconds_since;

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    const std::size_t m = v.size() / 2;
    return v.size() % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

double mbps(std::uint64_t bytes, double secs) {
    return secs > 0 ? static_cast<double>(bytes) / secs / 1e6 : 0.0;
}

// "a:b:c" -> {"a", "b", "c"}.
std::vector<std::string> split(const std::string& s, char sep) {
    std::vector<std::string> out;
    std::size_t start = 0;
    for (;;) {
        const auto end = s.find(sep, start);
        out.push_back(s.substr(start, end == std::string::npos ? end : end - start));
        if (end == std::string::npos) return out;
        start = end + 1;
    }
}

bool has_setting(const codec_description& c, const std::string& key) {
    for (const auto& k : split(c.settings, ' '))
        if (k == key) return true;
    return false;
}

// The codecs to run: every built-in codec but store and lm (the LLM prior needs a model
// folder: name it, with its options).
std::vector<std::string> default_specs() {
    std::vector<std::string> out;
    for (const auto& c : list_codecs())
        if (c.available && c.name != "store" && c.name != "lm") out.push_back(c.name);
    return out;
}

struct bench_file {
    std::string path;
    std::vector<std::uint8_t> data;
};

// One codec in one mode at one thread count.
struct config {
    codec_bench_spec spec;
    compress_params cp;
    decompress_params dp;
    codec_bench_result r;
    std::set<std::string> used;
    std::vector<std::size_t> sizes; // of the warm-up's images, which every repeat must match
    std::vector<double> t_comp, t_decomp;
};

config make_config(const codec_bench_spec& spec, std::uint64_t chunk_bytes, int n_threads,
                   const codec_bench_params& params) {
    config c;
    c.spec = spec;
    c.cp = default_compress_params();
    if (spec.level) {
        c.cp.level = spec.level; // exactly what `lmgc compress -N` does
    } else {
        c.cp.codec = spec.codec;
        c.cp.codec_options = spec.options;
    }
    c.cp.unchunked = chunk_bytes == 0;
    c.cp.chunk_bytes = chunk_bytes == codec_bench_default_chunks ? 0 : chunk_bytes;
    c.cp.n_threads = n_threads;
    c.cp.format = params.format;
    c.cp.u2_as_bf16 = params.u2_as_bf16;
    c.dp = default_decompress_params();
    c.dp.n_threads = n_threads;
    c.r.codec = spec.spec;
    c.r.label = spec.label;
    c.r.codec_name = spec.codec;
    c.r.options = spec.options;
    c.r.level = spec.level;
    c.r.chunk_bytes = chunk_bytes;
    c.r.n_threads = n_threads;
    return c;
}

// One round trip of every file; the warm-up (rep < 0) records sizes, the others are timed.
void run_pass(config& c, const std::vector<bench_file>& files, int rep) {
    double tc = 0, td = 0;
    const auto& name = c.spec.label;
    for (std::size_t i = 0; i < files.size(); ++i) {
        const auto& f = files[i];
        compress_stats st;
        auto t0 = bench_clock::now();
        const auto image = detail::with_context(f.path + " (" + name + ")",
                                                [&] { return compress(f.data, c.cp, &st); });
        tc += seconds_since(t0);
        t0 = bench_clock::now();
        const auto back = detail::with_context(f.path + " (" + name + ")",
                                               [&] { return decompress(image, c.dp); });
        td += seconds_since(t0);
        LMGC_CHECK(back == f.data, errc::internal, f.path, ": codec ", name,
                   " did not give back the original bytes");
        if (rep < 0) {
            c.sizes.push_back(image.size());
            c.r.tensor_bytes += st.tensor_bytes;
            c.r.output_bytes += st.output_bytes;
            c.r.payload_bytes += st.payload_bytes;
            for (const auto& s : inspect(image).streams) c.used.insert(s.codec);
        } else {
            LMGC_CHECK(image.size() == c.sizes[i], errc::internal, f.path, ": codec ", name,
                       " gave ", image.size(), " bytes, then ", c.sizes[i]);
        }
    }
    if (rep >= 0) {
        c.t_comp.push_back(tc);
        c.t_decomp.push_back(td);
    }
}

codec_bench_result finish(config& c) {
    auto& r = c.r;
    const auto& codec = c.spec.codec;
    // The codec asked for first, then any fallback.
    r.codecs_used = c.used.count(codec) ? codec : "";
    for (const auto& u : c.used)
        if (u != codec) r.codecs_used += (r.codecs_used.empty() ? "" : "+") + u;
    if (r.tensor_bytes) {
        const auto tb = static_cast<double>(r.tensor_bytes);
        r.rate_percent = 100.0 * static_cast<double>(r.output_bytes) / tb;
        r.payload_rate_percent = 100.0 * static_cast<double>(r.payload_bytes) / tb;
    }
    r.compress_mbps_best =
        mbps(r.tensor_bytes, *std::min_element(c.t_comp.begin(), c.t_comp.end()));
    r.compress_mbps_median = mbps(r.tensor_bytes, median(c.t_comp));
    r.decompress_mbps_best =
        mbps(r.tensor_bytes, *std::min_element(c.t_decomp.begin(), c.t_decomp.end()));
    r.decompress_mbps_median = mbps(r.tensor_bytes, median(c.t_decomp));
    return r;
}

} // namespace

codec_bench_spec parse_codec_bench_spec(const std::string& spec) {
    LMGC_CHECK(!spec.empty(), errc::usage, "empty codec name");
    codec_bench_spec out;
    out.spec = spec;
    // lmgc's levels: "level:N" or "-N".
    std::string level;
    if (spec.rfind("level:", 0) == 0) level = spec.substr(6);
    if (spec.size() >= 2 && spec[0] == '-') level = spec.substr(1);
    if (!level.empty() || spec == "level:") {
        int n = 0;
        const auto r = std::from_chars(level.data(), level.data() + level.size(), n);
        const auto levels = list_levels();
        const auto it = std::find_if(levels.begin(), levels.end(),
                                     [&](const level_description& l) { return l.level == n; });
        LMGC_CHECK(r.ec == std::errc() && r.ptr == level.data() + level.size() &&
                       it != levels.end(),
                   errc::usage, "codec '", spec, "': no such compression level (1 to ",
                   levels.size(), ", see `lmgc codecs`)");
        out.level = n;
        out.codec = it->codec;
        out.options = it->codec_params;
        out.label = "lmgc -" + std::to_string(n);
        return out;
    }
    const auto parts = split(spec, ':');
    const auto all = list_codecs();
    const auto it = std::find_if(all.begin(), all.end(),
                                 [&](const codec_description& c) { return c.name == parts[0]; });
    LMGC_CHECK(it != all.end(), errc::usage, "unknown codec '", parts[0],
               "' (see `lmgc codecs`; lmgc's levels are level:N or -N)");
    LMGC_CHECK(it->available, errc::unsupported, "codec '", parts[0], "' is not built in (",
               it->why_missing, ")");
    out.codec = it->name;
    for (std::size_t i = 1; i < parts.size(); ++i) {
        const auto eq = parts[i].find('=');
        LMGC_CHECK(eq != std::string::npos && eq > 0 && eq + 1 < parts[i].size(), errc::usage,
                   "codec '", spec, "': expected KEY=VALUE, got '", parts[i], "'");
        auto key = parts[i].substr(0, eq);
        // "level" for the codecs whose level has another name.
        if (key == "level" && !has_setting(*it, key))
            for (const char* alias : {"preset", "quality"})
                if (has_setting(*it, alias)) key = alias;
        LMGC_CHECK(has_setting(*it, key), errc::usage, "codec '", spec, "': ", it->name,
                   " has no setting '", key, "'",
                   it->settings.empty() ? std::string(" (it has none)")
                                        : " (it has: " + it->settings + ")");
        out.options.emplace_back(key, parts[i].substr(eq + 1));
    }
    out.label =
        out.codec + (out.options.empty() ? "" : ":" + detail::bench_settings_text(out.options));
    return out;
}

std::vector<std::string> codec_bench_level_specs() {
    std::vector<std::string> out;
    for (const auto& l : list_levels()) out.push_back("level:" + std::to_string(l.level));
    return out;
}

std::vector<std::string> codec_bench_classical_specs() {
    static const char* const specs[] = {
        "gzip:level=1",
        "gzip:level=6",
        "gzip:level=9",
        "zstd:level=1",
        "zstd:level=3",
        "zstd:level=9",
        "zstd:level=19",
        "lzma:preset=1",
        "lzma:preset=6",
        "lzma:preset=9",
        "brotli:quality=1",
        "brotli:quality=5",
        "brotli:quality=11",
        "shuffle-zstd:level=1",
        "shuffle-zstd:level=9",
        "shuffle-zstd:level=19",
        "shuffle-lzma:preset=9",
        "fpzip",
        "zfp",
        "png",
        "flac",
    };
    std::set<std::string> built;
    for (const auto& c : list_codecs())
        if (c.available) built.insert(c.name);
    std::vector<std::string> out;
    for (const char* s : specs)
        if (built.count(split(s, ':')[0])) out.push_back(s);
    return out;
}

std::vector<codec_bench_result> bench_codecs(const std::vector<std::string>& files,
                                             const codec_bench_params& params) {
    LMGC_CHECK(!files.empty(), errc::usage, "no input files");
    LMGC_CHECK(params.repeats >= 1, errc::usage, "repeats must be at least 1");
    std::vector<int> threads = params.thread_counts;
    if (threads.empty()) threads = {params.n_threads};
    for (const int t : threads) LMGC_CHECK(t >= 0, errc::usage, "threads must be >= 0");
    std::vector<codec_bench_spec> specs;
    std::set<std::string> labels;
    for (const auto& s : params.codecs.empty() ? default_specs() : params.codecs) {
        specs.push_back(parse_codec_bench_spec(s));
        LMGC_CHECK(labels.insert(specs.back().label).second, errc::usage, "codec '",
                   specs.back().label, "' is named twice");
    }
    LMGC_CHECK(!specs.empty(), errc::unsupported,
               "no codec but store is built in (name the codecs to run)");
    std::vector<std::uint64_t> modes = params.chunk_bytes;
    if (modes.empty()) modes = {0};

    std::vector<bench_file> data;
    for (const auto& path : files) data.push_back({path, read_file(path)});

    std::vector<config> configs;
    for (const auto& spec : specs)
        for (const auto mode : modes)
            for (const int t : threads) configs.push_back(make_config(spec, mode, t, params));
    // A warm-up pass of each, then the timed passes interleaved, so that a machine that gets
    // busier or quieter during the run affects every codec alike.
    const std::uint64_t total = configs.size() * static_cast<std::uint64_t>(params.repeats + 1);
    std::uint64_t done = 0;
    if (params.progress) params.progress(0, total);
    for (int rep = -1; rep < params.repeats; ++rep)
        for (auto& c : configs) {
            run_pass(c, data, rep);
            if (params.progress) params.progress(++done, total);
        }
    std::vector<codec_bench_result> out;
    for (auto& c : configs) out.push_back(finish(c));
    return out;
}

bool pareto_dominates(const pareto_point& a, const pareto_point& b) {
    return a.rate <= b.rate && a.compress_mbps >= b.compress_mbps &&
           a.decompress_mbps >= b.decompress_mbps &&
           (a.rate < b.rate || a.compress_mbps > b.compress_mbps ||
            a.decompress_mbps > b.decompress_mbps);
}

std::vector<std::vector<std::size_t>> pareto_dominated_by(std::span<const pareto_point> points) {
    std::vector<std::vector<std::size_t>> out(points.size());
    for (std::size_t i = 0; i < points.size(); ++i)
        for (std::size_t j = 0; j < points.size(); ++j)
            if (j != i && pareto_dominates(points[j], points[i])) out[i].push_back(j);
    return out;
}

} // namespace lmgc::experimental
