// Tensors in memory as a pipeline source: a virtual .safetensors file whose header is built
// here and whose tensor bytes are read from the caller's memory when a chunk needs them.
// Included by src/lmgc.cpp and src/pipeline/.
#pragma once

#include "common/common-file.hpp"
#include "io/io-tensor-file.hpp"
#include "lmgc/lmgc.hpp"

#include <span>
#include <vector>

namespace lmgc::detail {

class tensor_set_source final : public byte_source {
  public:
    // Checks names (non-empty, unique, not "__metadata__"), dtypes, shapes and pointers;
    // throws lmgc::error(usage). The tensors' memory must outlive this object.
    tensor_set_source(std::span<const tensor_ref> tensors, const metadata_t& metadata);
    std::uint64_t size() const override { return size_; }
    void read_at(std::uint64_t offset, std::span<std::uint8_t> out) const override;
    byte_span view(std::uint64_t offset, std::uint64_t n) const override;
    const parsed_file& parsed() const { return parsed_; }
    const bytes& header() const { return header_; } // the skeleton: length + JSON

  private:
    struct part {
        const std::uint8_t* data;
        std::uint64_t offset, nbytes;
    };
    bytes header_;
    std::vector<part> parts_;
    parsed_file parsed_;
    std::uint64_t size_ = 0;
};

} // namespace lmgc::detail
