// Chunk layouts, the lossy side-information record, piecewise checksums and decoder set-up,
// shared by both directions of the pipeline.
#include "common/common-checksum.hpp"
#include "common/common-error.hpp"
#include "pipeline/pipeline-internal.hpp"

namespace lmgc::detail {

void for_each_skeleton_piece(const container_header& h,
                             const std::function<void(std::uint64_t, byte_span)>& piece) {
    std::uint64_t pos = 0, skel = 0;
    auto gap = [&](std::uint64_t upto) {
        const auto n = upto - pos;
        if (n) piece(pos, byte_span(h.skeleton).subspan(skel, n));
        skel += n;
        pos = upto;
    };
    for (const auto& t : h.tensors) {
        gap(t.file_offset);
        pos += t.nbytes;
    }
    gap(h.original_bytes);
}

chunk_layout make_layout(const container_header& h, const container_chunk& c) {
    chunk_layout l;
    l.type = h.streams[c.stream].type;
    l.stream_offset = c.stream_offset;
    for (const auto& t : h.tensors) {
        if (t.stream != c.stream) continue;
        const auto b = t.stream_offset;
        const auto e = b + t.stream_bytes;
        if (e <= c.stream_offset || b >= c.stream_offset + c.raw_bytes) continue;
        l.tensors.push_back(
            {static_cast<std::int64_t>(b) - static_cast<std::int64_t>(c.stream_offset),
             t.stream_bytes, t.shape});
    }
    return l;
}

bytes preprocess_record::encode() const {
    bytes out;
    byte_writer w(out);
    w.le<std::uint64_t>(seed);
    w.varint(tensors.size());
    for (const auto& [index, side] : tensors) {
        w.varint(index);
        w.blob(side);
    }
    return out;
}

preprocess_record preprocess_record::decode(byte_span in, std::size_t n_tensors) {
    byte_reader r(in, errc::corrupt, "preprocess information truncated");
    preprocess_record rec;
    rec.seed = r.le<std::uint64_t>();
    const auto n = r.varint_max(n_tensors, "preprocessed tensor count");
    std::uint64_t prev = 0;
    for (std::uint64_t i = 0; i < n; ++i) {
        const auto index = r.varint_max(n_tensors ? n_tensors - 1 : 0, "tensor index");
        LMGC_CHECK(i == 0 || index > prev, errc::corrupt, "preprocess tensor indices out of order");
        prev = index;
        const auto side = r.blob();
        rec.tensors.emplace_back(index, bytes(side.begin(), side.end()));
    }
    LMGC_CHECK(r.at_end(), errc::corrupt, "preprocess information has extra bytes");
    return rec;
}

std::uint32_t crc_pieces::combine(std::uint64_t total) {
    std::lock_guard<std::mutex> lock(mu_);
    std::sort(pieces_.begin(), pieces_.end(),
              [](const piece& a, const piece& b) { return a.offset < b.offset; });
    std::uint32_t crc = 0;
    std::uint64_t at = 0;
    for (const auto& p : pieces_) {
        if (p.length == 0) continue;
        LMGC_CHECK(p.offset == at, errc::internal, "checksum pieces do not tile the file (gap or ",
                   "overlap at byte ", at, ")");
        crc = crc32c_combine(crc, p.crc, p.length);
        at += p.length;
    }
    LMGC_CHECK(at == total, errc::internal, "checksum pieces cover ", at, " of ", total, " bytes");
    return crc;
}

std::vector<std::unique_ptr<codec_i>> make_decoders(const container_header& h,
                                                    const std::vector<codec_option>& options) {
    // A setting must mean something to one of the file's codecs (never silently ignored).
    for (const auto& [key, value] : options) {
        bool known = false;
        std::string names;
        for (const auto& s : h.streams)
            for (const auto& row : codec_table())
                if (row.name == s.codec) {
                    known = known || row.knows_option(key);
                    if (names.find(s.codec) == std::string::npos)
                        names += (names.empty() ? "" : ", ") + s.codec;
                }
        LMGC_CHECK(known, errc::usage, "no codec of this file (", names.empty() ? "none" : names,
                   ") has a setting '", key, "'");
    }
    std::vector<std::unique_ptr<codec_i>> out;
    for (const auto& s : h.streams) {
        const codec_entry* e = nullptr;
        for (const auto& row : codec_table())
            if (row.name == s.codec) e = &row;
        LMGC_CHECK(e != nullptr, errc::unsupported, "unknown codec '", s.codec,
                   "' (file written by a newer lmgc?)");
        LMGC_CHECK(e->available(), errc::unsupported, "codec '", s.codec,
                   "' is not built into this lmgc (built without ", e->library, ")");
        codec_config cfg;
        cfg.options = options;
        cfg.recorded = s.params;
        cfg.decoding = true;
        out.push_back(with_context(s.codec, [&] { return e->make(cfg); }));
    }
    return out;
}

} // namespace lmgc::detail
