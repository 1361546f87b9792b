// The report of `lmgc bench codecs`: per set of files a Markdown table, which points are
// dominated (rate against compress and decompress speed) and by what, thread scaling; every
// result as CSV; rate-vs-speed plots drawn by gnuplot run as a separate process.
#include "bench/bench-internal.hpp"

#include "common/common-error.hpp"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <map>
#include <set>

namespace lmgc::experimental {

namespace fs = std::filesystem;
using namespace lmgc::detail;

namespace {

enum class point_kind { level, classical, other };

// lmgc's levels; lmgc's own coders and store named directly ("other"); the rest, the
// classical codecs.
point_kind kind_of(const codec_bench_result& r) {
    if (r.level) return point_kind::level;
    static const std::set<std::string> own = {"cm", "fast", "lm", "store"};
    return own.count(r.codec_name) ? point_kind::other : point_kind::classical;
}

const char* kind_name(point_kind k) {
    return k == point_kind::level ? "level" : k == point_kind::classical ? "classical" : "other";
}

std::string mode_text(std::uint64_t chunk_bytes) {
    return chunk_bytes == codec_bench_default_chunks ? "default chunks"
                                                     : bench_mode_name(chunk_bytes, false);
}

// What the codec column shows: the label, and for a level the codec and settings it maps to.
std::string full_label(const codec_bench_result& r) {
    if (!r.level) return r.label;
    return r.label + " (" + r.codec_name + (r.options.empty() ? "" : ":") +
           detail::bench_settings_text(r.options) + ")";
}

// The results of a set at its first thread count, with their dominance.
struct front {
    std::vector<const codec_bench_result*> points;
    std::vector<std::vector<std::size_t>> dominated_by;
    bool many_modes = false;
    // A point's short name: its label, and its mode when there are several.
    std::string name(std::size_t i) const {
        return points[i]->label +
               (many_modes ? " (" + mode_text(points[i]->chunk_bytes) + ")" : "");
    }
    // Another point with the same codec, settings and mode: the same coder, so a tie.
    std::string same_as(std::size_t i) const {
        const auto& a = *points[i];
        for (std::size_t j = 0; j < points.size(); ++j) {
            const auto& b = *points[j];
            if (j != i && (a.level != 0) != (b.level != 0) && a.codec_name == b.codec_name &&
                a.options == b.options && a.chunk_bytes == b.chunk_bytes)
                return name(j);
        }
        return "";
    }
};

front front_of(const codec_bench_set& s) {
    front f;
    if (s.results.empty()) return f;
    const int threads = s.results.front().n_threads;
    std::set<std::uint64_t> modes;
    std::vector<pareto_point> pts;
    for (const auto& r : s.results) {
        if (r.n_threads != threads) continue;
        f.points.push_back(&r);
        modes.insert(r.chunk_bytes);
        pts.push_back({r.rate_percent, r.compress_mbps_best, r.decompress_mbps_best});
    }
    f.many_modes = modes.size() > 1;
    f.dominated_by = pareto_dominated_by(pts);
    return f;
}

std::string join_names(const front& f, const std::vector<std::size_t>& idx) {
    std::string s;
    for (const auto j : idx) {
        if (!s.empty()) s += ", ";
        s += f.name(j);
    }
    return s;
}

std::string set_markdown(const codec_bench_set& s, int repeats, bool many_sets) {
    std::string out;
    const auto f = front_of(s);
    const std::uint64_t tensor_bytes = s.results.empty() ? 0 : s.results.front().tensor_bytes;
    const int threads = s.results.empty() ? 1 : s.results.front().n_threads;
    if (many_sets) out += "## Set " + s.name + "\n\n";
    out += std::to_string(s.files.size()) + " file(s), " +
           bench_fixed(static_cast<double>(tensor_bytes) / 1e6, 2) + " MB of tensor data; " +
           (threads ? std::to_string(threads) : std::string("all")) +
           " thread(s); best / median of " + std::to_string(repeats) +
           " repeat(s), all codecs interleaved; every round trip checked byte for byte\n\n";

    std::vector<std::vector<std::string>> rows{{"codec", "mode", "rate %", "payload %",
                                                "compress MB/s", "decompress MB/s", "streams",
                                                "Pareto"}};
    for (std::size_t i = 0; i < f.points.size(); ++i) {
        const auto& r = *f.points[i];
        const auto n = f.dominated_by[i].size();
        rows.push_back(
            {full_label(r), mode_text(r.chunk_bytes), bench_fixed(r.rate_percent, 2),
             bench_fixed(r.payload_rate_percent, 2),
             bench_fixed(r.compress_mbps_best, 1) + " / " + bench_fixed(r.compress_mbps_median, 1),
             bench_fixed(r.decompress_mbps_best, 1) + " / " +
                 bench_fixed(r.decompress_mbps_median, 1),
             r.codecs_used, n ? "dominated (" + std::to_string(n) + ")" : "front"});
    }
    out += bench_markdown(rows);

    out += "\nDominated points (another has rate <= and compress and decompress MB/s >=, "
           "strictly better in one; speeds: best of the repeats):\n\n";
    bool any = false;
    for (std::size_t i = 0; i < f.points.size(); ++i) {
        if (f.dominated_by[i].empty()) continue;
        any = true;
        const auto same = f.same_as(i);
        out += "- " + f.name(i) + ": by " + join_names(f, f.dominated_by[i]) +
               (same.empty() ? "" : " (same coder and settings as " + same + ")") + "\n";
    }
    if (!any) out += "- none\n";

    // The classical codecs against lmgc's levels.
    std::vector<std::string> not_dominated;
    std::size_t n_classical = 0, n_levels = 0;
    for (std::size_t i = 0; i < f.points.size(); ++i) n_levels += f.points[i]->level != 0;
    for (std::size_t i = 0; i < f.points.size(); ++i) {
        if (kind_of(*f.points[i]) != point_kind::classical) continue;
        ++n_classical;
        std::vector<std::size_t> by;
        for (const auto j : f.dominated_by[i])
            if (f.points[j]->level) by.push_back(j);
        if (by.empty()) {
            const auto same = f.same_as(i);
            not_dominated.push_back(f.name(i) + (same.empty() ? "" : " (= " + same + ")"));
        }
    }
    if (n_classical && n_levels) {
        out += "\nClassical codecs dominated by an lmgc level: " +
               std::to_string(n_classical - not_dominated.size()) + " of " +
               std::to_string(n_classical) + ".\n";
        std::string list;
        for (const auto& x : not_dominated) {
            if (!list.empty()) list += ", ";
            list += x;
        }
        out += (many_sets ? s.name + ": c" : "C") +
               std::string("lassical codecs not dominated by an lmgc level: ") +
               (list.empty() ? "none" : list) + "\n";
    }

    // Thread scaling: per codec and mode, the speeds at each thread count.
    std::vector<int> counts;
    for (const auto& r : s.results)
        if (std::find(counts.begin(), counts.end(), r.n_threads) == counts.end())
            counts.push_back(r.n_threads);
    if (counts.size() > 1) {
        const bool has_one = std::find(counts.begin(), counts.end(), 1) != counts.end();
        std::vector<std::string> head{"codec", "mode"};
        for (const char* what : {"compress", "decompress"})
            for (const int t : counts) {
                const auto tn = t ? std::to_string(t) : std::string("all");
                head.push_back(std::string(what) + " MB/s, " + tn + " thr.");
                if (has_one && t > 1) head.push_back("eff. " + tn);
            }
        std::vector<std::vector<std::string>> t{head};
        // (label, mode) -> threads -> result
        std::map<std::pair<std::string, std::uint64_t>, std::map<int, const codec_bench_result*>>
            by;
        std::vector<std::pair<std::string, std::uint64_t>> order;
        for (const auto& r : s.results) {
            const std::pair<std::string, std::uint64_t> key{r.label, r.chunk_bytes};
            if (!by.count(key)) order.push_back(key);
            by[key][r.n_threads] = &r;
        }
        for (const auto& key : order) {
            const auto& m = by[key];
            std::vector<std::string> row{full_label(*m.begin()->second), mode_text(key.second)};
            for (const bool comp : {true, false})
                for (const int n : counts) {
                    const auto it = m.find(n);
                    const auto speed = [&](const codec_bench_result* r) {
                        return comp ? r->compress_mbps_best : r->decompress_mbps_best;
                    };
                    row.push_back(it == m.end() ? "" : bench_fixed(speed(it->second), 1));
                    if (has_one && n > 1) {
                        const auto one = m.find(1);
                        const double base = one == m.end() ? 0 : speed(one->second);
                        row.push_back(it == m.end() || base <= 0
                                          ? ""
                                          : bench_fixed(speed(it->second) / (n * base), 2));
                    }
                }
            t.push_back(std::move(row));
        }
        out += "\nThread scaling (best of the repeats; eff. N = MB/s at N threads / (N × MB/s "
               "at 1 thread)):\n\n" +
               bench_markdown(t);
    }
    return out;
}

std::string tsv_safe(std::string s) {
    for (auto& c : s)
        if (c == '\t' || c == '\n' || c == '"') c = ' ';
    return s;
}

// "" for one set, "-NAME" (file-name safe) for several.
std::string set_suffix(const codec_bench_set& s, bool many_sets) {
    if (!many_sets) return "";
    std::string n = s.name;
    for (auto& c : n)
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.')
            c = '_';
    return "-" + n;
}

std::string gp_quote(const std::string& s) {
    std::string out = "\"";
    for (const char c : s) {
        if (c == '"' || c == '\\') out += '\\';
        out += c;
    }
    return out + "\"";
}

} // namespace

std::string codec_bench_markdown(const std::vector<codec_bench_set>& sets, int repeats) {
    std::string out;
    for (std::size_t i = 0; i < sets.size(); ++i) {
        if (i) out += '\n';
        out += set_markdown(sets[i], repeats, sets.size() > 1);
    }
    return out;
}

std::string codec_bench_csv(const std::vector<codec_bench_set>& sets) {
    std::string out =
        "set,label,spec,codec,settings,level,kind,mode,chunk_bytes,threads,streams,tensor_bytes,"
        "output_bytes,payload_bytes,rate_percent,payload_rate_percent,compress_mbps_best,"
        "compress_mbps_median,decompress_mbps_best,decompress_mbps_median,dominated_by\n";
    for (const auto& s : sets) {
        const auto f = front_of(s);
        std::map<const codec_bench_result*, std::string> dom;
        for (std::size_t i = 0; i < f.points.size(); ++i) {
            std::string d;
            for (const auto j : f.dominated_by[i]) {
                if (!d.empty()) d += ';';
                d += f.name(j);
            }
            dom[f.points[i]] = d;
        }
        for (const auto& r : s.results) {
            const bool chunked = r.chunk_bytes && r.chunk_bytes != codec_bench_default_chunks;
            bench_append_csv_line(out, {s.name,
                                        r.label,
                                        r.codec,
                                        r.codec_name,
                                        detail::bench_settings_text(r.options),
                                        std::to_string(r.level),
                                        kind_name(kind_of(r)),
                                        r.chunk_bytes == codec_bench_default_chunks ? "default"
                                        : chunked                                   ? "chunked"
                                                                                    : "unchunked",
                                        chunked ? std::to_string(r.chunk_bytes) : "0",
                                        std::to_string(r.n_threads),
                                        r.codecs_used,
                                        std::to_string(r.tensor_bytes),
                                        std::to_string(r.output_bytes),
                                        std::to_string(r.payload_bytes),
                                        bench_num(r.rate_percent),
                                        bench_num(r.payload_rate_percent),
                                        bench_num(r.compress_mbps_best),
                                        bench_num(r.compress_mbps_median),
                                        bench_num(r.decompress_mbps_best),
                                        bench_num(r.decompress_mbps_median),
                                        dom.count(&r) ? dom[&r] : ""});
        }
    }
    return out;
}

std::vector<std::string> write_codec_bench_report(const std::vector<codec_bench_set>& sets,
                                                  int repeats, const std::string& dir,
                                                  const codec_bench_report_params& params) {
    detail::bench_prepare_report_dir(dir, params.overwrite);
    auto put = [&](const std::string& name, const std::string& text) {
        detail::bench_put_text(dir, name, text);
    };
    std::vector<std::string> notes;
    put("results.csv", codec_bench_csv(sets));

    const bool many = sets.size() > 1;
    std::string gp = "# Made by lmgc bench codecs: gnuplot pareto.gp (in this folder) redraws the "
                     "plots.\n"
                     "set terminal svg size 1200,760 noenhanced font \"sans,11\"\n"
                     "set datafile separator \"\\t\"\n"
                     "set logscale x\n"
                     "set grid\n"
                     "set key outside bottom center horizontal\n"
                     "set offsets graph 0.08, graph 0.12, graph 0.04, graph 0.04\n"
                     "set bmargin 6\n"
                     "set ylabel \"rate (% of tensor bytes, lower is better)\"\n";
    static const struct {
        point_kind kind;
        const char* file;
        const char* title;
        const char* style;
        const char* labels; // where the labels go: levels left of their points, the rest right
    } series[] = {
        {point_kind::level, "levels", "lmgc levels", "pt 7 ps 1.3 lc rgb \"#228833\"",
         "right offset char -0.7,0.5"},
        {point_kind::classical, "classical", "classical codecs", "pt 5 ps 1.0 lc rgb \"#ee6677\"",
         "left offset char 0.7,0.5"},
        {point_kind::other, "other", "lmgc codecs named directly, store",
         "pt 9 ps 1.2 lc rgb \"#4477aa\"", "left offset char 0.7,-0.5"},
    };
    for (const auto& s : sets) {
        const auto f = front_of(s);
        const auto sfx = set_suffix(s, many);
        std::vector<std::string> plots[2];
        for (const auto& ser : series) {
            std::string dat;
            for (std::size_t i = 0; i < f.points.size(); ++i) {
                const auto& r = *f.points[i];
                if (kind_of(r) != ser.kind) continue;
                dat += bench_num(r.rate_percent) + "\t" + bench_num(r.compress_mbps_best) + "\t" +
                       bench_num(r.decompress_mbps_best) + "\t" + tsv_safe(f.name(i)) + "\n";
            }
            if (dat.empty()) continue;
            const std::string name = "pareto" + sfx + "-" + ser.file + ".dat";
            put(name, dat);
            for (int c = 0; c < 2; ++c) {
                const std::string col = c ? "3" : "2";
                plots[c].push_back(gp_quote(name) + " using " + col + ":1 with points " +
                                   ser.style + " title " + gp_quote(ser.title));
                plots[c].push_back("\"\" using " + col + ":1:4 with labels " + ser.labels +
                                   " font \",8\" notitle");
            }
        }
        if (plots[0].empty()) continue;
        const int threads = s.results.front().n_threads;
        const std::string per = threads == 1 ? "one core" : std::to_string(threads) + " threads";
        for (int c = 0; c < 2; ++c) {
            const std::string what = c ? "decompress" : "compress";
            gp += "set output " + gp_quote("rate-vs-" + what + sfx + ".svg") + "\n";
            gp += "set title " +
                  gp_quote((many ? s.name + ": " : std::string()) + "rate vs " + what + " speed (" +
                           per + ", best of " + std::to_string(repeats) +
                           " repeats); lower right is better") +
                  "\n";
            gp += "set xlabel " + gp_quote(what + " MB/s of tensor data (log scale)") + "\n";
            gp += "plot ";
            for (std::size_t i = 0; i < plots[c].size(); ++i) {
                if (i) gp += ", \\\n     ";
                gp += plots[c][i];
            }
            gp += "\n";
        }
    }
    put("pareto.gp", gp);
    if (params.gnuplot != "none") {
        const auto why = bench_run_gnuplot(params.gnuplot, dir, "pareto.gp");
        if (!why.empty()) notes.push_back(why);
    } else {
        notes.push_back("plots not drawn (asked not to); pareto.gp and its data are in " + dir);
    }
    std::string md = params.title.empty() ? "" : params.title + "\n\n";
    md += codec_bench_markdown(sets, repeats);
    if (!notes.empty()) {
        md += "\nNotes:\n";
        for (const auto& n : notes) md += "- " + n + "\n";
    }
    put("table.md", md);
    return notes;
}

} // namespace lmgc::experimental
