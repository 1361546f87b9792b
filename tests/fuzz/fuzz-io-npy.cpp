// Fuzz target: arbitrary bytes into the .npy parser (also with bf16-from-<u2).
#include "fuzz-io-parsers.inc"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    check_parser(data, size, [](detail::byte_span f) { return detail::parse_npy(f); });
    return 0;
}
