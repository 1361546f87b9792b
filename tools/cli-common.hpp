// Shared helpers of the lmgc subcommands: progress bar, number formatting, tables, the
// subcommand table. Only the public lmgc headers are used by the CLI.
#pragma once

#include "cli-args.hpp"
#include "lmgc/lmgc.hpp"

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

namespace lmgc::cli {

using args_t = std::vector<std::string>;

// A progress bar on stderr, drawn only when stderr is a terminal, at most 10 times a second.
class progress_bar {
  public:
    // With a unit other than "B", the speed shown is bytes/s times scale in that unit (the
    // lm codec shows tokens/s: bytes times tokens per byte).
    explicit progress_bar(std::string label, std::string unit = "B", double scale = 1.0);
    ~progress_bar(); // clears the line
    progress_fn callback();
    void update(std::uint64_t done, std::uint64_t total);
    void finish();

  private:
    std::string label_, unit_;
    double scale_;
    bool enabled_;
    bool drawn_ = false;
    std::chrono::steady_clock::time_point start_, last_;
    std::mutex mu_;
};

std::string format_bytes(double n); // "1.27 MB"
std::string format_fixed(double v, int decimals);

// Prints rows as an aligned Markdown table (first row is the header).
std::string markdown_table(const std::vector<std::vector<std::string>>& rows);

// The value of a --format option (the library's table of input formats).
input_format parse_format_option(const std::string& value);
// A --set KEY=VALUE option.
codec_option parse_set_option(const std::string& kv);
// A --threads value: 0 (all cores) to max_threads; more than the cores is allowed.
constexpr int max_threads = 1024;
int check_threads_option(int n);
// The --threads help text, naming this machine's core count.
std::string threads_help(const char* zero_means = "all cores");

// Output path for a command: explicit, or in + suffix, or in with suffix stripped.
std::string default_output(const std::string& in, const std::string& add_suffix,
                           const std::string& strip_suffix);

} // namespace lmgc::cli
