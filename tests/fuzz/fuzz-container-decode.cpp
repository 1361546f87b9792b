// Fuzz target: arbitrary bytes into lmgc::decompress (and lmgc::inspect, and
// lmgc::decompress_into). Every input is either refused with an lmgc::error or decodes to
// exactly original_size bytes, the same into the caller's memory.
#include "container/container-format.hpp"
#include "fuzz-common.hpp"

using namespace lmgc;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const detail::byte_span in(data, size);
    fuzz::expect_clean([&] {
        const auto v = detail::read_container(in);
        // A few header bytes may claim gigabytes; the library allocates what the header
        // says (up to physical memory) before decoding. Keep the fuzzer's memory small.
        std::uint64_t need = v.header.original_bytes;
        for (const auto& s : v.header.streams) need += s.raw_bytes;
        if (need > (std::uint64_t{64} << 20)) return;
        const auto fi = inspect(in);
        LMGC_FUZZ_REQUIRE(fi.chunks.size() == v.header.chunks.size());
        auto p = default_decompress_params();
        p.n_threads = 1;
        const auto out = decompress(in, p);
        LMGC_FUZZ_REQUIRE(out.size() == v.header.original_bytes);
        std::vector<std::uint8_t> into(out.size(), 0xa5);
        decompress_into(in, into, p);
        LMGC_FUZZ_REQUIRE(into == out);
    });
    return 0;
}
