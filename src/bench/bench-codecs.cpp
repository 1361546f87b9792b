// The codec benchmark (experimental API): every codec, every chunking mode, the same files,
// one run. Uses only the public API, so it measures exactly what `lmgc compress` and
// `lmgc decompress` do, container included.
#include "bench/bench-internal.hpp"
#include "lmgc/research.hpp"

#include "common/common-error.hpp"

#include <algorithm>
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

// The codecs to run: the ones named (each must exist and be built in), or all built in but
// store and lm (the LLM prior needs a model folder: name it, with its options).
std::vector<std::string> pick_codecs(const std::vector<std::string>& asked) {
    const auto all = list_codecs();
    std::vector<std::string> out;
    if (asked.empty()) {
        for (const auto& c : all)
            if (c.available && c.name != "store" && c.name != "lm") out.push_back(c.name);
        return out;
    }
    for (const auto& name : asked) {
        const auto it = std::find_if(all.begin(), all.end(),
                                     [&](const codec_description& c) { return c.name == name; });
        LMGC_CHECK(it != all.end(), errc::usage, "unknown codec '", name, "' (see `lmgc codecs`)");
        LMGC_CHECK(it->available, errc::unsupported, "codec '", name, "' is not built in (",
                   it->why_missing, ")");
        out.push_back(name);
    }
    return out;
}

struct bench_file {
    std::string path;
    std::vector<std::uint8_t> data;
};

// One codec in one mode: a warm-up round trip, then the timed repeats.
codec_bench_result run_one(const std::vector<bench_file>& files, const std::string& codec,
                           std::uint64_t chunk_bytes, const codec_bench_params& params) {
    auto cp = default_compress_params();
    cp.codec = codec;
    cp.unchunked = chunk_bytes == 0;
    cp.chunk_bytes = chunk_bytes;
    cp.n_threads = params.n_threads;
    cp.format = params.format;
    cp.u2_as_bf16 = params.u2_as_bf16;
    auto dp = default_decompress_params();
    dp.n_threads = params.n_threads;

    codec_bench_result r;
    r.codec = codec;
    r.chunk_bytes = chunk_bytes;
    std::set<std::string> used;
    std::vector<std::size_t> sizes; // of the warm-up's images, which every repeat must match
    std::vector<double> t_comp, t_decomp;
    for (int rep = -1; rep < params.repeats; ++rep) {
        double tc = 0, td = 0;
        for (std::size_t i = 0; i < files.size(); ++i) {
            const auto& f = files[i];
            compress_stats st;
            auto t0 = bench_clock::now();
            const auto image = detail::with_context(f.path + " (" + codec + ")",
                                                    [&] { return compress(f.data, cp, &st); });
            tc += seconds_since(t0);
            t0 = bench_clock::now();
            const auto back = detail::with_context(f.path + " (" + codec + ")",
                                                   [&] { return decompress(image, dp); });
            td += seconds_since(t0);
            LMGC_CHECK(back == f.data, errc::internal, f.path, ": codec ", codec,
                       " did not give back the original bytes");
            if (rep < 0) {
                sizes.push_back(image.size());
                r.tensor_bytes += st.tensor_bytes;
                r.output_bytes += st.output_bytes;
                r.payload_bytes += st.payload_bytes;
                for (const auto& s : inspect(image).streams) used.insert(s.codec);
            } else {
                LMGC_CHECK(image.size() == sizes[i], errc::internal, f.path, ": codec ", codec,
                           " gave ", image.size(), " bytes, then ", sizes[i]);
            }
        }
        if (rep >= 0) {
            t_comp.push_back(tc);
            t_decomp.push_back(td);
        }
    }
    // The codec asked for first, then any fallback.
    r.codecs_used = used.count(codec) ? codec : "";
    for (const auto& u : used)
        if (u != codec) r.codecs_used += (r.codecs_used.empty() ? "" : "+") + u;
    if (r.tensor_bytes) {
        const auto tb = static_cast<double>(r.tensor_bytes);
        r.rate_percent = 100.0 * static_cast<double>(r.output_bytes) / tb;
        r.payload_rate_percent = 100.0 * static_cast<double>(r.payload_bytes) / tb;
    }
    r.compress_mbps_best = mbps(r.tensor_bytes, *std::min_element(t_comp.begin(), t_comp.end()));
    r.compress_mbps_median = mbps(r.tensor_bytes, median(t_comp));
    r.decompress_mbps_best =
        mbps(r.tensor_bytes, *std::min_element(t_decomp.begin(), t_decomp.end()));
    r.decompress_mbps_median = mbps(r.tensor_bytes, median(t_decomp));
    return r;
}

} // namespace

std::vector<codec_bench_result> bench_codecs(const std::vector<std::string>& files,
                                             const codec_bench_params& params) {
    LMGC_CHECK(!files.empty(), errc::usage, "no input files");
    LMGC_CHECK(params.repeats >= 1, errc::usage, "repeats must be at least 1");
    LMGC_CHECK(params.n_threads >= 0, errc::usage, "threads must be >= 0");
    const auto codecs = pick_codecs(params.codecs);
    LMGC_CHECK(!codecs.empty(), errc::unsupported,
               "no codec but store is built in (name the codecs to run)");
    std::vector<std::uint64_t> modes = params.chunk_bytes;
    if (modes.empty()) modes = {0};

    std::vector<bench_file> data;
    for (const auto& path : files) data.push_back({path, read_file(path)});

    std::vector<codec_bench_result> out;
    const std::uint64_t total = codecs.size() * modes.size();
    if (params.progress) params.progress(0, total);
    for (const auto& codec : codecs)
        for (const auto mode : modes) {
            out.push_back(run_one(data, codec, mode, params));
            if (params.progress) params.progress(out.size(), total);
        }
    return out;
}

} // namespace lmgc::experimental
