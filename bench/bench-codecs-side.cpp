// Side-by-side codec benchmark over the public API: for every file and codec, compresses in
// memory, decompresses, checks the bytes, and prints rate % (of the tensor data) and MB/s
// (tensor bytes per second, median of the timed runs after one warm-up).
//
//   lmgc-bench-codecs-side FILE... [--codecs cm,zstd,gzip] [--threads N] [--chunk-bytes N]
//                          [--repeat N] [--cpu] [--into] [--set KEY=VALUE]...
// --into decompresses with decompress_into into one buffer kept across the runs (a caller
// reusing its memory) instead of decompress's fresh, zero-filled result.
// --cpu times with the process's CPU time instead of wall time: on a loaded machine this is
// closer to what one dedicated core does (meaningful with --threads 1 only). MB/s columns
// give the median and, after a slash, the best run.
#include "lmgc/lmgc.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <map>
#include <string>
#include <vector>

namespace {

std::vector<std::string> split(const std::string& s, char sep) {
    std::vector<std::string> out;
    std::size_t b = 0;
    while (b <= s.size()) {
        const auto e = s.find(sep, b);
        out.push_back(s.substr(b, e == std::string::npos ? std::string::npos : e - b));
        if (e == std::string::npos) break;
        b = e + 1;
    }
    return out;
}

bool use_cpu_time = false;
bool into = false;

double now_seconds() {
    if (use_cpu_time) {
        timespec ts{};
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
        return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
    }
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

} // namespace

int main(int argc, char** argv) {
    std::vector<std::string> files, codecs;
    int threads = 1, repeat = 3;
    std::uint64_t chunk = 0;
    bool unchunked = false;
    std::vector<lmgc::codec_option> sets;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto next = [&]() -> std::string {
            if (i + 1 >= argc) {
                std::fprintf(stderr, "%s needs a value\n", a.c_str());
                std::exit(2);
            }
            return argv[++i];
        };
        if (a == "--codecs")
            codecs = split(next(), ',');
        else if (a == "--threads")
            threads = std::atoi(next().c_str());
        else if (a == "--repeat")
            repeat = std::max(1, std::atoi(next().c_str()));
        else if (a == "--chunk-bytes")
            chunk = std::strtoull(next().c_str(), nullptr, 10);
        else if (a == "--unchunked")
            unchunked = true;
        else if (a == "--cpu")
            use_cpu_time = true;
        else if (a == "--into")
            into = true;
        else if (a == "--set") {
            const auto kv = next();
            const auto eq = kv.find('=');
            sets.emplace_back(kv.substr(0, eq), eq == std::string::npos ? "" : kv.substr(eq + 1));
        } else if (a == "-h" || a == "--help") {
            std::printf("usage: lmgc-bench-codecs FILE... [--codecs a,b] [--threads N] "
                        "[--chunk-bytes N | --unchunked] [--repeat N] [--cpu] [--into] "
                        "[--set K=V]...\n");
            return 0;
        } else
            files.push_back(a);
    }
    if (files.empty()) {
        std::fprintf(stderr, "no input files (see --help)\n");
        return 2;
    }
    if (codecs.empty())
        for (const auto& c : lmgc::list_codecs())
            if (c.available && c.name != "store") codecs.push_back(c.name);

    std::printf("%-28s %-14s %10s %8s %13s %13s   (%s time, median/best)\n", "file", "codec",
                "bytes", "rate %", "comp MB/s", "dec MB/s", use_cpu_time ? "cpu" : "wall");
    std::map<std::string, std::pair<double, double>> totals; // codec -> (coded, raw)
    int failures = 0;
    for (const auto& f : files) {
        const auto data = lmgc::read_file(f);
        const auto base = f.substr(f.find_last_of('/') + 1);
        for (const auto& c : codecs) {
            try {
                auto p = lmgc::default_compress_params();
                p.codec = c;
                p.n_threads = threads;
                p.chunk_bytes = chunk;
                p.unchunked = unchunked;
                p.codec_options = sets;
                auto d = lmgc::default_decompress_params();
                d.n_threads = threads;
                lmgc::compress_stats st;
                std::vector<double> tc, td;
                std::vector<std::uint8_t> image, back;
                if (into) back.resize(data.size());
                for (int r = 0; r <= repeat; ++r) { // run 0 is the warm-up
                    double t0 = now_seconds();
                    image = lmgc::compress(data, p, &st);
                    const double c_s = now_seconds() - t0;
                    t0 = now_seconds();
                    if (into)
                        lmgc::decompress_into(image, back, d);
                    else
                        back = lmgc::decompress(image, d);
                    const double d_s = now_seconds() - t0;
                    if (r > 0) tc.push_back(c_s), td.push_back(d_s);
                }
                if (back != data) {
                    std::printf("%-28s %-14s  ROUND TRIP FAILED\n", base.c_str(), c.c_str());
                    ++failures;
                    continue;
                }
                const double mb = static_cast<double>(st.tensor_bytes) / 1e6;
                const double best_c = *std::min_element(tc.begin(), tc.end());
                const double best_d = *std::min_element(td.begin(), td.end());
                std::printf("%-28s %-14s %10llu %8.2f %6.1f/%-6.1f %6.1f/%-6.1f\n", base.c_str(),
                            c.c_str(), static_cast<unsigned long long>(image.size()),
                            st.rate_percent(), mb / median(tc), mb / best_c, mb / median(td),
                            mb / best_d);
                totals[c].first += static_cast<double>(image.size());
                totals[c].second += static_cast<double>(st.tensor_bytes);
            } catch (const lmgc::error& e) {
                std::printf("%-28s %-14s  error: %s\n", base.c_str(), c.c_str(), e.what());
                ++failures;
            }
        }
    }
    if (files.size() > 1) {
        std::printf("\n%-28s %-14s %10s %8s\n", "all files", "codec", "bytes", "rate %");
        for (const auto& c : codecs)
            if (totals.count(c))
                std::printf("%-28s %-14s %10.0f %8.2f\n", "", c.c_str(), totals[c].first,
                            100.0 * totals[c].first / totals[c].second);
    }
    return failures ? 1 : 0;
}
