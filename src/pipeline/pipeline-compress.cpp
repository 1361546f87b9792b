// Compression: plan the streams and chunks from the parsed file, then code chunks in
// parallel, each read from the source when a worker takes it, and write them in order.
#include "common/common-checksum.hpp"
#include "common/common-error.hpp"
#include "common/common-float.hpp"
#include "common/common-parallel.hpp"
#include "pipeline/pipeline-internal.hpp"
#include "pipeline/pipeline.hpp"
#include "preprocess/preprocess-lossy.hpp"

#include <chrono>
#include <cmath>
#include <cstring>
#include <map>
#include <numeric>

namespace lmgc::detail {
namespace {

// Everything compression decides before coding.
struct compress_plan {
    container_header header;
    std::vector<std::unique_ptr<codec_i>> codecs; // one per stream
    // Lossy only: the streams' contents and the file decompression gives back.
    std::vector<bytes> stream_data;
    bytes expected;
    std::uint64_t tensor_bytes = 0;
    std::uint64_t side_bytes = 0;
    double err2 = 0, norm2 = 0; // squared reconstruction error and norm, float tensors
};

void check_chunk_params(const compress_params& p) {
    LMGC_CHECK(p.chunk_bytes == 0 ||
                   (p.chunk_bytes >= compress_chunk_min && p.chunk_bytes <= container_chunk_max),
               errc::usage, "chunk size ", p.chunk_bytes, " is out of range (", compress_chunk_min,
               " to ", container_chunk_max, " bytes)");
    LMGC_CHECK(!(p.unchunked && p.chunk_bytes), errc::usage,
               "unchunked and a chunk size exclude each other");
    LMGC_CHECK(p.n_threads >= 0, errc::usage, "thread count must be >= 0");
    LMGC_CHECK(p.level >= 0 && p.level <= 9, errc::usage, "level ", p.level,
               " is out of range (1 to 9, or 0 for the default)");
}

compress_plan make_plan(const compress_input& in, const compress_params& params, bool make_codecs) {
    check_chunk_params(params);
    const auto& pf = in.parsed;
    const bool lossy = !params.preprocess.empty();
    const auto steps = lossy ? parse_preprocess(params.preprocess) : std::vector<preprocess_step>{};

    compress_plan plan;
    container_header& h = plan.header;
    h.format = pf.format;
    h.level = params.level;
    h.original_bytes = in.file->size();
    h.skeleton = in.skeleton;
    h.preprocess = params.preprocess;
    preprocess_record record;
    record.seed = params.seed;
    if (lossy) plan.expected = in.file->read(0, in.file->size());

    // One stream per coded element type, in order of first appearance.
    const auto choice = codec_for(params);
    const codec_entry& user_entry = *choice.entry;
    std::map<dtype, std::uint32_t> stream_of;
    codec_config cfg;
    cfg.options = choice.options;
    for (std::size_t ti = 0; ti < pf.tensors.size(); ++ti) {
        const auto& t = pf.tensors[ti];
        const std::size_t es = dtype_size(t.type);
        dtype coded_type = t.type;
        std::uint64_t coded_bytes = t.nbytes;
        bytes data;
        if (lossy) {
            data = in.file->read(t.offset, t.nbytes);
            if (t.big_endian) swap_bytes_inplace(data, es);
        }
        if (lossy && dtype_is_float(t.type)) {
            auto pp = with_context("tensor '" + t.name + "'", [&] {
                return preprocess_forward(data, t.type, steps, params.seed, ti);
            });
            for (std::size_t i = 0; i < data.size(); i += es) {
                const double x = load_float(data.data() + i, t.type);
                const double y = load_float(pp.reconstructed.data() + i, t.type);
                if (std::isfinite(x)) {
                    plan.err2 += (x - y) * (x - y);
                    plan.norm2 += x * x;
                }
            }
            if (t.big_endian) swap_bytes_inplace(pp.reconstructed, es);
            std::memcpy(plan.expected.data() + t.offset, pp.reconstructed.data(), t.nbytes);
            plan.side_bytes += pp.side_info.size();
            record.tensors.emplace_back(ti, std::move(pp.side_info));
            coded_type = pp.stream_type;
            data = std::move(pp.stream);
            coded_bytes = data.size();
        }
        auto it = stream_of.find(coded_type);
        if (it == stream_of.end()) {
            const codec_entry& e =
                user_entry.supports(coded_type) ? user_entry : find_codec(byte_codec_name());
            container_stream s;
            s.codec = std::string(e.name);
            s.type = coded_type;
            const auto elem = dtype_size(coded_type);
            // A codec whose default is 0 (unchunked) codes the stream as one chunk.
            if (!params.unchunked && (params.chunk_bytes || e.default_chunk_bytes)) {
                const std::uint64_t cb =
                    params.chunk_bytes ? params.chunk_bytes : e.default_chunk_bytes;
                s.chunk_bytes = std::max<std::uint64_t>(elem, cb / elem * elem);
            }
            if (make_codecs) {
                plan.codecs.push_back(
                    with_context(std::string(e.name), [&] { return e.make(cfg); }));
                s.params = plan.codecs.back()->params();
            }
            it = stream_of.emplace(coded_type, static_cast<std::uint32_t>(h.streams.size())).first;
            h.streams.push_back(std::move(s));
            plan.stream_data.emplace_back();
        }
        const auto si = it->second;
        container_tensor ct;
        ct.name = t.name;
        ct.type = t.type;
        ct.shape = t.shape;
        ct.big_endian = t.big_endian;
        ct.fortran_order = t.fortran_order;
        ct.file_offset = t.offset;
        ct.nbytes = t.nbytes;
        ct.stream = si;
        ct.stream_bytes = coded_bytes;
        ct.stream_offset = h.streams[si].raw_bytes;
        if (lossy) {
            auto& sd = plan.stream_data[si];
            sd.insert(sd.end(), data.begin(), data.end());
        }
        h.streams[si].raw_bytes += coded_bytes;
        plan.tensor_bytes += t.nbytes;
        h.tensors.push_back(std::move(ct));
    }
    if (lossy) h.preprocess_info = record.encode();
    for (const auto& s : h.streams)
        LMGC_CHECK(s.chunk_bytes != 0 || s.raw_bytes <= container_chunk_max, errc::usage,
                   "a stream of ", s.raw_bytes, " bytes (", dtype_name(s.type),
                   ") is too large to code as one chunk (at most ", container_chunk_max,
                   " bytes); give a chunk size");
    h.chunks = chunks_of_streams(h.streams, ~std::uint64_t{0});
    validate_header(h, errc::internal);
    return plan;
}

// Per chunk in flight: its bytes, its coding, and the checksums of what it read.
struct chunk_slot {
    bytes raw, payload;
    byte_span data; // the chunk's stream bytes: raw, or where they already are in memory
    std::uint32_t crc = 0;
    struct piece {
        std::uint64_t file_offset, length;
        std::uint32_t crc;
    };
    std::vector<piece> pieces; // the original file's bytes it covers (lossless)
    double ideal_bits = -1;
    lazy_buffer decoded; // --verify: kept, as fresh pages cost a fault each 4 KiB
};

// The tensors of each stream, in stream order (so a chunk finds its first by bisection: a
// checkpoint has thousands of tensors and of chunks).
std::vector<std::vector<std::uint32_t>> tensors_of_streams(const container_header& h) {
    std::vector<std::vector<std::uint32_t>> of(h.streams.size());
    for (std::uint32_t ti = 0; ti < h.tensors.size(); ++ti) of[h.tensors[ti].stream].push_back(ti);
    return of;
}

// Reads chunk c's stream bytes from the original file: a piece of each tensor it overlaps,
// byte-swapped where the file is big-endian. Checksums the file bytes (for the whole-file
// CRC) and the stream bytes (the chunk's CRC) in the same pass.
void read_chunk(const compress_input& in, const container_header& h,
                const std::vector<std::uint32_t>& stream_tensors, const container_chunk& c,
                chunk_slot& slot) {
    slot.pieces.clear();
    std::uint32_t crc = 0;
    const std::uint64_t cb = c.stream_offset, ce = cb + c.raw_bytes;
    const auto first =
        std::partition_point(stream_tensors.begin(), stream_tensors.end(), [&](std::uint32_t ti) {
            return h.tensors[ti].stream_offset + h.tensors[ti].stream_bytes <= cb;
        });
    // A chunk inside one little-endian tensor whose bytes are in memory (the API, Python's
    // tensors, standard input) is coded where it is, without a copy.
    if (first != stream_tensors.end() && c.raw_bytes) {
        const auto& t = h.tensors[*first];
        const std::uint64_t file_off = t.file_offset + (cb - t.stream_offset);
        const byte_span in_place =
            !t.big_endian && t.stream_offset <= cb && t.stream_offset + t.stream_bytes >= ce
                ? in.file->view(file_off, c.raw_bytes)
                : byte_span{};
        if (in_place.size() == c.raw_bytes) {
            slot.data = in_place;
            const std::uint32_t piece_crc = crc32c(slot.data);
            slot.pieces.push_back({file_off, c.raw_bytes, piece_crc});
            slot.crc = crc32c_combine(0, piece_crc, c.raw_bytes);
            return;
        }
    }
    reserve_large(slot.raw, c.raw_bytes);
    slot.raw.resize(c.raw_bytes);
    slot.data = slot.raw;
    for (auto it = first; it != stream_tensors.end(); ++it) {
        const auto& t = h.tensors[*it];
        const std::uint64_t tb = t.stream_offset, te = tb + t.stream_bytes;
        if (tb >= ce) break;
        const std::uint64_t b = std::max(cb, tb), e = std::min(ce, te);
        const std::span<std::uint8_t> dst = std::span(slot.raw).subspan(b - cb, e - b);
        const std::uint64_t file_off = t.file_offset + (b - tb);
        in.file->read_at(file_off, dst);
        const std::uint32_t file_crc = crc32c(dst);
        std::uint32_t stream_crc = file_crc;
        if (t.big_endian) {
            // Pieces start and end on element boundaries: chunk sizes are whole elements.
            swap_bytes_inplace(dst, dtype_size(t.type));
            stream_crc = crc32c(dst);
        }
        slot.pieces.push_back({file_off, e - b, file_crc});
        crc = crc32c_combine(crc, stream_crc, e - b);
    }
    slot.crc = crc;
}

} // namespace

compress_input parse_input(const byte_source& file, byte_span view, const compress_params& params) {
    read_options ropt;
    ropt.u2_as_bf16 = params.u2_as_bf16;
    compress_input in;
    in.file = &file;
    in.parsed = parse_tensor_file(view, params.format, ropt);
    in.skeleton = extract_skeleton(view, in.parsed.tensors);
    return in;
}

bytes expected_output(const compress_input& in, const compress_params& params) {
    if (params.preprocess.empty()) return in.file->read(0, in.file->size());
    return make_plan(in, params, false).expected;
}

compress_stats compress_stream(const compress_input& in, const compress_params& params,
                               const write_fn& write) {
    const auto t0 = std::chrono::steady_clock::now();
    compress_plan plan = make_plan(in, params, true);
    container_header& h = plan.header;
    const bool lossy = !params.preprocess.empty();
    std::vector<std::unique_ptr<codec_i>> verifiers;
    if (params.verify) verifiers = make_decoders(h, params.codec_options);

    std::uint64_t total_raw = 0;
    for (const auto& s : h.streams) total_raw += s.raw_bytes;
    progress_meter meter(params.progress, total_raw);

    // Codecs that code one chunk at a time (their own threads or a device) get one worker.
    bool all_parallel = true;
    for (const auto& c : plan.codecs) all_parallel = all_parallel && c->parallel();
    const int threads = all_parallel ? resolve_threads(params.n_threads) : 1;
    const std::size_t window = static_cast<std::size_t>(threads) * chunks_in_flight_per_thread;
    std::vector<chunk_slot> slots(window);
    const auto stream_tensors = tensors_of_streams(h);

    crc_pieces file_crc;
    for_each_skeleton_piece(
        h, [&](std::uint64_t offset, byte_span b) { file_crc.add(offset, b.size(), crc32c(b)); });

    container_writer writer(h, write);
    std::uint64_t payload_total = 0;
    double ideal_total = 0;
    bool all_modelled = true;
    parallel_ordered(
        h.chunks.size(), threads, window,
        [&](std::size_t i) {
            const auto& c = h.chunks[i];
            chunk_slot& slot = slots[i % window];
            if (lossy) {
                const byte_span raw =
                    byte_span(plan.stream_data[c.stream]).subspan(c.stream_offset, c.raw_bytes);
                slot.data = raw; // plan.stream_data lives until the end
                slot.crc = crc32c(slot.data);
            } else {
                read_chunk(in, h, stream_tensors[c.stream], c, slot);
            }
            chunk_layout layout = make_layout(h, c);
            slot.ideal_bits = -1;
            if (params.report_ideal_bits) layout.ideal_bits = &slot.ideal_bits;
            std::uint64_t reported = 0;
            layout.advance = [&](std::uint64_t n) {
                reported += n;
                meter.add(n);
            };
            slot.payload.clear();
            // Large chunks (unchunked codecs): room for the usual payload, in huge pages.
            reserve_large(slot.payload, coded_room(c.raw_bytes));
            plan.codecs[c.stream]->encode(slot.data, layout, slot.payload);
            if (params.verify) {
                if (slot.decoded.size() < c.raw_bytes) slot.decoded = lazy_buffer(c.raw_bytes);
                const auto back = slot.decoded.span().first(c.raw_bytes);
                chunk_layout vl = make_layout(h, c);
                try {
                    verifiers[c.stream]->decode(slot.payload, vl, back);
                } catch (const error& e) {
                    LMGC_FAIL(errc::internal, "verify: chunk ", i, " (", h.streams[c.stream].codec,
                              ") was coded into a stream its decoder refuses (", e.what(),
                              "); nothing was written");
                }
                LMGC_CHECK(c.raw_bytes == 0 ||
                               std::memcmp(back.data(), slot.data.data(), c.raw_bytes) == 0,
                           errc::internal, "verify: chunk ", i, " (", h.streams[c.stream].codec,
                           ") does not decode back to its bytes; nothing was written");
            }
            meter.add(c.raw_bytes - std::min(reported, c.raw_bytes));
        },
        [&](std::size_t i) {
            chunk_slot& slot = slots[i % window];
            writer.add_chunk(slot.payload, slot.crc);
            for (const auto& p : slot.pieces) file_crc.add(p.file_offset, p.length, p.crc);
            payload_total += slot.payload.size();
            if (slot.ideal_bits < 0)
                all_modelled = false;
            else
                ideal_total += slot.ideal_bits;
            // Keep the buffers for the next chunk of this slot unless they are large.
            if (slot.raw.capacity() > kept_buffer_max) bytes().swap(slot.raw);
            if (slot.payload.capacity() > kept_buffer_max) bytes().swap(slot.payload);
            if (slot.decoded.size() > kept_buffer_max) slot.decoded = lazy_buffer();
        });
    writer.finish(lossy ? crc32c(plan.expected) : file_crc.combine(h.original_bytes));

    compress_stats st;
    st.input_bytes = h.original_bytes;
    st.tensor_bytes = plan.tensor_bytes;
    st.output_bytes = writer.bytes_written();
    st.payload_bytes = payload_total;
    st.side_info_bytes = plan.side_bytes;
    st.preprocessed_bytes = total_raw + plan.side_bytes;
    st.relative_l2_error = plan.norm2 > 0 ? std::sqrt(plan.err2 / plan.norm2) : 0.0;
    st.ideal_bits = all_modelled ? ideal_total : -1.0;
    st.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return st;
}

} // namespace lmgc::detail
