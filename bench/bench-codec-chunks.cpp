// Google Benchmark: every built-in codec encoding and decoding one chunk of float32 gradients,
// at the paper's 512 bytes and at 64 KiB. Calls the codec table directly (no container), so
// the numbers are the codec's own cost per chunk. Data: LMGC_BENCH_DATA=<file.npy> (its f32
// tensors), else synthetic gradient-like values.
//   build/lmgc-bench-codec-chunks [--benchmark_filter=lzma] [--benchmark_repetitions=5]
#include "codecs/codec.hpp"
#include "common/common-error.hpp"
#include "io/io-tensor-file.hpp"
#include "testutil.hpp"

#include <benchmark/benchmark.h>

#include <cstdlib>

using namespace lmgc;
using namespace lmgc::detail;

namespace {

bytes load_data() {
    const char* path = std::getenv("LMGC_BENCH_DATA");
    if (!path) return test::float_bytes(test::gradient_like(1 << 18, 1));
    const auto file = read_file(path);
    const auto pf = parse_tensor_file(file, input_format::auto_detect);
    bytes out;
    for (const auto& t : pf.tensors)
        if (t.type == dtype::f32)
            out.insert(out.end(), file.begin() + static_cast<std::ptrdiff_t>(t.offset),
                       file.begin() + static_cast<std::ptrdiff_t>(t.offset + t.nbytes));
    LMGC_CHECK(!out.empty(), errc::bad_input, path, ": no float32 tensors");
    return out;
}

const bytes& data() {
    static const bytes d = load_data();
    return d;
}

// The chunks of the data, each of chunk_bytes (the last whole one at most).
std::vector<byte_span> chunks_of(std::size_t chunk_bytes) {
    std::vector<byte_span> out;
    const auto& d = data();
    for (std::size_t at = 0; at + chunk_bytes <= d.size(); at += chunk_bytes)
        out.push_back(byte_span(d).subspan(at, chunk_bytes));
    if (out.empty()) out.push_back(byte_span(d));
    return out;
}

chunk_layout layout_for(std::size_t n, std::vector<std::int64_t>& shape) {
    chunk_layout l;
    l.type = dtype::f32;
    shape = {static_cast<std::int64_t>(n / 4)};
    l.tensors.push_back({0, n, shape});
    return l;
}

// Cycles through the chunks so that caches see realistic, varying input.
void bm_encode(benchmark::State& state, const codec_entry* e, std::size_t chunk_bytes) {
    const auto chunks = chunks_of(chunk_bytes);
    std::vector<std::int64_t> shape;
    const auto layout = layout_for(chunks[0].size(), shape);
    const auto codec = e->make(codec_config{});
    std::size_t i = 0, raw = 0;
    bytes out;
    for (auto _ : state) {
        out.clear();
        codec->encode(chunks[i], layout, out);
        raw += chunks[i].size();
        i = (i + 1) % chunks.size();
        benchmark::DoNotOptimize(out.data());
    }
    // No rate counter: it would cover only the chunks this run reached; rates come from
    // `lmgc bench codecs`, which codes every chunk.
    state.SetBytesProcessed(static_cast<std::int64_t>(raw));
}

void bm_decode(benchmark::State& state, const codec_entry* e, std::size_t chunk_bytes) {
    const auto chunks = chunks_of(chunk_bytes);
    std::vector<std::int64_t> shape;
    const auto layout = layout_for(chunks[0].size(), shape);
    const auto encoder = e->make(codec_config{});
    codec_config dcfg;
    dcfg.decoding = true;
    dcfg.recorded = encoder->params();
    const auto decoder = e->make(dcfg);
    std::vector<bytes> coded(std::min<std::size_t>(chunks.size(), 64));
    for (std::size_t k = 0; k < coded.size(); ++k) encoder->encode(chunks[k], layout, coded[k]);
    bytes out(chunks[0].size());
    std::size_t i = 0, raw = 0;
    for (auto _ : state) {
        decoder->decode(coded[i], layout, out);
        raw += out.size();
        i = (i + 1) % coded.size();
        benchmark::DoNotOptimize(out.data());
    }
    if (std::memcmp(out.data(), chunks[(i + coded.size() - 1) % coded.size()].data(), out.size()))
        state.SkipWithError("decoded bytes differ from the input");
    state.SetBytesProcessed(static_cast<std::int64_t>(raw));
}

} // namespace

int main(int argc, char** argv) {
    for (const auto& e : codec_table()) {
        if (!e.available()) continue;
        for (const std::size_t chunk : {std::size_t{512}, std::size_t{64} << 10}) {
            const std::string suffix = std::string(e.name) + "/" + std::to_string(chunk);
            benchmark::RegisterBenchmark(("encode/" + suffix).c_str(), bm_encode, &e, chunk);
            benchmark::RegisterBenchmark(("decode/" + suffix).c_str(), bm_decode, &e, chunk);
        }
    }
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
