// Lossy preprocessing before coding (the paper's combinations with sparsification and
// quantization): `sparsify:P`, `topk:P`, `quantize:B`, chained with '+'. Unlike the paper, all
// side information (seed, mask, range) is stored, so decompression rebuilds exactly the lossy
// tensor the encoder measured. Used by the driver (src/lmgc.cpp) and tests.
#pragma once

#include "common/common-bytes.hpp"
#include "common/common-dtype.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace lmgc::detail {

struct preprocess_step {
    enum class kind : std::uint8_t { sparsify, topk, quantize };
    kind op = kind::sparsify;
    std::uint32_t ppm = 0; // sparsify/topk: kept share in parts per million
    unsigned bits = 0;     // quantize: 1..16
};

// Parses "sparsify:10+quantize:8". Throws usage errors naming the bad part. At most one
// quantize, and it must come last (after it the values are integer codes).
std::vector<preprocess_step> parse_preprocess(std::string_view spec);

// What one float tensor becomes.
struct preprocessed_tensor {
    bytes stream;        // the representation to code: kept values (original dtype) or codes
    dtype stream_type;   // the tensor's dtype, or u8/u16 codes after quantize
    bytes side_info;     // per-tensor side information (mask, range)
    bytes reconstructed; // the lossy tensor in the original dtype, what decompression gives
};

// Applies the steps to a little-endian float tensor (f64/f32/f16/bf16). The seed drives
// `sparsify`; tensor_index decorrelates tensors. Throws bad_input for non-finite values
// under quantize.
preprocessed_tensor preprocess_forward(byte_span data, dtype type,
                                       const std::vector<preprocess_step>& steps,
                                       std::uint64_t seed, std::uint64_t tensor_index);

// The representation type a tensor of this dtype gets (without looking at the data).
dtype preprocess_stream_type(dtype type, const std::vector<preprocess_step>& steps);

// Rebuilds the lossy tensor (original dtype, little-endian, n_elements values) from its
// representation and side information. Treats both as hostile: throws corrupt on any
// inconsistency.
bytes preprocess_inverse(byte_span stream, byte_span side_info, dtype type,
                         std::uint64_t n_elements, const std::vector<preprocess_step>& steps,
                         std::uint64_t seed, std::uint64_t tensor_index);

// Bytes the representation of n elements takes after the steps (for checking and rates).
std::uint64_t preprocess_stream_bytes(dtype type, std::uint64_t n_elements,
                                      const std::vector<preprocess_step>& steps);

} // namespace lmgc::detail
