// Writer and validating reader of the .lmgc container, version 1.0.
#include "container/container-format.hpp"

#include "common/common-checksum.hpp"

#include <cstring>

namespace lmgc::detail {
namespace {

constexpr std::size_t fixed_prefix = 8 + 2 + 2 + 4; // magic, major, minor, header_size

bytes encode_header(const container_header& h) {
    bytes out;
    byte_writer w(out);
    w.varint(static_cast<std::uint64_t>(h.format));
    w.varint(h.original_bytes);
    w.le<std::uint32_t>(h.original_crc32c);
    w.blob(h.skeleton);
    w.str(h.preprocess);
    w.blob(h.preprocess_info);
    w.varint(h.streams.size());
    for (const auto& s : h.streams) {
        w.str(s.codec);
        w.varint(s.params.size());
        for (const auto& [k, v] : s.params) {
            w.str(k);
            w.str(v);
        }
        w.varint(static_cast<std::uint64_t>(s.type));
        w.varint(s.raw_bytes);
        w.varint(s.chunk_bytes);
    }
    w.varint(h.tensors.size());
    for (const auto& t : h.tensors) {
        w.str(t.name);
        w.varint(static_cast<std::uint64_t>(t.type));
        w.varint(t.shape.size());
        for (const auto d : t.shape) w.varint(static_cast<std::uint64_t>(d));
        w.varint((t.big_endian ? 1u : 0u) | (t.fortran_order ? 2u : 0u));
        w.varint(t.file_offset);
        w.varint(t.nbytes);
        w.varint(t.stream);
        w.varint(t.stream_bytes);
    }
    w.varint(h.chunks.size());
    for (const auto& c : h.chunks) {
        w.varint(c.stream);
        w.varint(c.raw_bytes);
        w.varint(c.coded_bytes);
        w.le<std::uint32_t>(c.crc32c);
    }
    return out;
}

dtype read_dtype(byte_reader& r, const char* what) {
    const auto code = r.varint();
    const auto t = dtype_from_code(code);
    LMGC_CHECK(t.has_value(), errc::corrupt, "bad ", what, " element type code ", code);
    return *t;
}

container_header decode_header(byte_span data) {
    byte_reader r(data, errc::corrupt, "header truncated");
    container_header h;
    const auto fmt = r.varint();
    LMGC_CHECK(fmt >= 1 && fmt <= 4, errc::corrupt, "bad source format code ", fmt);
    h.format = static_cast<source_format>(fmt);
    h.original_bytes = r.varint();
    h.original_crc32c = r.le<std::uint32_t>();
    const auto skel = r.blob();
    h.skeleton.assign(skel.begin(), skel.end());
    h.preprocess = r.str();
    const auto pre = r.blob();
    h.preprocess_info.assign(pre.begin(), pre.end());

    // Each entry takes at least one byte per field, so counts are bounded by what is left.
    const auto n_streams = r.varint_max(r.remaining(), "stream count");
    for (std::uint64_t i = 0; i < n_streams; ++i) {
        container_stream s;
        s.codec = r.str();
        const auto n_params = r.varint_max(r.remaining() / 2, "codec parameter count");
        for (std::uint64_t p = 0; p < n_params; ++p) {
            std::string k = r.str();
            std::string v = r.str();
            s.params.emplace_back(std::move(k), std::move(v));
        }
        s.type = read_dtype(r, "stream");
        s.raw_bytes = r.varint();
        s.chunk_bytes = r.varint();
        h.streams.push_back(std::move(s));
    }
    const auto n_tensors = r.varint_max(r.remaining() / 8, "tensor count");
    for (std::uint64_t i = 0; i < n_tensors; ++i) {
        container_tensor t;
        t.name = r.str();
        t.type = read_dtype(r, "tensor");
        const auto ndim = r.varint_max(64, "tensor rank");
        for (std::uint64_t d = 0; d < ndim; ++d) {
            const auto v = r.varint();
            LMGC_CHECK(v < (std::uint64_t{1} << 62), errc::corrupt, "tensor '", t.name,
                       "': dimension too large");
            t.shape.push_back(static_cast<std::int64_t>(v));
        }
        const auto flags = r.varint_max(3, "tensor flags");
        t.big_endian = flags & 1;
        t.fortran_order = flags & 2;
        t.file_offset = r.varint();
        t.nbytes = r.varint();
        t.stream =
            static_cast<std::uint32_t>(r.varint_max(n_streams ? n_streams - 1 : 0, "stream index"));
        LMGC_CHECK(n_streams > 0, errc::corrupt, "tensor '", t.name, "' but no streams");
        t.stream_bytes = r.varint();
        h.tensors.push_back(std::move(t));
    }
    const auto n_chunks = r.varint_max(r.remaining() / 7, "chunk count");
    for (std::uint64_t i = 0; i < n_chunks; ++i) {
        container_chunk c;
        LMGC_CHECK(n_streams > 0, errc::corrupt, "chunks but no streams");
        c.stream = static_cast<std::uint32_t>(r.varint_max(n_streams - 1, "chunk stream index"));
        c.raw_bytes = r.varint();
        c.coded_bytes = r.varint();
        c.crc32c = r.le<std::uint32_t>();
        h.chunks.push_back(c);
    }
    LMGC_CHECK(r.at_end(), errc::corrupt, "header has ", r.remaining(), " unexpected bytes");
    return h;
}

// Cross-checks the manifest: every byte of the original file is accounted for exactly once,
// every stream is fully covered by its chunks.
void validate_header(container_header& h) {
    constexpr std::uint64_t max_bytes = std::uint64_t{1} << 48;
    LMGC_CHECK(h.original_bytes < max_bytes, errc::corrupt, "original size ", h.original_bytes,
               " is implausible");
    std::vector<std::uint64_t> stream_fill(h.streams.size(), 0);
    std::uint64_t end = 0;
    std::uint64_t tensor_total = 0;
    for (auto& t : h.tensors) {
        LMGC_CHECK(t.file_offset >= end && t.file_offset <= h.original_bytes &&
                       t.nbytes <= h.original_bytes - t.file_offset,
                   errc::corrupt, "tensor '", t.name, "' has a bad offset or size");
        std::uint64_t elems = 1;
        for (const auto d : t.shape) {
            LMGC_CHECK(d == 0 || elems <= max_bytes / static_cast<std::uint64_t>(d), errc::corrupt,
                       "tensor '", t.name, "' shape too large");
            elems *= static_cast<std::uint64_t>(d);
        }
        LMGC_CHECK(elems * dtype_size(t.type) == t.nbytes, errc::corrupt, "tensor '", t.name,
                   "' size does not match its shape");
        // Whether stream_bytes and the stream type fit the tensor depends on preprocessing;
        // the driver checks that.
        LMGC_CHECK(t.stream_bytes <= max_bytes, errc::corrupt, "tensor '", t.name,
                   "' stream size is implausible");
        t.stream_offset = stream_fill[t.stream];
        stream_fill[t.stream] += t.stream_bytes;
        end = t.file_offset + t.nbytes;
        tensor_total += t.nbytes;
    }
    LMGC_CHECK(tensor_total + h.skeleton.size() == h.original_bytes, errc::corrupt,
               "tensor and skeleton sizes do not add up to the original size");
    std::vector<std::uint64_t> chunk_fill(h.streams.size(), 0);
    std::vector<std::uint64_t> chunk_count(h.streams.size(), 0);
    for (auto& c : h.chunks) {
        const auto& s = h.streams[c.stream];
        c.stream_offset = chunk_fill[c.stream];
        LMGC_CHECK(c.raw_bytes <= s.raw_bytes - std::min(s.raw_bytes, chunk_fill[c.stream]),
                   errc::corrupt, "chunk overruns stream ", c.stream);
        if (s.chunk_bytes != 0 && chunk_fill[c.stream] + c.raw_bytes < s.raw_bytes)
            LMGC_CHECK(c.raw_bytes == s.chunk_bytes, errc::corrupt, "chunk of stream ", c.stream,
                       " has the wrong size");
        LMGC_CHECK(c.raw_bytes > 0, errc::corrupt, "empty chunk");
        chunk_fill[c.stream] += c.raw_bytes;
        ++chunk_count[c.stream];
    }
    for (std::size_t i = 0; i < h.streams.size(); ++i) {
        const auto& s = h.streams[i];
        LMGC_CHECK(stream_fill[i] == s.raw_bytes, errc::corrupt, "stream ", i,
                   " size does not match its tensors");
        LMGC_CHECK(chunk_fill[i] == s.raw_bytes, errc::corrupt, "stream ", i,
                   " is not covered by its chunks");
        LMGC_CHECK(s.chunk_bytes != 0 || chunk_count[i] <= 1, errc::corrupt, "stream ", i,
                   " is unchunked but has ", chunk_count[i], " chunks");
        LMGC_CHECK(dtype_size(s.type) != 0 && s.raw_bytes % dtype_size(s.type) == 0, errc::corrupt,
                   "stream ", i, " size is not a whole number of elements");
    }
}

} // namespace

bytes write_container(const container_header& header, std::span<const bytes> payloads) {
    LMGC_ASSERT(payloads.size() == header.chunks.size());
    const bytes hdr = encode_header(header);
    LMGC_CHECK(hdr.size() <= 0xFFFFFFFFu, errc::unsupported, "header too large (", hdr.size(),
               " bytes)");
    std::uint64_t total = fixed_prefix + hdr.size() + 4 + 4 + sizeof(container_end_marker);
    for (const auto& p : payloads) total += p.size();
    bytes out;
    out.reserve(total);
    byte_writer w(out);
    w.raw(container_magic);
    w.le<std::uint16_t>(static_cast<std::uint16_t>(header.major));
    w.le<std::uint16_t>(static_cast<std::uint16_t>(header.minor));
    w.le<std::uint32_t>(static_cast<std::uint32_t>(hdr.size()));
    w.raw(hdr);
    // The checksum covers version and size too, so no header bit can flip unnoticed.
    w.le<std::uint32_t>(crc32c(std::span(out).subspan(8)));
    std::uint32_t payload_crc = 0;
    for (const auto& p : payloads) {
        w.raw(p);
        payload_crc = crc32c(p, payload_crc);
    }
    // A checksum of the coded bytes as well as each chunk's raw checksum: damage that a
    // codec would decode to the right bytes anyway is still reported.
    w.le<std::uint32_t>(payload_crc);
    w.raw(container_end_marker);
    return out;
}

container_view read_container(byte_span image) {
    LMGC_CHECK(!image.empty(), errc::corrupt, "empty file, not a .lmgc file");
    LMGC_CHECK(image.size() >= sizeof(container_magic) &&
                   std::memcmp(image.data(), container_magic, sizeof(container_magic)) == 0,
               errc::corrupt, "not a .lmgc file (bad magic)");
    LMGC_CHECK(image.size() >= fixed_prefix, errc::corrupt, "truncated .lmgc file (", image.size(),
               " bytes)");
    const unsigned major = load_le<std::uint16_t>(image.data() + 8);
    const unsigned minor = load_le<std::uint16_t>(image.data() + 10);
    LMGC_CHECK(major < container_major || (major == container_major && minor <= container_minor),
               errc::unsupported, ".lmgc format version ", major, ".", minor,
               " is newer than this lmgc reads (", container_major, ".", container_minor,
               "); upgrade lmgc");
    LMGC_CHECK(major == container_major, errc::corrupt, "bad .lmgc format version ", major, ".",
               minor);
    const std::uint64_t hsize = load_le<std::uint32_t>(image.data() + 12);
    LMGC_CHECK(hsize + 4 <= image.size() - fixed_prefix, errc::corrupt,
               "truncated .lmgc file (header needs ", hsize, " bytes)");
    const byte_span hdr = image.subspan(fixed_prefix, hsize);
    const auto stored_crc = load_le<std::uint32_t>(image.data() + fixed_prefix + hsize);
    LMGC_CHECK(crc32c(image.subspan(8, 8 + hsize)) == stored_crc, errc::corrupt,
               "header checksum mismatch");

    container_view v;
    v.header = decode_header(hdr);
    v.header.major = major;
    v.header.minor = minor;
    validate_header(v.header);
    v.header_bytes = fixed_prefix + hsize + 4;

    const std::uint64_t payload_start = v.header_bytes;
    std::uint64_t pos = payload_start;
    for (const auto& c : v.header.chunks) {
        LMGC_CHECK(c.coded_bytes <= image.size() - pos, errc::corrupt,
                   "truncated .lmgc file (chunk data ends early)");
        v.payloads.push_back(image.subspan(pos, c.coded_bytes));
        pos += c.coded_bytes;
    }
    LMGC_CHECK(image.size() - pos >= 4 + sizeof(container_end_marker), errc::corrupt,
               "truncated .lmgc file (no end marker)");
    const auto payload_crc = load_le<std::uint32_t>(image.data() + pos);
    LMGC_CHECK(crc32c(image.subspan(payload_start, pos - payload_start)) == payload_crc,
               errc::corrupt, "payload checksum mismatch (file damaged)");
    pos += 4;
    LMGC_CHECK(
        std::memcmp(image.data() + pos, container_end_marker, sizeof(container_end_marker)) == 0,
        errc::corrupt, "bad end marker (file damaged)");
    LMGC_CHECK(image.size() - pos == sizeof(container_end_marker), errc::corrupt,
               image.size() - pos - sizeof(container_end_marker),
               " unexpected bytes after the end marker");
    return v;
}

} // namespace lmgc::detail
