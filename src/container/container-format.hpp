// The .lmgc container (docs/format.md): magic, version, a checksummed header with the
// codec settings, tensor manifest and chunk table, then the chunk payloads and an end
// marker. Field names follow the spec. Included by the driver and tests.
#pragma once

#include "common/common-bytes.hpp"
#include "common/common-dtype.hpp"
#include "io/io-tensor-file.hpp"
#include "lmgc/lmgc.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace lmgc::detail {

constexpr std::uint8_t container_magic[8] = {0x89, 'L', 'M', 'G', 'C', '\r', '\n', 0x1a};
constexpr std::uint8_t container_end_marker[8] = {'L', 'M', 'G', 'C', '-', 'E', 'N', 'D'};
constexpr unsigned container_major = 1;
constexpr unsigned container_minor = 0;

struct container_stream {
    std::string codec;
    std::vector<codec_option> params;
    dtype type = dtype::u8;
    std::uint64_t raw_bytes = 0;
    std::uint64_t chunk_bytes = 0; // 0: one chunk
};

struct container_tensor {
    std::string name;
    dtype type = dtype::u8;
    std::vector<std::int64_t> shape;
    bool big_endian = false;
    bool fortran_order = false;
    std::uint64_t file_offset = 0;
    std::uint64_t nbytes = 0; // in the original file
    std::uint32_t stream = 0;
    std::uint64_t stream_bytes = 0;  // its share of the stream (== nbytes when lossless)
    std::uint64_t stream_offset = 0; // derived on read: where it starts in its stream
};

struct container_chunk {
    std::uint32_t stream = 0;
    std::uint64_t raw_bytes = 0;
    std::uint64_t coded_bytes = 0;
    std::uint32_t crc32c = 0;        // of the raw bytes
    std::uint64_t stream_offset = 0; // derived on read
};

struct container_header {
    unsigned major = container_major;
    unsigned minor = container_minor;
    source_format format = source_format::raw;
    std::uint64_t original_bytes = 0;
    std::uint32_t original_crc32c = 0;
    bytes skeleton;
    std::string preprocess; // "" when lossless
    bytes preprocess_info;  // side information of the lossy preprocessing
    std::vector<container_stream> streams;
    std::vector<container_tensor> tensors;
    std::vector<container_chunk> chunks;
};

// Serializes header and payloads (one per chunk, same order) into a .lmgc image.
bytes write_container(const container_header& header, std::span<const bytes> payloads);

struct container_view {
    container_header header;
    std::vector<byte_span> payloads; // one per chunk, pointing into the image
    std::uint64_t header_bytes = 0;  // magic + version + header + crc
};

// Parses and validates an image; every field is treated as hostile. Throws
// lmgc::error(corrupt | unsupported) with a one-line reason.
container_view read_container(byte_span image);

} // namespace lmgc::detail
