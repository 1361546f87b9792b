// The driver behind the public API: wires io, codecs and container into one streaming
// pipeline. Compression reads each chunk's bytes from its source when a worker takes it and
// writes coded chunks in order as they finish; decompression reads each chunk's payload,
// decodes it and hands the bytes to a sink. Memory: O(threads x chunk size) plus the tensor
// index, whatever the file size (lossy --preprocess keeps its streams in memory).
// Included by src/lmgc.cpp and the pipeline's files only.
#pragma once

#include "codecs/codec.hpp"
#include "common/common-file.hpp"
#include "container/container-format.hpp"
#include "io/io-tensor-file.hpp"
#include "lmgc/lmgc.hpp"

#include <functional>

namespace lmgc::detail {

// What compression reads: a tensor file, described by its parsed regions and skeleton, whose
// bytes come from `file` (a file, a memory image, or tensors in memory made to look like a
// .safetensors file).
struct compress_input {
    const byte_source* file = nullptr;
    parsed_file parsed;
    bytes skeleton; // the file's bytes outside the tensor regions, in order
};

// Parses a tensor file into a compress_input: `view` is the whole file as memory (a mapping
// is fine: only headers are touched).
compress_input parse_input(const byte_source& file, byte_span view, const compress_params& params);

// The file decompressing in with params gives back: for lossy params, the input with its
// float tensors replaced by their reconstruction (held in memory).
bytes expected_output(const compress_input& in, const compress_params& params);

// Compresses into a format-2 .lmgc stream given to `write`. Throws lmgc::error.
compress_stats compress_stream(const compress_input& in, const compress_params& params,
                               const write_fn& write);

// Where decompressed bytes go. Calls come from worker threads, for disjoint ranges.
class decompress_sink {
  public:
    virtual ~decompress_sink() = default;
    // Called once with the validated header, before any data.
    virtual void begin(const container_header& /*h*/) {}
    // Bytes of the original file outside the tensors.
    virtual void skeleton(std::uint64_t file_offset, byte_span data) = 0;
    // Bytes of tensor `index` from byte `offset` of its data, in the original file's byte
    // order (big-endian tensors arrive swapped back).
    virtual void tensor(std::size_t index, std::uint64_t offset, byte_span data) = 0;
    // Tensors for which this returns false are not decoded (their chunks are skipped when no
    // wanted tensor shares them, and the whole-file checksum is not checked).
    virtual bool wants(std::size_t /*index*/) const { return true; }
    // Where tensor `index`'s bytes [offset, offset + size) live when the sink holds them in
    // writable memory, else nullptr. Chunks whose pieces all have a place, one after the other,
    // are decoded straight there (no copy) and tensor() is not called for them.
    virtual std::uint8_t* place(std::size_t /*index*/, std::uint64_t /*offset*/,
                                std::uint64_t /*size*/) {
        return nullptr;
    }
};

// Decodes a .lmgc file read through `in` into `sink`. Checks every chunk's checksums and,
// when everything was decoded, the whole file's. Returns the validated header.
container_header decompress_stream(const byte_source& in, const decompress_params& params,
                                   decompress_sink& sink);

} // namespace lmgc::detail
