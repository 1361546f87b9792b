// The io stage: finds the tensor data inside a tensor file (.npy, .safetensors, torch.save,
// raw) without copying it. A file is modelled as tensor regions plus everything else (the
// "skeleton": headers, JSON, pickles), so any format round-trips byte for byte.
// Included by the driver (src/lmgc.cpp), container and tests.
#pragma once

#include "common/common-bytes.hpp"
#include "common/common-dtype.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace lmgc::detail {

// Stored in .lmgc headers: never renumber.
enum class source_format : std::uint8_t { npy = 1, safetensors = 2, torch = 3, raw = 4 };
std::string_view source_format_name(source_format f) noexcept;

struct tensor_region {
    std::string name;
    dtype type = dtype::u8;
    std::vector<std::int64_t> shape;
    std::uint64_t offset = 0; // in the original file
    std::uint64_t nbytes = 0;
    bool big_endian = false;    // stored byte-swapped in the file; coded little-endian
    bool fortran_order = false; // informational: column-major element order
};

struct parsed_file {
    source_format format = source_format::raw;
    std::vector<tensor_region> tensors; // sorted by offset, disjoint, inside the file
};

struct read_options {
    bool u2_as_bf16 = false; // .npy '<u2' arrays hold bfloat16 bit patterns
};

// Each parser validates every header field against the file size. Errors:
// lmgc::error(bad_input, "<format>: <what is wrong>").
parsed_file parse_npy(byte_span file, const read_options& opt = {});
parsed_file parse_safetensors(byte_span file);
parsed_file parse_torch(byte_span file);
parsed_file parse_raw_f32(byte_span file);
// True for the legacy (pre-1.6, non-zip) torch.save format, which parse_torch refuses with
// a message saying so.
bool looks_like_legacy_torch(byte_span file);

// The format a file's first bytes announce (npy magic, zip magic or the legacy torch
// magic, a safetensors header length followed by '{'), or nullopt. Needs at most
// sniff_prefix_bytes; raw float32 is never guessed.
constexpr std::size_t sniff_prefix_bytes = 16;
std::optional<input_format> sniff_format(byte_span prefix);

// Picks the parser from the file's first bytes (sniff_format).
// Raw float32 is never guessed: ask for it with input_format::raw.
parsed_file parse_tensor_file(byte_span file, input_format format, const read_options& opt = {});

// Checks the invariants of parsed_file (sorted, disjoint, in bounds, sizes match shapes).
void validate_regions(const parsed_file& pf, std::uint64_t file_size);

// The file's bytes outside the tensor regions, concatenated.
bytes extract_skeleton(byte_span file, const std::vector<tensor_region>& tensors);

// Product of a shape's dimensions; throws bad_input on negative dimensions or overflow.
std::uint64_t shape_elements(const std::vector<std::int64_t>& shape, std::string_view what);

} // namespace lmgc::detail
