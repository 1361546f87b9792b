// The streams a tensor file is serialized as (one per element type, tensors in file order,
// little-endian), and the public serialize_params turned into serial_params. Used by the
// public serialize/tokenize calls (serialize-api.cpp, tokenize-api.cpp).
#pragma once

#include "io/io-tensor-file.hpp"
#include "lmgc/experimental.hpp"
#include "serialize/serialize-text.hpp"

#include <vector>

namespace lmgc::detail {

struct tensor_stream {
    dtype type = dtype::u8;
    bytes data;                              // the tensors' bytes, little-endian, concatenated
    std::vector<const tensor_region*> parts; // the tensors, in order
};

// Groups the tensors of pf as `compress` does: a stream per element type, in order of first
// appearance.
std::vector<tensor_stream> tensor_streams(byte_span file, const parsed_file& pf);
parsed_file parse_for_serialize(byte_span file, const experimental::serialize_params& params);

// Throws usage for an unknown mode name.
serial_params serial_params_from(const experimental::serialize_params& params, dtype type);

} // namespace lmgc::detail
