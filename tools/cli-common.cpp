// Progress bar and formatting for the CLI.
#include "cli-common.hpp"

#include <cmath>
#include <cstdio>
#include <thread>
#include <unistd.h>

namespace lmgc::cli {

progress_bar::progress_bar(std::string label, std::string unit, double scale)
    : label_(std::move(label)), unit_(std::move(unit)), scale_(scale), enabled_(::isatty(2) == 1),
      start_(std::chrono::steady_clock::now()), last_(start_ - std::chrono::seconds(1)) {}

progress_bar::~progress_bar() {
    finish();
}

progress_fn progress_bar::callback() {
    if (!enabled_) return {};
    return [this](std::uint64_t done, std::uint64_t total) { update(done, total); };
}

void progress_bar::update(std::uint64_t done, std::uint64_t total) {
    std::lock_guard<std::mutex> lock(mu_);
    const auto now = std::chrono::steady_clock::now();
    if (now - last_ < std::chrono::milliseconds(100) && done < total) return;
    last_ = now;
    const double secs = std::chrono::duration<double>(now - start_).count();
    const double frac = total ? static_cast<double>(done) / static_cast<double>(total) : 0.0;
    constexpr int width = 30;
    const int filled = static_cast<int>(frac * width);
    std::string bar(static_cast<std::size_t>(filled), '#');
    bar.resize(width, '.');
    const double rate = secs > 0 ? static_cast<double>(done) / secs : 0.0;
    std::string eta = "--";
    if (rate > 0 && done < total) {
        const double left = static_cast<double>(total - done) / rate;
        char buf[32];
        std::snprintf(buf, sizeof buf, "%d:%02d", static_cast<int>(left) / 60,
                      static_cast<int>(left) % 60);
        eta = buf;
    }
    std::string speed = unit_ == "B" ? format_bytes(rate) + "/s"
                                     : format_fixed(rate * scale_, 0) + " " + unit_ + "/s";
    std::fprintf(stderr, "\r%s [%s] %5.1f%% %s ETA %s   ", label_.c_str(), bar.c_str(),
                 100.0 * frac, speed.c_str(), eta.c_str());
    std::fflush(stderr);
    drawn_ = true;
}

void progress_bar::finish() {
    std::lock_guard<std::mutex> lock(mu_);
    if (drawn_) {
        std::fprintf(stderr, "\r\033[K");
        std::fflush(stderr);
        drawn_ = false;
    }
}

input_format parse_format_option(const std::string& value) {
    if (const auto f = input_format_from_name(value)) return *f;
    throw usage_error("--format must be " + input_format_names() + ", not '" + value + "'");
}

codec_option parse_set_option(const std::string& kv) {
    const auto eq = kv.find('=');
    if (eq == std::string::npos || eq == 0)
        throw usage_error("--set expects KEY=VALUE, got '" + kv + "'");
    return {kv.substr(0, eq), kv.substr(eq + 1)};
}

int check_threads_option(int n) {
    if (n < 0 || n > max_threads)
        throw usage_error("--threads must be between 0 (all cores) and " +
                          std::to_string(max_threads) + ", not " + std::to_string(n));
    return n;
}

std::string threads_help(const char* zero_means) {
    const unsigned hw = std::thread::hardware_concurrency();
    return std::string("worker threads (0 = ") + zero_means + ": " + std::to_string(hw ? hw : 1) +
           " here; more than the cores is allowed but gains nothing)";
}

std::string format_bytes(double n) {
    const char* units[] = {"B", "kB", "MB", "GB", "TB"};
    int u = 0;
    while (std::fabs(n) >= 1000.0 && u < 4) {
        n /= 1000.0;
        ++u;
    }
    char buf[32];
    std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.2f %s", n, units[u]);
    return buf;
}

std::string format_fixed(double v, int decimals) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
    return buf;
}

std::string markdown_table(const std::vector<std::vector<std::string>>& rows) {
    if (rows.empty()) return {};
    std::vector<std::size_t> w(rows[0].size(), 3);
    for (const auto& r : rows)
        for (std::size_t i = 0; i < r.size() && i < w.size(); ++i)
            w[i] = std::max(w[i], r[i].size());
    std::string out;
    auto line = [&](const std::vector<std::string>& r) {
        out += "|";
        for (std::size_t i = 0; i < w.size(); ++i) {
            std::string c = i < r.size() ? r[i] : "";
            c.resize(w[i], ' ');
            out += " " + c + " |";
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

std::string default_output(const std::string& in, const std::string& add_suffix,
                           const std::string& strip_suffix) {
    if (!strip_suffix.empty() && in.size() > strip_suffix.size() &&
        in.compare(in.size() - strip_suffix.size(), strip_suffix.size(), strip_suffix) == 0)
        return in.substr(0, in.size() - strip_suffix.size());
    return in + add_suffix;
}

} // namespace lmgc::cli
