// Decompression: read header and index, then per chunk (in parallel, a bounded number in
// flight) read its payload, check it, decode it straight into the sink's memory where it has a
// place for the chunk (in-memory results) or else into a buffer (kept for later chunks; memory
// taken as it is written), check the result and hand its tensor pieces to the sink.
#include "common/common-checksum.hpp"
#include "common/common-error.hpp"
#include "common/common-parallel.hpp"
#include "pipeline/pipeline-internal.hpp"
#include "pipeline/pipeline.hpp"
#include "preprocess/preprocess-lossy.hpp"

#include <algorithm>
#include <cstring>
#include <mutex>
#include <optional>
#include <utility>

namespace lmgc::detail {
namespace {

// Lossy tensors are rebuilt whole: their coded bytes are gathered here until complete.
struct lossy_tensor {
    bytes coded;
    std::uint64_t filled = 0;
};

// Chunk buffers kept for the next chunks. A fresh buffer costs a page fault per 4 KiB as the
// decoder writes it and an unmapping after (a quarter of fast's decoding time through the
// container). A kept buffer holds an earlier chunk's bytes: decoders write every byte of their
// output, and the chunk's checksum would catch one that did not.
class chunk_buffers {
  public:
    explicit chunk_buffers(std::size_t keep) : keep_(keep) {}
    lazy_buffer take(std::size_t n) {
        {
            std::lock_guard<std::mutex> lock(mu_);
            for (auto& b : free_)
                if (b.size() >= n) {
                    lazy_buffer taken = std::move(b);
                    b = std::move(free_.back());
                    free_.pop_back();
                    return taken;
                }
        }
        // With room to spare, so that the next chunks (payloads vary in size) fit.
        return lazy_buffer(n < kept_buffer_max ? (n + n / 4 + 0xffff) & ~std::size_t{0xffff} : n);
    }
    // Large buffers (a header's claim, or huge chunks) are not kept: their memory goes back.
    void give(lazy_buffer b) {
        if (b.size() == 0 || b.size() > kept_buffer_max) return;
        std::lock_guard<std::mutex> lock(mu_);
        if (free_.size() < keep_) {
            free_.push_back(std::move(b));
            return;
        }
        auto smallest = std::min_element(free_.begin(), free_.end(),
                                         [](auto& x, auto& y) { return x.size() < y.size(); });
        if (smallest->size() < b.size()) *smallest = std::move(b);
    }

  private:
    std::size_t keep_;
    std::mutex mu_;
    std::vector<lazy_buffer> free_;
};

} // namespace

container_header decompress_stream(const byte_source& in, const decompress_params& params,
                                   decompress_sink& sink) {
    LMGC_CHECK(params.n_threads >= 0, errc::usage, "thread count must be >= 0");
    container_view v = read_container(in);
    container_header& h = v.header;
    const bool lossy = !h.preprocess.empty();
    std::vector<preprocess_step> steps;
    preprocess_record record;
    std::vector<const bytes*> side_of(h.tensors.size(), nullptr);
    if (lossy) {
        steps = with_context("preprocess '" + h.preprocess + "'", [&] {
            try {
                return parse_preprocess(h.preprocess);
            } catch (const error& e) {
                throw error(errc::corrupt, e.what());
            }
        });
        record = preprocess_record::decode(h.preprocess_info, h.tensors.size());
        for (const auto& [index, side] : record.tensors) side_of[index] = &side;
    }
    sink.begin(h);
    bool want_all = true;
    std::vector<char> wanted(h.tensors.size());
    for (std::size_t ti = 0; ti < h.tensors.size(); ++ti) {
        const auto& t = h.tensors[ti];
        const auto& s = h.streams[t.stream];
        if (side_of[ti]) {
            const auto n = t.nbytes / dtype_size(t.type);
            LMGC_CHECK(dtype_is_float(t.type) && s.type == preprocess_stream_type(t.type, steps) &&
                           t.stream_bytes == preprocess_stream_bytes(t.type, n, steps),
                       errc::corrupt, "tensor '", t.name, "' does not match its preprocessing");
        } else {
            LMGC_CHECK(t.stream_bytes == t.nbytes && s.type == t.type, errc::corrupt, "tensor '",
                       t.name, "' does not match its stream");
        }
        wanted[ti] = sink.wants(ti);
        want_all = want_all && wanted[ti];
    }

    const auto codecs = make_decoders(h, params.codec_options);
    bool all_parallel = true;
    for (const auto& c : codecs) all_parallel = all_parallel && c->parallel();

    // Which chunks are needed, and the tensors each overlaps (tensors of a stream are in
    // stream order, so one sweep finds them).
    std::vector<std::vector<std::uint32_t>> parts(h.chunks.size());
    {
        std::vector<std::size_t> first(h.streams.size(), 0);
        std::vector<std::vector<std::uint32_t>> of_stream(h.streams.size());
        for (std::uint32_t ti = 0; ti < h.tensors.size(); ++ti)
            if (h.tensors[ti].stream_bytes) of_stream[h.tensors[ti].stream].push_back(ti);
        for (std::size_t i = 0; i < h.chunks.size(); ++i) {
            const auto& c = h.chunks[i];
            const auto& list = of_stream[c.stream];
            auto& k = first[c.stream];
            while (k < list.size() &&
                   h.tensors[list[k]].stream_offset + h.tensors[list[k]].stream_bytes <=
                       c.stream_offset)
                ++k;
            for (auto j = k; j < list.size() &&
                             h.tensors[list[j]].stream_offset < c.stream_offset + c.raw_bytes;
                 ++j)
                parts[i].push_back(list[j]);
        }
    }
    std::vector<std::size_t> todo;
    for (std::size_t i = 0; i < h.chunks.size(); ++i) {
        bool need = false;
        for (const auto ti : parts[i]) need = need || wanted[ti];
        if (need) todo.push_back(i);
    }

    std::uint64_t total_raw = 0;
    for (const auto i : todo) total_raw += h.chunks[i].raw_bytes;
    progress_meter meter(params.progress, total_raw);
    crc_pieces file_crc;
    std::vector<std::uint32_t> coded_crc(v.header.major == 1 ? h.chunks.size() : 0);
    std::vector<lossy_tensor> pending(lossy ? h.tensors.size() : 0);
    std::mutex pending_mu;

    // Skeleton bytes between the tensors.
    for_each_skeleton_piece(h, [&](std::uint64_t offset, byte_span b) {
        sink.skeleton(offset, b);
        file_crc.add(offset, b.size(), crc32c(b));
    });

    // A finished tensor piece in stream byte order: to the sink in file byte order (`placed`:
    // it is already where the sink wants it). `crc`: the piece's, when known and the tensor is
    // little-endian (its file bytes are its stream bytes).
    auto deliver = [&](std::size_t ti, std::uint64_t offset, std::span<std::uint8_t> data,
                       bool placed = false, std::optional<std::uint32_t> crc = {}) {
        const auto& t = h.tensors[ti];
        if (t.big_endian) swap_bytes_inplace(data, dtype_size(t.type));
        file_crc.add(t.file_offset + offset, data.size(),
                     crc && !t.big_endian ? *crc : crc32c(data));
        if (!placed) sink.tensor(ti, offset, data);
    };
    // Where tensor t's piece of chunk c lies in the chunk: [begin, end).
    auto piece_of = [](const container_chunk& c, const container_tensor& t) {
        return std::pair<std::uint64_t, std::uint64_t>{
            std::max(c.stream_offset, t.stream_offset) - c.stream_offset,
            std::min(c.stream_offset + c.raw_bytes, t.stream_offset + t.stream_bytes) -
                c.stream_offset};
    };
    // Where chunk i decodes to in the sink's memory: the place of its first piece, when every
    // piece is wanted, lossless and placed right after the one before; else nullptr.
    auto chunk_place = [&](std::size_t i) -> std::uint8_t* {
        const auto& c = h.chunks[i];
        std::uint8_t* base = nullptr;
        std::uint64_t at = 0; // chunk-relative end of the pieces so far
        for (const auto ti : parts[i]) {
            const auto& t = h.tensors[ti];
            if (!wanted[ti] || side_of[ti]) return nullptr;
            const auto [b, e] = piece_of(c, t);
            std::uint8_t* p = sink.place(ti, c.stream_offset + b - t.stream_offset, e - b);
            if (!p || b != at || (base && p != base + b)) return nullptr;
            if (!base) base = p;
            at = e;
        }
        return at == c.raw_bytes ? base : nullptr;
    };

    const int threads = all_parallel ? resolve_threads(params.n_threads) : 1;
    const std::size_t window = static_cast<std::size_t>(threads) * chunks_in_flight_per_thread;
    chunk_buffers outputs(window), payloads(window);
    parallel_ordered(
        todo.size(), threads, window,
        [&](std::size_t k) {
            const std::size_t i = todo[k];
            const auto& c = h.chunks[i];
            // The payload: in place when the container is in memory, else read into a kept buffer
            // (read_at refuses a range past the end).
            lazy_buffer payload_buf;
            byte_span payload = in.view(c.file_offset, c.coded_bytes);
            if (payload.size() != c.coded_bytes) {
                payload_buf = payloads.take(c.coded_bytes);
                const auto s = payload_buf.span().first(c.coded_bytes);
                in.read_at(c.file_offset, s);
                payload = s;
            }
            if (v.header.major == 1) {
                coded_crc[i] = crc32c(payload);
            } else {
                LMGC_CHECK(crc32c(payload) == c.coded_crc32c, errc::corrupt, "chunk ", i,
                           ": checksum mismatch in its coded data (file damaged)");
            }
            // Straight into the sink's memory where it has a place for the chunk, else into a
            // kept buffer whose pieces go to the sink.
            std::uint8_t* const placed = c.raw_bytes ? chunk_place(i) : nullptr;
            lazy_buffer buf;
            if (!placed) buf = outputs.take(c.raw_bytes);
            const auto out = placed ? std::span<std::uint8_t>(placed, c.raw_bytes)
                                    : buf.span().first(c.raw_bytes);
            chunk_layout layout = make_layout(h, c);
            std::uint64_t reported = 0;
            layout.advance = [&](std::uint64_t n) {
                reported += n;
                meter.add(n);
            };
            with_context("chunk " + std::to_string(i) + " (" + h.streams[c.stream].codec + ")",
                         [&] { codecs[c.stream]->decode(payload, layout, out); });
            // The chunk's CRC from its tensor pieces' CRCs (one pass over the bytes).
            std::uint32_t crc = 0;
            struct cut {
                std::uint32_t tensor;
                std::uint64_t begin, end; // chunk-relative
                std::uint32_t crc;
            };
            std::vector<cut> cuts;
            for (const auto ti : parts[i]) {
                const auto [b, e] = piece_of(c, h.tensors[ti]);
                const std::uint32_t pc = crc32c(out.subspan(b, e - b));
                crc = crc32c_combine(crc, pc, e - b);
                cuts.push_back({ti, b, e, pc});
            }
            LMGC_CHECK(crc == c.crc32c, errc::corrupt, "chunk ", i,
                       ": checksum mismatch (file damaged)");
            for (const auto& p : cuts) {
                if (!wanted[p.tensor]) continue;
                const auto& t = h.tensors[p.tensor];
                const std::uint64_t toff = c.stream_offset + p.begin - t.stream_offset;
                const auto piece = out.subspan(p.begin, p.end - p.begin);
                if (!side_of[p.tensor]) {
                    deliver(p.tensor, toff, piece, placed != nullptr, p.crc);
                    continue;
                }
                // Lossy: gather the representation; rebuild once complete.
                bytes whole;
                {
                    std::lock_guard<std::mutex> lock(pending_mu);
                    auto& lt = pending[p.tensor];
                    if (lt.coded.empty()) lt.coded.resize(t.stream_bytes);
                    std::memcpy(lt.coded.data() + toff, piece.data(), piece.size());
                    lt.filled += piece.size();
                    if (lt.filled == t.stream_bytes) whole = std::move(lt.coded);
                }
                if (whole.empty() && t.stream_bytes) continue;
                bytes rebuilt = with_context("tensor '" + t.name + "'", [&] {
                    return preprocess_inverse(whole, *side_of[p.tensor], t.type,
                                              t.nbytes / dtype_size(t.type), steps, record.seed,
                                              p.tensor);
                });
                LMGC_CHECK(rebuilt.size() == t.nbytes, errc::internal, "tensor '", t.name,
                           "': rebuilt to the wrong size");
                deliver(p.tensor, 0, rebuilt);
            }
            meter.add(c.raw_bytes - std::min(reported, c.raw_bytes));
            outputs.give(std::move(buf));
            payloads.give(std::move(payload_buf));
        },
        [](std::size_t) {});

    // Lossy tensors with no coded bytes (all elements dropped) are rebuilt from side info.
    for (std::size_t ti = 0; ti < h.tensors.size(); ++ti) {
        const auto& t = h.tensors[ti];
        if (!side_of[ti] || !wanted[ti] || t.stream_bytes) continue;
        bytes rebuilt = preprocess_inverse({}, *side_of[ti], t.type, t.nbytes / dtype_size(t.type),
                                           steps, record.seed, ti);
        LMGC_CHECK(rebuilt.size() == t.nbytes, errc::corrupt, "tensor '", t.name,
                   "': rebuilt to the wrong size");
        deliver(ti, 0, rebuilt);
    }
    // Empty tensors have no pieces; everything else must have been delivered.
    if (v.header.major == 1 && want_all) {
        std::uint32_t all = 0;
        for (std::size_t i = 0; i < h.chunks.size(); ++i)
            all = crc32c_combine(all, coded_crc[i], h.chunks[i].coded_bytes);
        LMGC_CHECK(all == v.payload_crc32c, errc::corrupt,
                   "payload checksum mismatch (file damaged)");
    }
    if (want_all)
        LMGC_CHECK(file_crc.combine(h.original_bytes) == h.original_crc32c, errc::corrupt,
                   "whole-file checksum mismatch (file damaged)");
    return h;
}

} // namespace lmgc::detail
