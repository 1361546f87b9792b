// The experiment runner behind `lmgc bench --data`: seeded draws of files per repeat, every
// codec, variant, mode and preprocessing on each drawn file, a byte-for-byte check of every
// decoded file, then mean ± std over the repeats. Uses only the public API, so it measures
// exactly what `lmgc compress` and `lmgc decompress` do, container included.
#include "bench/bench-internal.hpp"

#include "common/common-error.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <set>
#include <sys/resource.h>

namespace lmgc::experimental {

using namespace lmgc::detail;

experiment_params default_experiment_params() {
    experiment_params p;
    p.sample = 10;
    p.repeats = 3;
    p.seed = 0;
    p.n_threads = 1;
    p.format = input_format::auto_detect;
    p.u2_as_bf16 = false;
    return p;
}

namespace {

// User + system CPU seconds of this process so far.
double cpu_seconds() {
    rusage u{};
    ::getrusage(RUSAGE_SELF, &u);
    auto s = [](const timeval& t) {
        return static_cast<double>(t.tv_sec) + 1e-6 * static_cast<double>(t.tv_usec);
    };
    return s(u.ru_utime) + s(u.ru_stime);
}

// The paper's baselines, then lmgc's own prior.
const char* const default_codecs[] = {"gzip", "lzma", "png", "flac", "fpzip", "cm"};

// splitmix64: a draw must be the same on every machine, which std's distributions are not.
struct draw_rng {
    std::uint64_t state;
    std::uint64_t next() {
        std::uint64_t z = (state += 0x9e3779b97f4a7c15ull);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        return z ^ (z >> 31);
    }
    // Uniform in [0, n), by rejection.
    std::uint64_t below(std::uint64_t n) {
        const std::uint64_t limit = UINT64_MAX - UINT64_MAX % n;
        std::uint64_t x;
        do x = next();
        while (x >= limit);
        return x % n;
    }
};

// k of the n files, without replacement (a partial Fisher-Yates shuffle), in file order.
std::vector<std::size_t> draw_files(std::size_t n, std::size_t k, std::uint64_t seed) {
    std::vector<std::size_t> idx(n);
    for (std::size_t i = 0; i < n; ++i) idx[i] = i;
    draw_rng rng{seed};
    for (std::size_t i = 0; i < k; ++i) std::swap(idx[i], idx[i + rng.below(n - i)]);
    idx.resize(k);
    std::sort(idx.begin(), idx.end());
    return idx;
}

// A codec with one ablation setting: what one group of rows runs.
struct variant {
    const bench_codec* codec;
    std::string name; // "" or "bytes-per-group=2 context=512"
    std::vector<codec_option> options;
};

// One configuration of a file run.
struct config {
    const variant* var;
    std::string preprocess;
    std::uint64_t chunk_bytes; // the mode asked for (classical codecs)
};

std::string first_difference(const std::vector<std::uint8_t>& a,
                             const std::vector<std::uint8_t>& b) {
    if (a.size() != b.size())
        return std::to_string(a.size()) + " bytes instead of " + std::to_string(b.size());
    const auto m = std::mismatch(a.begin(), a.end(), b.begin());
    return "byte " + std::to_string(m.first - a.begin()) + " differs";
}

mean_std mean_std_of(const std::vector<double>& v) {
    mean_std r;
    r.n = static_cast<int>(v.size());
    if (v.empty()) return r;
    double s = 0;
    for (const double x : v) s += x;
    r.mean = s / static_cast<double>(v.size());
    double q = 0;
    for (const double x : v) q += (x - r.mean) * (x - r.mean);
    r.std = std::sqrt(q / static_cast<double>(v.size()));
    return r;
}

double ratio_percent(double num, double den) {
    return den > 0 ? 100.0 * num / den : 0.0;
}

// The rows: runs grouped by (set, codec, variant, preprocess, mode), then per repeat.
std::vector<experiment_row> aggregate(const std::vector<experiment_run>& runs,
                                      const std::map<std::string, bool>& is_model) {
    struct key_less {
        bool operator()(const experiment_run* a, const experiment_run* b) const {
            return std::tie(a->set, a->codec, a->variant, a->preprocess, a->chunk_bytes,
                            a->own_chunking) < std::tie(b->set, b->codec, b->variant, b->preprocess,
                                                        b->chunk_bytes, b->own_chunking);
        }
    };
    // Keep first-seen order of groups (the order the runs were made in).
    std::vector<std::vector<const experiment_run*>> groups;
    std::map<const experiment_run*, std::size_t, key_less> index;
    for (const auto& r : runs) {
        const auto [it, fresh] = index.emplace(&r, groups.size());
        if (fresh) groups.emplace_back();
        groups[it->second].push_back(&r);
    }
    std::vector<experiment_row> rows;
    for (const auto& g : groups) {
        const auto& f = *g.front();
        experiment_row row;
        row.set = f.set;
        row.codec = f.codec;
        row.variant = f.variant;
        row.preprocess = f.preprocess;
        row.chunk_bytes = f.chunk_bytes;
        row.own_chunking = f.own_chunking;
        row.is_model = is_model.at(f.codec);
        std::set<std::string> streams;
        struct sums {
            double tensor = 0, out = 0, payload = 0, pre = 0, l2 = 0, ideal = 0, tc = 0, td = 0,
                   cc = 0, cd = 0;
            int files = 0;
            bool all_ideal = true;
        };
        std::map<int, sums> per_repeat;
        for (const auto* r : g) {
            auto& s = per_repeat[r->repeat];
            s.tensor += static_cast<double>(r->tensor_bytes);
            s.out += static_cast<double>(r->output_bytes);
            s.payload += static_cast<double>(r->payload_bytes);
            s.pre += static_cast<double>(r->preprocessed_bytes);
            s.l2 += r->relative_l2_error;
            if (r->ideal_bits < 0) s.all_ideal = false;
            s.ideal += r->ideal_bits;
            s.tc += r->compress_seconds;
            s.td += r->decompress_seconds;
            s.cc += r->compress_cpu_seconds;
            s.cd += r->decompress_cpu_seconds;
            ++s.files;
            streams.insert(r->streams);
        }
        std::vector<double> rate, payload, pre, l2, ideal, cmb, dmb, ccmb, cdmb;
        row.has_ideal = true;
        for (const auto& [rep, s] : per_repeat) {
            rate.push_back(ratio_percent(s.out, s.tensor));
            payload.push_back(ratio_percent(s.payload, s.tensor));
            pre.push_back(ratio_percent(s.out, s.pre));
            l2.push_back(s.files ? s.l2 / s.files : 0.0);
            if (!s.all_ideal) row.has_ideal = false;
            ideal.push_back(ratio_percent(s.ideal / 8, s.tensor));
            cmb.push_back(s.tc > 0 ? s.tensor / s.tc / 1e6 : 0.0);
            dmb.push_back(s.td > 0 ? s.tensor / s.td / 1e6 : 0.0);
            ccmb.push_back(s.cc > 0 ? s.tensor / s.cc / 1e6 : 0.0);
            cdmb.push_back(s.cd > 0 ? s.tensor / s.cd / 1e6 : 0.0);
            row.files = std::max(row.files, s.files);
        }
        row.repeats = static_cast<int>(per_repeat.size());
        row.rate = mean_std_of(rate);
        row.payload_rate = mean_std_of(payload);
        row.rate_vs_preprocessed = mean_std_of(pre);
        row.relative_l2_error = mean_std_of(l2);
        if (row.has_ideal) row.ideal_rate = mean_std_of(ideal);
        row.compress_mbps = mean_std_of(cmb);
        row.decompress_mbps = mean_std_of(dmb);
        row.compress_cpu_mbps = mean_std_of(ccmb);
        row.decompress_cpu_mbps = mean_std_of(cdmb);
        for (const auto& s : streams) row.streams += (row.streams.empty() ? "" : ", ") + s;
        rows.push_back(std::move(row));
    }
    return rows;
}

} // namespace

experiment_result run_experiment(const std::vector<gradient_set>& sets,
                                 const experiment_params& params) {
    LMGC_CHECK(params.repeats >= 1, errc::usage, "repeats must be at least 1");
    LMGC_CHECK(params.sample >= 0, errc::usage, "sample must be >= 0 (0 = every file)");
    LMGC_CHECK(params.n_threads >= 0, errc::usage, "threads must be >= 0");
    for (const auto b : params.bytes_per_group)
        LMGC_CHECK(b == 1 || b == 2 || b == 4 || b == 8, errc::usage,
                   "bytes per group must be 1, 2, 4 or 8, not ", b);
    for (const auto c : params.context)
        LMGC_CHECK(c >= 2, errc::usage, "a context must hold at least 2 tokens, not ", c);

    experiment_result res;
    res.sample = params.sample;
    res.repeats = params.repeats;
    res.seed = params.seed;
    res.n_threads = params.n_threads;

    // Codecs: parsed up front so a typo fails before any work.
    std::vector<bench_codec> codecs;
    if (params.codecs.empty()) {
        for (const auto* name : default_codecs) codecs.push_back(parse_bench_codec(name));
    } else {
        for (const auto& s : params.codecs) codecs.push_back(parse_bench_codec(s));
    }
    {
        std::set<std::string> labels;
        for (const auto& c : codecs)
            LMGC_CHECK(labels.insert(c.label).second, errc::usage, "codec '", c.label,
                       "' is named twice");
    }
    const bool ablation = !params.bytes_per_group.empty() || !params.context.empty();
    bool any_lm = false;
    std::vector<variant> variants;
    std::map<std::string, bool> is_model;
    for (const auto& c : codecs) {
        is_model[c.label] = c.is_model;
        if (!c.skip.empty()) {
            res.notes.push_back(c.label + ": skipped, " + c.skip);
            continue;
        }
        if (c.codec != "lm" || !ablation) {
            variants.push_back({&c, "", c.options});
            continue;
        }
        any_lm = true;
        for (const auto& [key, list] : {std::pair<const char*, const std::vector<unsigned>*>{
                                            "bytes-per-group", &params.bytes_per_group},
                                        {"context", &params.context}})
            if (!list->empty())
                for (const auto& [k, v] : c.options)
                    LMGC_CHECK(k != key, errc::usage, "codec '", c.spec, "' sets ", key,
                               ", which the ablation varies");
        const std::vector<unsigned> bpgs =
            params.bytes_per_group.empty() ? std::vector<unsigned>{0} : params.bytes_per_group;
        const std::vector<unsigned> ctxs =
            params.context.empty() ? std::vector<unsigned>{0} : params.context;
        for (const auto b : bpgs)
            for (const auto x : ctxs) {
                variant v{&c, "", c.options};
                if (b) {
                    v.options.emplace_back("bytes-per-group", std::to_string(b));
                    v.name = "bytes-per-group=" + std::to_string(b);
                }
                if (x) {
                    v.options.emplace_back("context", std::to_string(x));
                    v.name +=
                        (v.name.empty() ? "" : " ") + std::string("context=") + std::to_string(x);
                }
                variants.push_back(std::move(v));
            }
    }
    if (ablation && !any_lm)
        res.notes.push_back("--bytes-per-group and --context vary lm codecs only, and none runs");
    LMGC_CHECK(!variants.empty(), errc::usage, "no codec can run here: ",
               res.notes.empty() ? std::string("none given") : res.notes.front());

    std::vector<std::uint64_t> modes = params.chunk_bytes;
    if (modes.empty()) modes = {0, 512};
    std::vector<std::string> preprocess = params.preprocess;
    if (preprocess.empty()) preprocess = {""};
    std::vector<config> configs;
    for (const auto& pp : preprocess)
        for (const auto& v : variants) {
            if (v.codec->is_model) {
                configs.push_back({&v, pp, 0});
                continue;
            }
            for (const auto m : modes) configs.push_back({&v, pp, m});
        }
    // Check the preprocessing specs now, on an empty tensor, not after an hour of work.
    for (const auto& pp : preprocess) {
        if (pp.empty()) continue;
        auto cp = default_compress_params();
        cp.preprocess = pp;
        cp.format = input_format::raw;
        const std::uint8_t two_floats[8] = {0, 0, 0x80, 0x3f, 0, 0, 0x80, 0xbf}; // 1, -1
        detail::with_context("--preprocess '" + pp + "'",
                             [&] { return expected_output(two_floats, cp); });
    }

    // The draws.
    struct draw {
        const gradient_set* set;
        int repeat;
        std::uint64_t seed;
        std::vector<std::size_t> files;
    };
    std::vector<draw> draws;
    res.sets.reserve(sets.size()); // draws point into it
    for (const auto& s : sets) {
        if (s.files.empty()) {
            res.notes.push_back(s.name + ": no files, skipped");
            continue;
        }
        res.sets.push_back(s);
        const std::size_t n = s.files.size();
        std::size_t k = params.sample ? static_cast<std::size_t>(params.sample) : n;
        if (k > n) {
            res.notes.push_back(s.label + ": " + std::to_string(n) + " file(s), fewer than the " +
                                std::to_string(k) + " to draw: every repeat uses all of them");
            k = n;
        } else if (k == n && params.repeats > 1 && params.sample) {
            res.notes.push_back(s.label + ": the sample is the whole set (" + std::to_string(n) +
                                " files): every repeat uses all of them");
        }
        for (int r = 0; r < params.repeats; ++r) {
            const std::uint64_t seed = params.seed + static_cast<std::uint64_t>(r);
            draws.push_back({&res.sets.back(), r, seed, draw_files(n, k, seed)});
        }
    }
    LMGC_CHECK(!draws.empty(), errc::usage, "no gradient files to run on");

    std::uint64_t total = 0, done = 0;
    for (const auto& d : draws) total += d.files.size() * configs.size();
    if (params.progress) params.progress(0, total);

    auto dp = default_decompress_params();
    dp.n_threads = params.n_threads;
    for (const auto& d : draws) {
        for (const auto fi : d.files) {
            const std::string& path = d.set->files[fi];
            const auto data = read_file(path);
            std::map<std::string, std::vector<std::uint8_t>> expected; // per preprocess spec
            for (const auto& cfg : configs) {
                const bench_codec& bc = *cfg.var->codec;
                auto cp = default_compress_params();
                cp.codec = bc.codec;
                cp.codec_options = cfg.var->options;
                cp.n_threads = params.n_threads;
                cp.format = params.format;
                cp.u2_as_bf16 = params.u2_as_bf16;
                cp.preprocess = cfg.preprocess;
                cp.seed = d.seed;
                if (!bc.is_model) {
                    cp.unchunked = cfg.chunk_bytes == 0;
                    cp.chunk_bytes = cfg.chunk_bytes;
                }
                const std::string what =
                    path + " (" + bc.label + (cfg.var->name.empty() ? "" : " " + cfg.var->name) +
                    ", " +
                    (bc.is_model ? "own chunking" : bench_mode_name(cfg.chunk_bytes, false)) +
                    (cfg.preprocess.empty() ? "" : ", " + cfg.preprocess) + ")";
                const std::vector<std::uint8_t>* want = &data;
                if (!cfg.preprocess.empty()) {
                    auto it = expected.find(cfg.preprocess);
                    if (it == expected.end())
                        it = expected
                                 .emplace(cfg.preprocess,
                                          detail::with_context(
                                              what, [&] { return expected_output(data, cp); }))
                                 .first;
                    want = &it->second;
                }
                compress_stats st;
                double c0 = cpu_seconds();
                auto t0 = bench_clock::now();
                auto image = detail::with_context(what, [&] { return compress(data, cp, &st); });
                const double tc = seconds_since(t0);
                const double cc = cpu_seconds() - c0;
                if (params.test_hooks.after_compress)
                    params.test_hooks.after_compress(bc.label, image);
                auto dpc = dp;
                dpc.codec_options = cfg.var->options;
                c0 = cpu_seconds();
                t0 = bench_clock::now();
                auto back = detail::with_context(what, [&] { return decompress(image, dpc); });
                const double td = seconds_since(t0);
                const double cd = cpu_seconds() - c0;
                if (params.test_hooks.after_decompress)
                    params.test_hooks.after_decompress(bc.label, back);
                LMGC_CHECK(back == *want, errc::internal, what, ": the decoded file is not ",
                           cfg.preprocess.empty() ? "the original" : "the lossy reconstruction",
                           " (", first_difference(back, *want), "); no rate is reported");

                const file_info info = inspect(image);
                experiment_run r;
                r.set = d.set->name;
                r.repeat = d.repeat;
                r.seed = d.seed;
                r.file = path;
                r.codec = bc.label;
                r.variant = cfg.var->name;
                r.preprocess = cfg.preprocess;
                r.own_chunking = bc.is_model;
                r.chunk_bytes = bc.is_model ? 0 : cfg.chunk_bytes;
                std::set<std::string> used;
                for (const auto& s : info.streams) {
                    if (used.insert(s.codec).second)
                        r.streams += (r.streams.empty() ? "" : "+") + s.codec;
                    // A prior's own chunking: the chunk size of its stream.
                    if (bc.is_model && s.codec == bc.codec) r.chunk_bytes = s.chunk_bytes;
                }
                r.tensor_bytes = st.tensor_bytes;
                r.output_bytes = image.size();
                r.payload_bytes = st.payload_bytes;
                r.preprocessed_bytes = st.preprocessed_bytes;
                r.side_info_bytes = st.side_info_bytes;
                r.relative_l2_error = st.relative_l2_error;
                r.ideal_bits = st.ideal_bits;
                r.compress_seconds = tc;
                r.decompress_seconds = td;
                r.compress_cpu_seconds = cc;
                r.decompress_cpu_seconds = cd;
                res.runs.push_back(std::move(r));
                if (params.progress) params.progress(++done, total);
            }
        }
    }
    res.rows = aggregate(res.runs, is_model);
    // Rows in the order sets, then configurations were given (aggregate keeps run order,
    // which is draw-major; regroup by set).
    std::stable_sort(res.rows.begin(), res.rows.end(),
                     [&](const experiment_row& a, const experiment_row& b) {
                         auto set_index = [&](const std::string& n) {
                             for (std::size_t i = 0; i < res.sets.size(); ++i)
                                 if (res.sets[i].name == n) return i;
                             return res.sets.size();
                         };
                         return set_index(a.set) < set_index(b.set);
                     });
    return res;
}

} // namespace lmgc::experimental
