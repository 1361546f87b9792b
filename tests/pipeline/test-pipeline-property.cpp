// Property tests over the whole input space (issue 10): random tensor files — .npy (both byte
// orders, C and Fortran order), .safetensors with several tensors, torch.save zips, raw —
// of random ranks (0-4), shapes (empty, rows longer and shorter than a chunk, (1, N), short
// last chunks), every dtype, values (gradient-like, normal at any scale, sparse with zero
// runs, constant, special bit patterns, random bits), through every codec at chunk sizes from
// the smallest allowed to larger than the data, and tensors in memory through the tensor
// API. Every case must come back byte for byte; a failure prints a one-line repro.
//
// CI runs a fixed-seed subset; scripts/property-sweep runs more (LMGC_PROPERTY_CASES,
// LMGC_PROPERTY_SEED, LMGC_PROPERTY_SECONDS).
#include "common/common-random.hpp"
#include "lmgc/lmgc.hpp"
#include "testutil.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <sstream>

using namespace lmgc;
using namespace lmgc::test;

namespace {

std::uint64_t env_u64(const char* name, std::uint64_t fallback) {
    const char* v = std::getenv(name);
    return v && *v ? std::strtoull(v, nullptr, 10) : fallback;
}

class rng_t {
  public:
    explicit rng_t(std::uint64_t seed) : g_(seed) {}
    std::uint64_t next() { return g_.next(); }
    std::uint64_t below(std::uint64_t n) { return n ? next() % n : 0; }
    double unit() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
    bool chance(double p) { return unit() < p; }
    double gauss() { // Box-Muller, enough for test data
        const double u = std::max(unit(), 1e-300), v = unit();
        return std::sqrt(-2 * std::log(u)) * std::cos(6.283185307179586 * v);
    }
    template <typename T> const T& pick(const std::vector<T>& v) { return v[below(v.size())]; }

  private:
    detail::xoshiro256ss g_;
};

struct dtype_spec {
    dtype type;
    const char* npy; // little-endian descr ('' = none in .npy)
    const char* st;  // safetensors code
    const char* torch;
};
const std::vector<dtype_spec> dtypes = {
    {dtype::f32, "<f4", "F32", "FloatStorage"},     {dtype::f16, "<f2", "F16", "HalfStorage"},
    {dtype::bf16, "", "BF16", "BFloat16Storage"},   {dtype::f64, "<f8", "F64", "DoubleStorage"},
    {dtype::i64, "<i8", "I64", "LongStorage"},      {dtype::i32, "<i4", "I32", "IntStorage"},
    {dtype::i8, "|i1", "I8", "CharStorage"},        {dtype::u8, "|u1", "U8", "ByteStorage"},
    {dtype::boolean, "|b1", "BOOL", "BoolStorage"},
};

// Values of one tensor, little-endian.
bytes values(rng_t& r, dtype t, std::uint64_t n, std::string& kind) {
    const std::size_t es = dtype_size(t);
    bytes out(n * es);
    if (t == dtype::boolean) {
        kind = "bool";
        for (auto& b : out) b = r.chance(0.3);
        return out;
    }
    if (!dtype_is_float(t)) {
        kind = "ints";
        const int bits = static_cast<int>(r.below(8 * es)) + 1;
        for (std::uint64_t i = 0; i < n; ++i) {
            const std::uint64_t v = r.chance(0.3) ? 0 : r.next() >> (64 - bits);
            std::memcpy(out.data() + i * es, &v, es);
        }
        return out;
    }
    const std::vector<std::string> kinds = {"gradient", "normal", "sparse", "constant", "special",
                                            "bits"};
    kind = r.pick(kinds);
    const double scale = std::pow(10.0, -static_cast<double>(r.below(8)));
    const double c = r.gauss();
    const auto grads = kind == "gradient" ? gradient_like(n, r.next()) : std::vector<float>{};
    std::uint64_t zero_run = 0;
    for (std::uint64_t i = 0; i < n; ++i) {
        std::uint8_t* p = out.data() + i * es;
        if (kind == "bits") {
            const std::uint64_t v = r.next();
            std::memcpy(p, &v, es);
            continue;
        }
        double x = kind == "constant" ? c : kind == "gradient" ? grads[i] : r.gauss() * scale;
        if (kind == "sparse") {
            if (zero_run == 0 && r.chance(0.02)) zero_run = r.below(300);
            if (zero_run) --zero_run, x = 0;
            else if (r.chance(0.3)) x = 0;
        }
        if (kind == "special" && r.chance(0.1)) {
            const double sp[] = {NAN, INFINITY, -INFINITY, 0.0, -0.0, 1e-40, -1e-45, 3.4e38, 1e-310};
            x = sp[r.below(9)];
        }
        switch (t) {
        case dtype::f64:
            std::memcpy(p, &x, 8);
            break;
        case dtype::f32: {
            const float f = static_cast<float>(x);
            std::memcpy(p, &f, 4);
            break;
        }
        case dtype::bf16: {
            const float f = static_cast<float>(x);
            std::uint32_t u;
            std::memcpy(&u, &f, 4);
            const auto h = static_cast<std::uint16_t>(u >> 16);
            std::memcpy(p, &h, 2);
            break;
        }
        default: { // f16 via _Float16
            const _Float16 h = static_cast<_Float16>(x);
            std::memcpy(p, &h, 2);
            break;
        }
        }
        if (kind == "special" && r.chance(0.02)) { // a NaN with a payload
            const std::uint64_t nan_bits = r.next() | (std::uint64_t{0x7ff8} << 48);
            std::memcpy(p, &nan_bits, es); // any pattern: bits are bits
        }
    }
    return out;
}

// A shape of about `want` values (rank 0-4), often with rows near the chunk size.
std::vector<std::int64_t> shape_of(rng_t& r, std::uint64_t chunk_values) {
    const auto rank = r.below(5);
    if (rank == 0) return {};
    if (r.chance(0.3)) { // rows around the chunk size: longer or shorter than a chunk
        const auto row = static_cast<std::int64_t>(
            std::max<double>(1, static_cast<double>(chunk_values) * (0.3 + 2.2 * r.unit()) +
                                    static_cast<double>(r.below(7)) - 3));
        return {static_cast<std::int64_t>(1 + r.below(3)), row};
    }
    const std::vector<std::uint64_t> totals = {0, 1, 7, 1 + r.below(5000),
                                               1 + r.below(3 * chunk_values + 5)};
    const auto total = r.pick(totals);
    std::vector<std::int64_t> dims(rank, 1);
    for (int k = 0; k < 20; ++k) {
        const auto i = r.below(rank);
        const auto f = 2 + r.below(38);
        std::uint64_t prod = 1;
        for (const auto d : dims) prod *= static_cast<std::uint64_t>(d);
        if (prod * f > std::max<std::uint64_t>(total, 1)) break;
        dims[i] *= static_cast<std::int64_t>(f);
    }
    if (total == 0) dims[r.below(rank)] = 0;
    return dims;
}

// "t3", "layer3.weight": built with append (GCC 12 warns falsely on literal + to_string).
std::string name_of(const char* prefix, std::uint64_t k, const char* suffix = "") {
    std::string s = prefix;
    s.append(std::to_string(k)).append(suffix);
    return s;
}

std::uint64_t elements(const std::vector<std::int64_t>& s) {
    std::uint64_t n = 1;
    for (const auto d : s) n *= static_cast<std::uint64_t>(d);
    return n;
}

std::string shape_text(const std::vector<std::int64_t>& s) {
    std::ostringstream os;
    os << "(";
    for (std::size_t i = 0; i < s.size(); ++i) os << (i ? "," : "") << s[i];
    os << ")";
    return os.str();
}

struct generated {
    bytes file;
    input_format format = input_format::auto_detect;
    std::string what;
};

generated make_file(rng_t& r, std::uint64_t chunk_values) {
    generated g;
    const auto kind = r.below(10);
    std::ostringstream what;
    if (kind < 4) { // .npy
        std::vector<dtype_spec> ok;
        for (const auto& d : dtypes)
            if (*d.npy) ok.push_back(d);
        const auto& d = r.pick(ok);
        const auto shape = shape_of(r, chunk_values);
        std::string vk;
        auto data = values(r, d.type, elements(shape), vk);
        std::string descr = d.npy;
        const bool big = dtype_size(d.type) > 1 && r.chance(0.3);
        if (big) {
            descr[0] = '>';
            detail::swap_bytes_inplace(data, dtype_size(d.type));
        }
        const bool fortran = shape.size() >= 2 && r.chance(0.3);
        g.file = make_npy(descr, shape, data, fortran, 1 + static_cast<int>(r.below(3)));
        what << "npy " << descr << shape_text(shape) << (fortran ? " F" : "") << " " << vk;
    } else if (kind < 7) { // .safetensors, several tensors
        std::vector<st_tensor> ts;
        what << "safetensors";
        const auto n = 1 + r.below(5);
        for (std::uint64_t k = 0; k < n; ++k) {
            const auto& d = r.pick(dtypes);
            const auto shape = shape_of(r, chunk_values);
            std::string vk;
            ts.push_back({name_of("t", k), d.st, shape, values(r, d.type, elements(shape), vk)});
            what << " " << d.st << shape_text(shape) << ":" << vk;
        }
        g.file = make_safetensors(ts, r.chance(0.5) ? std::vector<std::pair<std::string, std::string>>{{"k", "v"}}
                                                    : std::vector<std::pair<std::string, std::string>>{});
    } else if (kind < 9) { // torch.save
        std::vector<torch_tensor> ts;
        what << "torch";
        const auto n = 1 + r.below(4);
        for (std::uint64_t k = 0; k < n; ++k) {
            const auto& d = r.pick(dtypes);
            auto shape = shape_of(r, chunk_values);
            std::string vk;
            ts.push_back({name_of("layer", k, ".weight"), d.torch, shape,
                          values(r, d.type, elements(shape), vk)});
            what << " " << d.torch << shape_text(shape) << ":" << vk;
        }
        g.file = make_torch_file(ts, static_cast<std::int64_t>(r.below(100000)));
    } else { // raw float32
        const auto n = r.below(3 * chunk_values + 10);
        std::string vk;
        g.file = values(r, dtype::f32, n, vk);
        g.format = input_format::raw;
        what << "raw f32 [" << n << "] " << vk;
    }
    g.what = what.str();
    return g;
}

// Every built codec at its defaults, and as "level:N" each level whose settings differ from
// its codec's defaults and from a lower level's (fast without lag classes, cm's mantissa bits).
std::vector<std::string> built_codecs() {
    std::vector<std::string> out;
    for (const auto& c : list_codecs())
        if (c.available && !c.needs_model) out.push_back(c.name);
    std::vector<std::pair<std::string, std::vector<codec_option>>> seen;
    for (const auto& l : list_levels()) {
        const std::pair<std::string, std::vector<codec_option>> key{l.codec, l.codec_params};
        if (l.codec_params.empty() || std::find(seen.begin(), seen.end(), key) != seen.end())
            continue;
        seen.push_back(key);
        out.push_back("level:" + std::to_string(l.level));
    }
    return out;
}

// Sets p's codec, or its level for "level:N".
void use_codec(compress_params& p, const std::string& codec) {
    if (codec.rfind("level:", 0) == 0)
        p.level = std::stoi(codec.substr(6));
    else
        p.codec = codec;
}

} // namespace

TEST(property, random_files_round_trip_through_every_codec) {
    const auto seed = env_u64("LMGC_PROPERTY_SEED", 20261130);
    const auto n_cases = env_u64("LMGC_PROPERTY_CASES", 600);
    const auto seconds = env_u64("LMGC_PROPERTY_SECONDS", 0); // 0: no time limit
    const auto codecs = built_codecs();
    const auto t0 = std::chrono::steady_clock::now();
    const temp_dir tmp;
    int failures = 0;
    std::uint64_t done = 0;
    for (std::uint64_t i = 0; i < n_cases; ++i) {
        if (seconds && std::chrono::steady_clock::now() - t0 > std::chrono::seconds(seconds)) break;
        rng_t r(seed * 1000003 + i);
        const std::string codec = r.pick(codecs);
        // Chunk sizes from the smallest allowed to larger than the data; or the codec's.
        const std::vector<std::uint64_t> chunks = {0, 8, 12, 64, 100, 512, 1000, 4096, 65536, 1 << 20};
        const std::uint64_t chunk = r.chance(0.3) ? 0 : r.pick(chunks);
        const bool unchunked = chunk == 0 && r.chance(0.2);
        const auto g = make_file(r, std::max<std::uint64_t>(chunk ? chunk : 65536, 8) / 4);
        auto p = default_compress_params();
        use_codec(p, codec);
        p.chunk_bytes = unchunked ? 0 : chunk;
        p.unchunked = unchunked;
        p.format = g.format;
        p.n_threads = static_cast<int>(1 + r.below(3));
        p.verify = r.chance(0.2);
        std::ostringstream repro;
        repro << "seed " << seed << " case " << i << ": " << g.what << " codec=" << codec
              << " chunk=" << (unchunked ? std::string("unchunked") : std::to_string(chunk))
              << " threads=" << p.n_threads;
        try {
            const auto image = compress(g.file, p);
            auto dp = default_decompress_params();
            dp.n_threads = static_cast<int>(1 + r.below(3));
            const auto back = decompress(image, dp);
            if (back != g.file) {
                ADD_FAILURE() << "WRONG BYTES: " << repro.str();
                ++failures;
            }
            // Into the caller's memory (one case in five), filled with a pattern first: every
            // byte must be written.
            if (i % 5 == 2) {
                bytes into(g.file.size(), 0xa5);
                decompress_into(image, into, dp);
                if (into != g.file) {
                    ADD_FAILURE() << "WRONG BYTES into the caller's memory: " << repro.str();
                    ++failures;
                }
            }
            // In memory, chunks decode straight into the result where they can; to a file,
            // through chunk buffers: both ways must give the file.
            if (r.chance(0.2)) {
                write_bytes(tmp.file("in.lmgc"), image);
                decompress_file(tmp.file("in.lmgc"), tmp.file("out"), dp, true);
                if (read_bytes(tmp.file("out")) != g.file) {
                    ADD_FAILURE() << "WRONG BYTES through a file: " << repro.str();
                    ++failures;
                }
            }
            (void)inspect(image);
        } catch (const error& e) {
            // Integer tensors of a float-only codec go to the byte codec; nothing else may
            // refuse a valid file.
            ADD_FAILURE() << "refused (" << errc_name(e.code()) << "): " << e.what() << ": "
                          << repro.str();
            ++failures;
        }
        ++done;
        if (failures >= 5) break;
    }
    std::printf("property: %llu cases (seed %llu)\n", static_cast<unsigned long long>(done),
                static_cast<unsigned long long>(seed));
    EXPECT_GT(done, 0u);
}

TEST(property, decompress_into_wants_the_exact_size_and_leaves_other_sizes_untouched) {
    rng_t r(7);
    const auto g = make_file(r, 1000);
    auto p = default_compress_params();
    p.format = g.format;
    p.chunk_bytes = 4096;
    const auto image = compress(g.file, p);
    ASSERT_GT(g.file.size(), 1u) << g.what;
    ASSERT_EQ(inspect(image).original_bytes, g.file.size());
    for (const std::size_t size : {std::size_t{0}, g.file.size() - 1, g.file.size() + 1}) {
        bytes into(size, 0xa5);
        try {
            decompress_into(image, into, default_decompress_params());
            ADD_FAILURE() << "a " << size << "-byte output was taken for " << g.file.size();
        } catch (const error& e) {
            EXPECT_EQ(e.code(), errc::usage) << e.what();
            EXPECT_NE(std::string(e.what()).find(std::to_string(g.file.size())),
                      std::string::npos)
                << e.what();
        }
        EXPECT_EQ(into, bytes(size, 0xa5)) << "written before the size was checked";
    }
    bytes into(g.file.size());
    decompress_into(image, into, default_decompress_params());
    EXPECT_EQ(into, g.file) << g.what;
}

TEST(property, random_tensor_sets_round_trip_through_the_tensor_api) {
    const auto seed = env_u64("LMGC_PROPERTY_SEED", 20261130);
    const auto n_cases = env_u64("LMGC_PROPERTY_CASES", 600) / 3;
    const auto codecs = built_codecs();
    for (std::uint64_t i = 0; i < n_cases; ++i) {
        rng_t r(seed * 7919 + i);
        const std::string codec = r.pick(codecs);
        const std::vector<std::uint64_t> chunks = {0, 8, 512, 4096, 65536};
        const std::uint64_t chunk = r.pick(chunks);
        std::vector<bytes> data;
        std::vector<tensor_ref> refs;
        std::ostringstream what;
        const auto n = r.below(5);
        for (std::uint64_t k = 0; k < n; ++k) {
            const auto& d = r.pick(dtypes);
            auto shape = shape_of(r, std::max<std::uint64_t>(chunk, 64) / 4);
            std::string vk;
            data.push_back(values(r, d.type, elements(shape), vk));
            refs.push_back({name_of("t", k), d.type, shape, data.back().data()});
            what << " " << dtype_name(d.type) << shape_text(shape) << ":" << vk;
        }
        for (std::size_t k = 0; k < refs.size(); ++k) refs[k].data = data[k].data();
        std::ostringstream repro;
        repro << "seed " << seed << " tensor case " << i << ":" << what.str() << " codec=" << codec
              << " chunk=" << chunk;
        auto p = default_compress_params();
        use_codec(p, codec);
        p.chunk_bytes = chunk;
        const metadata_t meta = {{"step", std::to_string(i)}};
        try {
            const auto image = compress_tensors(refs, p, meta);
            std::vector<bytes> back(refs.size());
            std::size_t next = 0;
            const auto hdr = decompress_tensors(
                image, default_decompress_params(), [&](const tensor_info& t) -> void* {
                    EXPECT_LT(next, back.size());
                    back[next].assign(t.nbytes, 0xAB);
                    return back[next++].data();
                });
            ASSERT_EQ(hdr.tensors.size(), refs.size()) << repro.str();
            EXPECT_EQ(hdr.metadata, meta) << repro.str();
            for (std::size_t k = 0; k < refs.size(); ++k) {
                EXPECT_EQ(hdr.tensors[k].name, refs[k].name) << repro.str();
                EXPECT_EQ(hdr.tensors[k].type, refs[k].type) << repro.str();
                EXPECT_EQ(hdr.tensors[k].shape, refs[k].shape) << repro.str();
                EXPECT_EQ(back[k], data[k]) << "WRONG BYTES in " << refs[k].name << ": "
                                            << repro.str();
            }
            // The same stream decompresses to a .safetensors file lmgc reads back.
            const auto st = decompress(image, default_decompress_params());
            auto p2 = default_compress_params();
            p2.codec = "store";
            EXPECT_EQ(decompress(compress(st, p2), default_decompress_params()), st);
        } catch (const error& e) {
            ADD_FAILURE() << "refused: " << e.what() << ": " << repro.str();
        }
    }
}
