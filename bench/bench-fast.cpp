// The "fast" codec next to its references, timed in one run on the same chunks: memcpy (the
// ceiling), zstd level 1 (the libzstd API on the chunk's bytes) and fast. One thread; the
// clock is the process's CPU time (CLOCK_PROCESS_CPUTIME_ID), so a loaded machine slows the
// numbers less than wall time would; each method runs once to warm up, then --repeat times,
// the methods taking turns. Prints MB/s of raw bytes per CPU second (median and best) and the
// rates (coded / raw, payloads only), per file and element type. Every fast chunk is decoded
// and compared bit for bit. Calls the codec table directly (no container, no checksums).
//
//   lmgc-bench-fast FILE... [--chunk-bytes N] [--repeat N] [--codec NAME] [--set K=V]...
//                   [--totals]
// (--set: a codec setting, e.g. lag_classes=0 for level 1; --totals: only the lines of all
// files together.)
//
// Files: anything lmgc reads (.npy, .safetensors, torch.save); their float tensors of each
// element type are concatenated, as lmgc does, then cut into chunks (default: the codec's).
#include "codecs/codec.hpp"
#include "common/common-error.hpp"
#include "io/io-tensor-file.hpp"

#include <zstd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <map>
#include <string>
#include <vector>

using namespace lmgc;
using namespace lmgc::detail;

namespace {

double cpu_seconds() {
    timespec ts{};
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

struct timing {
    std::vector<double> enc, dec;
};

struct result {
    std::string label;
    double raw_mb = 0;
    std::map<std::string, double> coded; // method -> payload bytes
    std::map<std::string, timing> t;
};

constexpr const char* methods[] = {"memcpy", "zstd-1", "fast"};

result run_stream(const std::string& label, dtype type, const bytes& data, std::uint64_t chunk,
                  int repeat, const codec_entry& codec, const std::vector<codec_option>& options) {
    std::vector<byte_span> chunks;
    for (std::size_t at = 0; at < data.size(); at += chunk)
        chunks.push_back(
            byte_span(data).subspan(at, std::min<std::size_t>(chunk, data.size() - at)));
    std::vector<std::int64_t> shape = {static_cast<std::int64_t>(data.size() / dtype_size(type))};
    codec_config ecfg;
    ecfg.options = options;
    const auto enc = codec.make(ecfg);
    codec_config dcfg;
    dcfg.decoding = true;
    dcfg.options = options; // decoder settings (simd=0), where the codec has any
    dcfg.recorded = enc->params();
    const auto dec = codec.make(dcfg);

    result res;
    res.label = label;
    res.raw_mb = static_cast<double>(data.size()) / 1e6;
    std::vector<bytes> coded(chunks.size()), zcoded(chunks.size());
    bytes copy(chunk), back(chunk);
    ZSTD_CCtx* zc = ZSTD_createCCtx();
    ZSTD_DCtx* zd = ZSTD_createDCtx();
    for (auto& z : zcoded) z.resize(ZSTD_compressBound(chunk));
    std::size_t sink = 0;
    for (int r = 0; r <= repeat; ++r) {
        for (const char* m : methods) {
            const std::string name = m;
            double t0 = cpu_seconds(), t1 = 0, t2 = 0;
            if (name == "memcpy") {
                for (const auto& c : chunks)
                    std::memcpy(copy.data(), c.data(), c.size()), sink += copy[0];
                t1 = cpu_seconds();
                for (const auto& c : chunks)
                    std::memcpy(back.data(), copy.data(), c.size()), sink += back[0];
            } else if (name == "zstd-1") {
                for (std::size_t k = 0; k < chunks.size(); ++k) {
                    const auto n = ZSTD_compressCCtx(zc, zcoded[k].data(), zcoded[k].capacity(),
                                                     chunks[k].data(), chunks[k].size(), 1);
                    LMGC_CHECK(!ZSTD_isError(n), errc::internal, ZSTD_getErrorName(n));
                    zcoded[k].resize(n);
                }
                t1 = cpu_seconds();
                for (std::size_t k = 0; k < chunks.size(); ++k) {
                    const auto n = ZSTD_decompressDCtx(zd, back.data(), chunks[k].size(),
                                                       zcoded[k].data(), zcoded[k].size());
                    LMGC_CHECK(n == chunks[k].size(), errc::internal, "zstd round trip failed");
                    sink += back[0];
                }
            } else {
                chunk_layout layout;
                layout.type = type;
                for (std::size_t k = 0; k < chunks.size(); ++k) {
                    coded[k].clear();
                    enc->encode(chunks[k], layout, coded[k]);
                }
                t1 = cpu_seconds();
                for (std::size_t k = 0; k < chunks.size(); ++k) {
                    dec->decode(coded[k], layout, std::span(back).first(chunks[k].size()));
                    if (r == 0)
                        LMGC_CHECK(std::memcmp(back.data(), chunks[k].data(), chunks[k].size()) ==
                                       0,
                                   errc::internal, codec.name, ": chunk ", k, " of ", label,
                                   " did not decode back bit-exactly");
                }
            }
            t2 = cpu_seconds();
            if (r > 0) {
                res.t[name].enc.push_back(t1 - t0);
                res.t[name].dec.push_back(t2 - t1);
            }
        }
        for (auto& z : zcoded) z.resize(z.capacity());
    }
    double zsum = 0, fsum = 0;
    for (std::size_t k = 0; k < chunks.size(); ++k) {
        zsum += static_cast<double>(ZSTD_compressCCtx(zc, zcoded[k].data(), zcoded[k].size(),
                                                      chunks[k].data(), chunks[k].size(), 1));
        fsum += static_cast<double>(coded[k].size());
    }
    res.coded["memcpy"] = static_cast<double>(data.size());
    res.coded["zstd-1"] = zsum;
    res.coded["fast"] = fsum;
    ZSTD_freeCCtx(zc);
    ZSTD_freeDCtx(zd);
    if (sink == 42) std::printf(" ");
    return res;
}

void print(const result& r, const char* codec_name) {
    for (const char* m : methods) {
        const auto& t = r.t.at(m);
        const double me = median(t.enc), md = median(t.dec);
        const double be = *std::min_element(t.enc.begin(), t.enc.end());
        const double bd = *std::min_element(t.dec.begin(), t.dec.end());
        std::printf("%-34s %-8s %9.2f %8.3f %8.0f/%-8.0f %8.0f/%-8.0f\n", r.label.c_str(),
                    std::string(m) == "fast" ? codec_name : m, r.raw_mb,
                    100.0 * r.coded.at(m) / (r.raw_mb * 1e6), r.raw_mb / me, r.raw_mb / be,
                    r.raw_mb / md, r.raw_mb / bd);
    }
}

} // namespace

int main(int argc, char** argv) {
    std::vector<std::string> files;
    std::uint64_t chunk = 0;
    int repeat = 5;
    std::string codec_name = "fast";
    bool totals_only = false;
    std::vector<codec_option> options;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto next = [&]() -> std::string {
            if (i + 1 >= argc) {
                std::fprintf(stderr, "%s needs a value\n", a.c_str());
                std::exit(2);
            }
            return argv[++i];
        };
        if (a == "--chunk-bytes")
            chunk = std::strtoull(next().c_str(), nullptr, 10);
        else if (a == "--repeat")
            repeat = std::max(1, std::atoi(next().c_str()));
        else if (a == "--codec")
            codec_name = next();
        else if (a == "--set") {
            const std::string kv = next();
            const auto eq = kv.find('=');
            if (eq == std::string::npos || eq == 0) {
                std::fprintf(stderr, "--set needs KEY=VALUE, not '%s'\n", kv.c_str());
                return 2;
            }
            options.push_back({kv.substr(0, eq), kv.substr(eq + 1)});
        } else if (a == "--totals")
            totals_only = true;
        else if (a == "-h" || a == "--help") {
            std::printf("usage: lmgc-bench-fast FILE... [--chunk-bytes N] [--repeat N] "
                        "[--codec NAME] [--set K=V]... [--totals]\n");
            return 0;
        } else
            files.push_back(a);
    }
    if (files.empty()) {
        std::fprintf(stderr, "no input files (see --help)\n");
        return 2;
    }
    try {
        const auto& codec = find_codec(codec_name);
        check_options(codec, options);
        if (!chunk) chunk = codec.default_chunk_bytes;
        std::printf("one thread, CPU time, %d runs after a warm-up, chunks of %llu bytes\n", repeat,
                    static_cast<unsigned long long>(chunk));
        std::printf("%-34s %-8s %9s %8s %17s %17s\n", "file (element type)", "method", "MB",
                    "rate %", "comp MB/s med/best", "dec MB/s med/best");
        std::map<std::string, result> totals; // per element type
        for (const auto& f : files) {
            const auto file = read_file(f);
            const auto pf = parse_tensor_file(file, input_format::auto_detect);
            std::map<dtype, bytes> streams;
            for (const auto& t : pf.tensors) {
                if (!codec.supports(t.type) || t.big_endian) continue;
                auto& s = streams[t.type];
                s.insert(s.end(), file.begin() + static_cast<std::ptrdiff_t>(t.offset),
                         file.begin() + static_cast<std::ptrdiff_t>(t.offset + t.nbytes));
            }
            const auto base = f.substr(f.find_last_of('/') + 1);
            for (const auto& [type, data] : streams) {
                if (data.empty()) continue;
                const auto label = base + " (" + std::string(dtype_name(type)) + ")";
                const auto r = run_stream(label, type, data, chunk, repeat, codec, options);
                if (!totals_only || files.size() == 1) print(r, codec_name.c_str());
                auto& tot = totals[std::string(dtype_name(type))];
                tot.label = "all files (" + std::string(dtype_name(type)) + ")";
                tot.raw_mb += r.raw_mb;
                for (const auto& [m, c] : r.coded) tot.coded[m] += c;
                for (const auto& [m, t] : r.t) {
                    auto& tt = tot.t[m];
                    tt.enc.resize(t.enc.size()), tt.dec.resize(t.dec.size());
                    for (std::size_t k = 0; k < t.enc.size(); ++k)
                        tt.enc[k] += t.enc[k], tt.dec[k] += t.dec[k];
                }
            }
        }
        if (files.size() > 1) {
            if (!totals_only) std::printf("\n");
            for (const auto& [name, r] : totals) print(r, codec_name.c_str());
        }
    } catch (const lmgc::error& e) {
        std::fprintf(stderr, "lmgc-bench-fast: %s\n", e.what());
        return 1;
    }
    return 0;
}
