// Pieces shared by the compression and decompression halves of the pipeline. Included by
// src/pipeline/*.cpp only.
#pragma once

#include "codecs/codec.hpp"
#include "container/container-format.hpp"
#include "lmgc/lmgc.hpp"

#include <algorithm>
#include <functional>
#include <mutex>
#include <utility>
#include <vector>

namespace lmgc::detail {

// Thread-safe progress accounting: workers add bytes, the callback sees running totals.
class progress_meter {
  public:
    progress_meter(const progress_fn& fn, std::uint64_t total) : fn_(fn), total_(total) {
        if (fn_) fn_(0, total_);
    }
    void add(std::uint64_t n) {
        if (!fn_ || n == 0) return;
        std::lock_guard<std::mutex> lock(mu_);
        done_ += n;
        fn_(std::min(done_, total_), total_);
    }

  private:
    const progress_fn& fn_;
    std::uint64_t total_;
    std::uint64_t done_ = 0;
    std::mutex mu_;
};

// What a codec learns about the tensors of chunk c (the decoder rebuilds the same).
chunk_layout make_layout(const container_header& h, const container_chunk& c);

// Side information of --preprocess in the header's preprocess_info blob: the seed, then per
// preprocessed tensor its index in the manifest and its side information.
struct preprocess_record {
    std::uint64_t seed = 0;
    std::vector<std::pair<std::uint64_t, bytes>> tensors;
    bytes encode() const;
    static preprocess_record decode(byte_span in, std::size_t n_tensors);
};

// CRC-32C of a whole made of pieces checksummed in any order: (offset, length, crc) each.
class crc_pieces {
  public:
    void add(std::uint64_t offset, std::uint64_t length, std::uint32_t crc) {
        std::lock_guard<std::mutex> lock(mu_);
        pieces_.push_back({offset, length, crc});
    }
    // The CRC of [0, total) if the pieces tile it exactly; throws internal otherwise.
    std::uint32_t combine(std::uint64_t total);

  private:
    struct piece {
        std::uint64_t offset, length;
        std::uint32_t crc;
    };
    std::vector<piece> pieces_;
    std::mutex mu_;
};

// Calls piece(offset, bytes) for each run of the header's skeleton (the original file's bytes
// between and around its tensors), in file order, with its offset in the original file.
void for_each_skeleton_piece(const container_header& h,
                             const std::function<void(std::uint64_t, byte_span)>& piece);

// The codec objects of a header's streams, for decoding (recorded params + user options).
std::vector<std::unique_ptr<codec_i>> make_decoders(const container_header& h,
                                                    const std::vector<codec_option>& options);

// Chunks in flight per worker thread: enough to keep workers busy while the consumer writes.
constexpr std::size_t chunks_in_flight_per_thread = 2;

// Chunk buffers are kept for the next chunks (compression's slots, decompression's pool) up to
// this size; larger ones (huge chunks, a header's claim) give their memory back.
constexpr std::size_t kept_buffer_max = std::size_t{64} << 20;

} // namespace lmgc::detail
