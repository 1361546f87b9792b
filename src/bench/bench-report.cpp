// The report of `lmgc bench`: Markdown tables (the paper's layout and every row), the raw
// runs and the rows as CSV, and plots drawn by gnuplot run as a separate process (rate per
// codec with error bars; rate against speed). Without gnuplot the data and script are still
// written, and the notes say so.
#include "bench/bench-internal.hpp"

#include "common/common-error.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fcntl.h>
#include <filesystem>
#include <map>
#include <set>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace lmgc::detail {

std::string bench_mode_name(std::uint64_t chunk_bytes, bool own_chunking) {
    auto size = [](std::uint64_t b) {
        if (b >= (1u << 20) && b % (1u << 20) == 0) return std::to_string(b >> 20) + " MiB";
        if (b >= (1u << 10) && b % (1u << 10) == 0) return std::to_string(b >> 10) + " KiB";
        return std::to_string(b) + " B";
    };
    if (own_chunking)
        return chunk_bytes ? "own (" + size(chunk_bytes) + " chunks)" : "own (unchunked)";
    return chunk_bytes ? size(chunk_bytes) + " chunks" : "unchunked";
}

std::string bench_format_mean_std(const experimental::mean_std& v, int decimals) {
    char buf[96];
    if (v.n <= 1)
        std::snprintf(buf, sizeof buf, "%.*f", decimals, v.mean);
    else
        std::snprintf(buf, sizeof buf, "%.*f ± %.*f", decimals, v.mean, decimals, v.std);
    return buf;
}

std::string bench_markdown(const std::vector<std::vector<std::string>>& rows) {
    if (rows.empty()) return {};
    // Widths in code points, so "±" counts as one column.
    auto width = [](const std::string& s) {
        std::size_t n = 0;
        for (const unsigned char c : s) n += (c & 0xc0) != 0x80;
        return n;
    };
    std::vector<std::size_t> w(rows[0].size(), 3);
    for (const auto& r : rows)
        for (std::size_t i = 0; i < r.size() && i < w.size(); ++i)
            w[i] = std::max(w[i], width(r[i]));
    std::string out;
    auto line = [&](const std::vector<std::string>& r) {
        out += "|";
        for (std::size_t i = 0; i < w.size(); ++i) {
            const std::string c = i < r.size() ? r[i] : "";
            out += " " + c + std::string(w[i] - width(c), ' ') + " |";
        }
        out += "\n";
    };
    line(rows[0]);
    out += "|";
    for (const auto x : w) out += std::string(x + 2, '-') + "|";
    out += "\n";
    for (std::size_t i = 1; i < rows.size(); ++i) line(rows[i]);
    return out;
}

std::string bench_fixed(double v, int decimals) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
    return buf;
}

std::string bench_num(double v) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.9g", v);
    return buf;
}

static std::string bench_csv_field(const std::string& s) {
    if (s.find_first_of(",\"\n") == std::string::npos) return s;
    std::string out = "\"";
    for (const char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
    return out + "\"";
}

// Appends piece by piece: GCC 12 warns falsely (-Wrestrict) on ("," or "") + string.
void bench_append_csv_line(std::string& out, const std::vector<std::string>& fields) {
    for (std::size_t i = 0; i < fields.size(); ++i) {
        if (i) out += ',';
        out += bench_csv_field(fields[i]);
    }
    out += '\n';
}

// Runs gnuplot on script in dir; its output goes to dir/plot.log. Returns "" or why not.
std::string bench_run_gnuplot(const std::string& gnuplot, const std::string& dir,
                              const std::string& script) {
    std::string exe = gnuplot;
    if (exe.empty()) {
        const char* path = std::getenv("PATH");
        std::string p = path ? path : "";
        std::size_t start = 0;
        while (start <= p.size()) {
            const auto end = std::min(p.find(':', start), p.size());
            const auto cand =
                (start == end ? std::string(".") : p.substr(start, end - start)) + "/gnuplot";
            if (::access(cand.c_str(), X_OK) == 0) {
                exe = cand;
                break;
            }
            start = end + 1;
        }
        if (exe.empty())
            return "gnuplot is not installed (Debian: gnuplot-nox): plots not drawn; the data "
                   "and " +
                   script + " are in " + dir + " (run `gnuplot " + script + "` there)";
    } else if (::access(exe.c_str(), X_OK) != 0) {
        return "gnuplot '" + exe + "' cannot be run: plots not drawn; the data and " + script +
               " are in " + dir;
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    const std::string log = dir + "/plot.log";
    posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addchdir_np(&fa, dir.c_str());
    std::string a0 = exe, a1 = script;
    char* argv[] = {a0.data(), a1.data(), nullptr};
    pid_t pid = 0;
    const int rc = ::posix_spawn(&pid, exe.c_str(), &fa, nullptr, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) return "gnuplot could not be started: plots not drawn";
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) return "lost track of gnuplot: plots may be missing";
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return "gnuplot failed (see " + log + "): plots may be missing";
    return "";
}

std::string bench_settings_text(const std::vector<codec_option>& options) {
    std::string s;
    for (const auto& [k, v] : options) {
        if (!s.empty()) s += ':';
        s += k + "=" + v;
    }
    return s;
}

void bench_prepare_report_dir(const std::string& dir, bool overwrite) {
    namespace fs = std::filesystem;
    LMGC_CHECK(!dir.empty(), errc::usage, "no output folder");
    std::error_code ec;
    fs::create_directories(dir, ec);
    LMGC_CHECK(fs::is_directory(dir, ec), errc::io, "cannot create folder '", dir, "'");
    LMGC_CHECK(overwrite || !fs::exists(fs::path(dir) / "results.csv", ec), errc::io, "'", dir,
               "' already holds a bench report (results.csv); use another folder or overwrite");
}

void bench_put_text(const std::string& dir, const std::string& name, const std::string& text) {
    write_file_atomic((std::filesystem::path(dir) / name).string(),
                      std::span<const std::uint8_t>(
                          reinterpret_cast<const std::uint8_t*>(text.data()), text.size()),
                      true);
}

} // namespace lmgc::detail

namespace lmgc::experimental {

namespace fs = std::filesystem;
using namespace lmgc::detail;

namespace {

const gradient_set* set_of(const experiment_result& r, const std::string& name) {
    for (const auto& s : r.sets)
        if (s.name == name) return &s;
    return nullptr;
}

std::string set_label(const experiment_result& r, const std::string& name) {
    const auto* s = set_of(r, name);
    return s ? s->label : name;
}

struct shape {
    bool many_sets, lossy, ideal, many_modes, many_pre, fallback;
};

shape shape_of(const experiment_result& r) {
    shape s{};
    s.many_sets = r.sets.size() > 1;
    std::set<std::uint64_t> modes;
    std::set<std::string> pres;
    for (const auto& row : r.rows) {
        s.lossy |= !row.preprocess.empty();
        s.ideal |= row.has_ideal;
        if (!row.own_chunking) modes.insert(row.chunk_bytes);
        pres.insert(row.preprocess);
        s.fallback |= row.streams != row.codec.substr(0, row.codec.find(':'));
    }
    s.many_modes = modes.size() > 1;
    s.many_pre = pres.size() > 1;
    return s;
}

// A row's name within its set: codec, ablation setting, mode, preprocessing as needed.
std::string column_name(const experiment_row& row, const shape& sh) {
    std::string n = row.codec;
    if (!row.variant.empty()) n += " [" + row.variant + "]";
    if (sh.many_modes && !row.own_chunking) n += row.chunk_bytes ? " chunked" : " unchunked";
    if (sh.many_pre) n += row.preprocess.empty() ? " lossless" : " " + row.preprocess;
    return n;
}

// Sets by codecs, as the paper's tables 2 and 3 (and a row of table 1), with the gain of the
// best model prior over the best classical codec (lossless rows).
std::string pivot(const experiment_result& r, const shape& sh) {
    std::vector<std::string> cols;
    for (const auto& row : r.rows) {
        const auto c = column_name(row, sh);
        if (std::find(cols.begin(), cols.end(), c) == cols.end()) cols.push_back(c);
    }
    bool any_model = false, any_classical = false;
    for (const auto& row : r.rows) (row.is_model ? any_model : any_classical) = true;
    const bool gain = any_model && any_classical;
    std::vector<std::vector<std::string>> t;
    t.push_back({"set"});
    for (const auto& c : cols) t[0].push_back(c);
    if (gain) t[0].push_back("best prior vs best classical");
    for (const auto& s : r.sets) {
        std::vector<std::string> line{s.label};
        const experiment_row *best_c = nullptr, *best_m = nullptr;
        for (const auto& c : cols) {
            std::string cell = "—";
            for (const auto& row : r.rows) {
                if (row.set != s.name || column_name(row, sh) != c) continue;
                cell = bench_format_mean_std(row.rate, 2);
                if (!row.preprocess.empty()) continue;
                auto& best = row.is_model ? best_m : best_c;
                if (!best || row.rate.mean < best->rate.mean) best = &row;
            }
            line.push_back(cell);
        }
        if (gain) {
            std::string cell = "—";
            if (best_c && best_m && best_c->rate.mean > 0)
                cell = best_m->codec + " vs " + best_c->codec + ": " +
                       bench_fixed(
                           100.0 * (best_c->rate.mean - best_m->rate.mean) / best_c->rate.mean, 1) +
                       "%";
            line.push_back(cell);
        }
        t.push_back(std::move(line));
    }
    return bench_markdown(t);
}

std::string all_rows(const experiment_result& r, const shape& sh) {
    std::vector<std::string> head;
    if (sh.many_sets) head.push_back("set");
    head.insert(head.end(), {"codec", "mode"});
    if (sh.lossy)
        head.insert(head.end(), {"preprocess", "rate %", "vs preprocessed %", "rel. L2"});
    else
        head.push_back("rate %");
    head.push_back("payload %");
    if (sh.ideal) head.push_back("ideal %");
    head.insert(head.end(),
                {"compress MB/s", "decompress MB/s", "per CPU s (c / d)", "files × repeats"});
    if (sh.fallback) head.push_back("streams");
    std::vector<std::vector<std::string>> t{head};
    for (const auto& row : r.rows) {
        std::vector<std::string> l;
        if (sh.many_sets) l.push_back(set_label(r, row.set));
        l.push_back(row.codec + (row.variant.empty() ? "" : " [" + row.variant + "]"));
        l.push_back(bench_mode_name(row.chunk_bytes, row.own_chunking));
        if (sh.lossy) {
            l.push_back(row.preprocess.empty() ? "none" : row.preprocess);
            l.push_back(bench_format_mean_std(row.rate, 2));
            const bool lossy = !row.preprocess.empty();
            l.push_back(lossy ? bench_format_mean_std(row.rate_vs_preprocessed, 2) : "—");
            char buf[32];
            std::snprintf(buf, sizeof buf, "%.3g", row.relative_l2_error.mean);
            l.push_back(lossy ? buf : "—");
        } else {
            l.push_back(bench_format_mean_std(row.rate, 2));
        }
        l.push_back(bench_format_mean_std(row.payload_rate, 2));
        if (sh.ideal) l.push_back(row.has_ideal ? bench_format_mean_std(row.ideal_rate, 2) : "");
        l.push_back(bench_format_mean_std(row.compress_mbps, 2));
        l.push_back(bench_format_mean_std(row.decompress_mbps, 2));
        l.push_back(bench_fixed(row.compress_cpu_mbps.mean, 2) + " / " +
                    bench_fixed(row.decompress_cpu_mbps.mean, 2));
        l.push_back(std::to_string(row.files) + " × " + std::to_string(row.repeats));
        if (sh.fallback) l.push_back(row.streams);
        t.push_back(std::move(l));
    }
    return bench_markdown(t);
}

// Plot labels: unique within the report.
std::string plot_label(const experiment_result& r, const experiment_row& row, const shape& sh) {
    (void)r;
    return sh.many_sets ? row.set + ": " + column_name(row, sh) : column_name(row, sh);
}

std::string tsv_safe(std::string s) {
    for (auto& c : s)
        if (c == '\t' || c == '\n' || c == '"') c = ' ';
    return s;
}

std::string plot_script(std::size_t n_bars, double y_max) {
    // One block per output format; PNG only when this gnuplot has cairo.
    const std::string body = R"gp(set datafile separator "\t"
set title "Compression rate, mean ± std over repeats (lower is better)"
set ylabel "rate (% of float32 bytes)"
set yrange [0:YMAX]
set xrange [-0.6:XMAX]
set style fill solid 0.6 border -1
set boxwidth 0.7
set xtics rotate by -35 left
set grid ytics
set bmargin 12
set rmargin 12
plot "plot-rate.dat" using 1:3:4:xtic(2) with boxerrorbars lc rgb "#4477aa" notitle
set output "rate-vs-speed.EXT"
set xtics norotate autofreq
set autoscale x
set bmargin
set title "Rate against speed (one core unless --threads), mean ± std"
set xlabel "MB/s of float32 data (log scale)"
set logscale x
set key top right
plot "plot-speed.dat" using 2:3:4:5 with xyerrorbars pt 7 lc rgb "#4477aa" title "compress", \
     "" using 6:3:7:5 with xyerrorbars pt 5 lc rgb "#ee6677" title "decompress", \
     "" using 2:3:1 with labels offset 0,1 font ",8" notitle
unset logscale x
unset xlabel
)gp";
    auto block = [&](const std::string& term, const std::string& ext) {
        std::string b = body;
        for (auto p = b.find("EXT"); p != std::string::npos; p = b.find("EXT"))
            b.replace(p, 3, ext);
        b.replace(b.find("YMAX"), 4, bench_num(y_max));
        b.replace(b.find("XMAX"), 4, bench_num(static_cast<double>(n_bars) - 0.4));
        return "set terminal " + term + "\nset output \"rate." + ext + "\"\n" + b;
    };
    return "# Made by lmgc bench: gnuplot plot.gp (in this folder) redraws the plots.\n" +
           block("svg size 1200,720 noenhanced font \"sans,11\"", "svg") +
           "if (strstrt(GPVAL_TERMINALS, \"pngcairo\") > 0) {\n" +
           block("pngcairo size 1200,720 noenhanced font \"sans,10\"", "png") + "}\n";
}

} // namespace

std::string experiment_markdown(const experiment_result& r) {
    const auto sh = shape_of(r);
    std::string out;
    int max_files = 0;
    for (const auto& row : r.rows) max_files = std::max(max_files, row.files);
    out += "Gradient sets: ";
    for (std::size_t i = 0; i < r.sets.size(); ++i)
        out += (i ? "; " : "") + r.sets[i].label + " (" + std::to_string(r.sets[i].files.size()) +
               " files)";
    out += ".\nPer repeat " +
           (r.sample ? std::to_string(r.sample) + " file(s) drawn at random" : "every file") +
           " (seed " + std::to_string(r.seed) + " + repeat), " + std::to_string(r.repeats) +
           " repeat(s), " + (r.n_threads ? std::to_string(r.n_threads) : "all") +
           " thread(s). Rate: 100 × .lmgc bytes / float32 tensor bytes (container included; "
           "payload: without it), mean ± std (population) over repeats; every .lmgc file was "
           "decoded back and compared byte for byte.\n\n";
    out += "Rate % by gradient set:\n\n" + pivot(r, sh) + "\nAll rows:\n\n" + all_rows(r, sh);
    if (sh.ideal)
        out += "\nideal %: the prior's own code length, -Σ log2 p / 8, as % of the tensor bytes.\n";
    if (sh.lossy)
        out += "\nLossy rows: rate against the original float32 bytes and against the lossy "
               "representation plus its side information (stored and counted); rel. L2 = "
               "||x - x'|| / ||x||, mean over files.\n";
    if (!r.notes.empty()) {
        out += "\nNotes:\n";
        for (const auto& n : r.notes) out += "- " + n + "\n";
    }
    return out;
}

std::string experiment_runs_csv(const experiment_result& r) {
    std::string out = "set,repeat,seed,file,codec,variant,mode,chunk_bytes,preprocess,streams,"
                      "tensor_bytes,output_bytes,payload_bytes,preprocessed_bytes,side_info_bytes,"
                      "rate_percent,rate_vs_preprocessed_percent,relative_l2_error,ideal_bits,"
                      "ideal_rate_percent,compress_seconds,decompress_seconds,compress_mbps,"
                      "decompress_mbps,compress_cpu_seconds,decompress_cpu_seconds\n";
    for (const auto& x : r.runs) {
        const double tb = static_cast<double>(x.tensor_bytes);
        const double ob = static_cast<double>(x.output_bytes);
        const double pb = static_cast<double>(x.preprocessed_bytes);
        std::vector<std::string> f = {
            x.set,
            std::to_string(x.repeat),
            std::to_string(x.seed),
            x.file,
            x.codec,
            x.variant,
            x.own_chunking ? "own" : (x.chunk_bytes ? "chunked" : "unchunked"),
            std::to_string(x.chunk_bytes),
            x.preprocess,
            x.streams,
            std::to_string(x.tensor_bytes),
            std::to_string(x.output_bytes),
            std::to_string(x.payload_bytes),
            std::to_string(x.preprocessed_bytes),
            std::to_string(x.side_info_bytes),
            bench_num(tb > 0 ? 100.0 * ob / tb : 0),
            bench_num(pb > 0 ? 100.0 * ob / pb : 0),
            bench_num(x.relative_l2_error),
            x.ideal_bits < 0 ? "" : bench_num(x.ideal_bits),
            x.ideal_bits < 0 || tb <= 0 ? "" : bench_num(100.0 * x.ideal_bits / 8 / tb),
            bench_num(x.compress_seconds),
            bench_num(x.decompress_seconds),
            bench_num(x.compress_seconds > 0 ? tb / x.compress_seconds / 1e6 : 0),
            bench_num(x.decompress_seconds > 0 ? tb / x.decompress_seconds / 1e6 : 0),
            bench_num(x.compress_cpu_seconds),
            bench_num(x.decompress_cpu_seconds),
        };
        bench_append_csv_line(out, f);
    }
    return out;
}

std::string experiment_summary_csv(const experiment_result& r) {
    std::string out = "set,set_label,codec,variant,mode,chunk_bytes,preprocess,streams,repeats,"
                      "files_per_repeat,rate_mean,rate_std,payload_rate_mean,payload_rate_std,"
                      "rate_vs_preprocessed_mean,rate_vs_preprocessed_std,relative_l2_mean,"
                      "relative_l2_std,ideal_rate_mean,ideal_rate_std,compress_mbps_mean,"
                      "compress_mbps_std,decompress_mbps_mean,decompress_mbps_std,"
                      "compress_cpu_mbps_mean,decompress_cpu_mbps_mean\n";
    for (const auto& x : r.rows) {
        std::vector<std::string> f = {
            x.set,
            set_label(r, x.set),
            x.codec,
            x.variant,
            x.own_chunking ? "own" : (x.chunk_bytes ? "chunked" : "unchunked"),
            std::to_string(x.chunk_bytes),
            x.preprocess,
            x.streams,
            std::to_string(x.repeats),
            std::to_string(x.files),
            bench_num(x.rate.mean),
            bench_num(x.rate.std),
            bench_num(x.payload_rate.mean),
            bench_num(x.payload_rate.std),
            bench_num(x.rate_vs_preprocessed.mean),
            bench_num(x.rate_vs_preprocessed.std),
            bench_num(x.relative_l2_error.mean),
            bench_num(x.relative_l2_error.std),
            x.has_ideal ? bench_num(x.ideal_rate.mean) : "",
            x.has_ideal ? bench_num(x.ideal_rate.std) : "",
            bench_num(x.compress_mbps.mean),
            bench_num(x.compress_mbps.std),
            bench_num(x.decompress_mbps.mean),
            bench_num(x.decompress_mbps.std),
            bench_num(x.compress_cpu_mbps.mean),
            bench_num(x.decompress_cpu_mbps.mean),
        };
        bench_append_csv_line(out, f);
    }
    return out;
}

bool experiment_report_exists(const std::string& dir) {
    std::error_code ec;
    return fs::exists(fs::path(dir) / "results.csv", ec);
}

std::vector<std::string> write_experiment_report(const experiment_result& r, const std::string& dir,
                                                 const experiment_report_params& params) {
    detail::bench_prepare_report_dir(dir, params.overwrite);
    auto put = [&](const std::string& name, const std::string& text) {
        detail::bench_put_text(dir, name, text);
    };
    std::vector<std::string> notes;
    put("results.csv", experiment_runs_csv(r));
    put("summary.csv", experiment_summary_csv(r));

    const auto sh = shape_of(r);
    std::string rate_dat, speed_dat;
    int i = 0;
    double y_max = 1;
    for (const auto& row : r.rows) {
        y_max = std::max(y_max, 1.08 * (row.rate.mean + row.rate.std));
        const auto label = tsv_safe(plot_label(r, row, sh));
        rate_dat += std::to_string(i++) + "\t" + label + "\t" + bench_num(row.rate.mean) + "\t" +
                    bench_num(row.rate.std) + "\n";
        speed_dat += label + "\t" + bench_num(row.compress_mbps.mean) + "\t" +
                     bench_num(row.rate.mean) + "\t" + bench_num(row.compress_mbps.std) + "\t" +
                     bench_num(row.rate.std) + "\t" + bench_num(row.decompress_mbps.mean) + "\t" +
                     bench_num(row.decompress_mbps.std) + "\n";
    }
    put("plot-rate.dat", rate_dat);
    put("plot-speed.dat", speed_dat);
    put("plot.gp", plot_script(r.rows.size(), y_max));
    if (params.gnuplot != "none") {
        const auto why = bench_run_gnuplot(params.gnuplot, dir, "plot.gp");
        if (!why.empty()) notes.push_back(why);
    } else {
        notes.push_back("plots not drawn (asked not to); plot.gp and its data are in " + dir);
    }
    std::string md = params.title.empty() ? "" : params.title + "\n\n";
    md += experiment_markdown(r);
    if (!notes.empty()) {
        md += r.notes.empty() ? "\nNotes:\n" : "";
        for (const auto& n : notes) md += "- " + n + "\n";
    }
    put("table.md", md);
    return notes;
}

} // namespace lmgc::experimental
