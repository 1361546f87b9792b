// The .lmgc container (docs/format.md): magic, version, a checksummed header with the
// codec settings and tensor manifest, the chunk payloads, then (format 2) the chunk index
// and a fixed-size footer, so a file is written front to back in one pass and read at
// offsets. Format 1 (chunk table in the header) is read too. Field names follow the spec.
// Included by the driver (src/pipeline/) and tests.
#pragma once

#include "common/common-bytes.hpp"
#include "common/common-dtype.hpp"
#include "common/common-file.hpp"
#include "io/io-tensor-file.hpp"
#include "lmgc/lmgc.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace lmgc::detail {

constexpr std::uint8_t container_magic[8] = {0x89, 'L', 'M', 'G', 'C', '\r', '\n', 0x1a};
constexpr std::uint8_t container_end_marker[8] = {'L', 'M', 'G', 'C', '-', 'E', 'N', 'D'};
constexpr unsigned container_major = 2; // what this version writes
constexpr unsigned container_minor = 0;
// magic, major, minor, header_size
constexpr std::size_t container_prefix_bytes = 8 + 2 + 2 + 4;
// format 2: index_offset u64, index_size u64, index_crc32c u32, end marker
constexpr std::size_t container_footer_bytes = 8 + 8 + 4 + 8;
// Raw bytes of one chunk at most (encoder and decoder): memory per chunk in flight.
constexpr std::uint64_t container_chunk_max = std::uint64_t{1} << 30;

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
    std::uint32_t coded_crc32c = 0;  // of the payload (format 2; format 1 has one for all)
    std::uint64_t stream_offset = 0; // derived on read
    std::uint64_t file_offset = 0;   // derived on read: where its payload starts
};

struct container_header {
    unsigned major = container_major;
    unsigned minor = container_minor;
    source_format format = source_format::raw;
    int level = 0; // format 2: the compression level asked for (0 = none)
    std::uint64_t original_bytes = 0;
    std::uint32_t original_crc32c = 0; // format 1: in the header; format 2: in the index
    bytes skeleton;
    std::string preprocess; // "" when lossless
    bytes preprocess_info;  // side information of the lossy preprocessing
    std::vector<container_stream> streams;
    std::vector<container_tensor> tensors;
    std::vector<container_chunk> chunks; // format 2: implied by the streams' sizes
};

// The chunks a stream list implies (format 2): each stream cut into chunk_bytes pieces (the
// last shorter), in stream order. Throws corrupt when their number exceeds max_chunks (a
// header claiming more than the index can hold).
std::vector<container_chunk> chunks_of_streams(const std::vector<container_stream>& streams,
                                               std::uint64_t max_chunks);

// Fills the derived offsets (tensor and chunk stream offsets) and cross-checks the manifest:
// every byte of the original file accounted for once, every stream covered by its tensors
// and its chunks. Throws lmgc::error(code) naming the first inconsistency.
void validate_header(container_header& h, errc code = errc::corrupt);

// Writes a format-2 file front to back: the header when constructed, each chunk's payload
// in chunk order, then the index and footer on finish(). Everything goes to `out`.
class container_writer {
  public:
    // The header's chunks must be chunks_of_streams(header.streams).
    container_writer(const container_header& header, const write_fn& out);
    void add_chunk(byte_span payload, std::uint32_t raw_crc32c);
    void finish(std::uint32_t original_crc32c);
    std::uint64_t bytes_written() const { return written_; }

  private:
    void put(byte_span b);
    const write_fn& out_;
    bytes index_;
    std::size_t n_chunks_ = 0, added_ = 0;
    std::uint64_t written_ = 0;
};

// The whole file in memory (tests, and the image API): header, payloads in chunk order.
bytes write_container(const container_header& header, std::span<const bytes> payloads);

struct container_view {
    container_header header;
    std::uint64_t file_bytes = 0;
    std::uint64_t payload_begin = 0, payload_end = 0; // the payload area
    std::uint32_t payload_crc32c = 0;                 // format 1: CRC of the whole payload area
};

// Reads and validates header and (format 2) index through `in`, which must hold exactly one
// .lmgc file; reads nothing of the payloads. Every field is hostile: counts and sizes are
// checked against each other and against the file's size before anything is allocated.
// Throws lmgc::error(corrupt | unsupported) with a one-line reason.
container_view read_container(const byte_source& in);
container_view read_container(byte_span image);

} // namespace lmgc::detail
