// Fuzz target: arbitrary bytes into the .safetensors parser.
#include "fuzz-io-parsers.inc"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    check_parser(data, size, [](detail::byte_span f) { return detail::parse_safetensors(f); });
    return 0;
}
