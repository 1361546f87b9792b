// Fuzz target: arbitrary bytes into the torch.save reader (zip directory and pickle), and
// into format detection.
#include "fuzz-io-parsers.inc"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    check_parser(data, size, [](detail::byte_span f) { return detail::parse_torch(f); });
    check_parser(data, size, [](detail::byte_span f) {
        return detail::parse_tensor_file(f, input_format::auto_detect);
    });
    return 0;
}
