// Helpers shared by the files of the bench stage (src/bench/) only.
#pragma once

#include "lmgc/research.hpp"

#include <chrono>
#include <string>
#include <vector>

namespace lmgc::detail {

using bench_clock = std::chrono::steady_clock;

inline double seconds_since(bench_clock::time_point t0) {
    return std::chrono::duration<double>(bench_clock::now() - t0).count();
}

// "cifar10" -> "CIFAR-10", "convnet" -> "ConvNet"; unknown names as they are.
std::string bench_dataset_label(const std::string& dataset);
std::string bench_arch_label(const std::string& arch);

// "unchunked", "512 B chunks", "default (4 MiB)" for a model prior in its own chunking.
std::string bench_mode_name(std::uint64_t chunk_bytes, bool own_chunking);

// "41.26 ± 0.80" (mean only when there was one repeat).
std::string bench_format_mean_std(const experimental::mean_std& v, int decimals);

// A Markdown table, the first row its header; columns padded to their widest cell (in code
// points, so "±" counts as one).
std::string bench_markdown(const std::vector<std::vector<std::string>>& rows);
// "%.*f" and "%.9g".
std::string bench_fixed(double v, int decimals);
std::string bench_num(double v);
// Appends one CSV line, quoting fields that need it.
void bench_append_csv_line(std::string& out, const std::vector<std::string>& fields);

// Runs gnuplot (the executable `gnuplot`, or "" to find it on PATH) on script in dir, its output
// going to dir/plot.log. Returns "" or why the plots were not drawn.
std::string bench_run_gnuplot(const std::string& gnuplot, const std::string& dir,
                              const std::string& script);

// "level=19:lgwin=22": a codec's settings as bench labels them.
std::string bench_settings_text(const std::vector<codec_option>& options);

// Makes the report folder dir, refusing one that already holds a report (results.csv) unless
// overwrite; then bench_put_text writes each file of it atomically.
void bench_prepare_report_dir(const std::string& dir, bool overwrite);
void bench_put_text(const std::string& dir, const std::string& name, const std::string& text);

} // namespace lmgc::detail
