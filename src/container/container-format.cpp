// Writer (format 2) and validating readers (formats 1 and 2) of the .lmgc container.
#include "container/container-format.hpp"

#include "common/common-checksum.hpp"

#include <algorithm>
#include <cstring>

namespace lmgc::detail {
namespace {

constexpr std::uint64_t max_bytes = std::uint64_t{1} << 48; // any size above is implausible

// The header fields both formats share, then (format 1) the original CRC's place and the
// chunk table differ; `major` selects.
bytes encode_header(const container_header& h) {
    bytes out;
    byte_writer w(out);
    w.varint(static_cast<std::uint64_t>(h.format));
    w.varint(h.original_bytes);
    if (h.major == 1)
        w.le<std::uint32_t>(h.original_crc32c);
    else
        w.varint(static_cast<std::uint64_t>(h.level));
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
    if (h.major == 1) {
        w.varint(h.chunks.size());
        for (const auto& c : h.chunks) {
            w.varint(c.stream);
            w.varint(c.raw_bytes);
            w.varint(c.coded_bytes);
            w.le<std::uint32_t>(c.crc32c);
        }
    }
    return out;
}

dtype read_dtype(byte_reader& r, const char* what) {
    const auto code = r.varint();
    const auto t = dtype_from_code(code);
    LMGC_CHECK(t.has_value(), errc::corrupt, "bad ", what, " element type code ", code);
    return *t;
}

container_header decode_header(byte_span data, unsigned major) {
    byte_reader r(data, errc::corrupt, "header truncated");
    container_header h;
    h.major = major;
    const auto fmt = r.varint();
    LMGC_CHECK(fmt >= 1 && fmt <= 4, errc::corrupt, "bad source format code ", fmt);
    h.format = static_cast<source_format>(fmt);
    h.original_bytes = r.varint();
    if (major == 1)
        h.original_crc32c = r.le<std::uint32_t>();
    else
        h.level = static_cast<int>(r.varint_max(9, "level"));
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
        LMGC_CHECK(n_streams > 0, errc::corrupt, "tensor '", t.name, "' but no streams");
        t.stream = static_cast<std::uint32_t>(r.varint_max(n_streams - 1, "stream index"));
        t.stream_bytes = r.varint();
        h.tensors.push_back(std::move(t));
    }
    if (major == 1) {
        const auto n_chunks = r.varint_max(r.remaining() / 7, "chunk count");
        for (std::uint64_t i = 0; i < n_chunks; ++i) {
            container_chunk c;
            LMGC_CHECK(n_streams > 0, errc::corrupt, "chunks but no streams");
            c.stream =
                static_cast<std::uint32_t>(r.varint_max(n_streams - 1, "chunk stream index"));
            c.raw_bytes = r.varint();
            c.coded_bytes = r.varint();
            c.crc32c = r.le<std::uint32_t>();
            h.chunks.push_back(c);
        }
    }
    LMGC_CHECK(r.at_end(), errc::corrupt, "header has ", r.remaining(), " unexpected bytes");
    return h;
}

// The fixed prefix: magic and version; returns the header size.
std::uint64_t read_prefix(const byte_source& in, unsigned& major, unsigned& minor) {
    const auto size = in.size();
    LMGC_CHECK(size > 0, errc::corrupt, "empty file, not a .lmgc file");
    std::uint8_t p[container_prefix_bytes] = {};
    const auto n = std::min<std::uint64_t>(size, sizeof p);
    in.read_at(0, std::span(p, n));
    LMGC_CHECK(n >= sizeof container_magic &&
                   std::memcmp(p, container_magic, sizeof container_magic) == 0,
               errc::corrupt, "not a .lmgc file (bad magic)");
    LMGC_CHECK(n == sizeof p, errc::corrupt, "truncated .lmgc file (", size, " bytes)");
    major = load_le<std::uint16_t>(p + 8);
    minor = load_le<std::uint16_t>(p + 10);
    LMGC_CHECK(major < container_major || (major == container_major && minor <= container_minor),
               errc::unsupported, ".lmgc format version ", major, ".", minor,
               " is newer than this lmgc reads (", container_major, ".", container_minor,
               "); upgrade lmgc");
    LMGC_CHECK(major >= 1 && (major != 1 || minor == 0), errc::corrupt, "bad .lmgc format version ",
               major, ".", minor);
    return load_le<std::uint32_t>(p + 12);
}

} // namespace

std::vector<container_chunk> chunks_of_streams(const std::vector<container_stream>& streams,
                                               std::uint64_t max_chunks) {
    // Count first: a hostile header must not make us build a huge list.
    std::uint64_t n = 0;
    for (const auto& s : streams) {
        LMGC_CHECK(s.raw_bytes <= max_bytes, errc::corrupt, "stream size ", s.raw_bytes,
                   " is implausible");
        if (s.raw_bytes == 0) continue;
        n += s.chunk_bytes ? (s.raw_bytes + s.chunk_bytes - 1) / s.chunk_bytes : 1;
        LMGC_CHECK(n <= max_chunks, errc::corrupt, "the streams need more chunks than the file's ",
                   "index holds (", max_chunks, ")");
    }
    std::vector<container_chunk> out;
    out.reserve(static_cast<std::size_t>(n));
    for (std::uint32_t si = 0; si < streams.size(); ++si) {
        const auto& s = streams[si];
        const std::uint64_t step = s.chunk_bytes ? s.chunk_bytes : s.raw_bytes;
        for (std::uint64_t off = 0; off < s.raw_bytes; off += step) {
            container_chunk c;
            c.stream = si;
            c.stream_offset = off;
            c.raw_bytes = std::min(step, s.raw_bytes - off);
            out.push_back(c);
        }
    }
    return out;
}

void validate_header(container_header& h, errc code) {
    LMGC_CHECK(h.original_bytes < max_bytes, code, "original size ", h.original_bytes,
               " is implausible");
    std::vector<std::uint64_t> stream_fill(h.streams.size(), 0);
    std::uint64_t end = 0;
    std::uint64_t tensor_total = 0;
    for (auto& t : h.tensors) {
        LMGC_CHECK(t.file_offset >= end && t.file_offset <= h.original_bytes &&
                       t.nbytes <= h.original_bytes - t.file_offset,
                   code, "tensor '", t.name, "' has a bad offset or size");
        std::uint64_t elems = 1;
        for (const auto d : t.shape) {
            LMGC_CHECK(d >= 0 && (d == 0 || elems <= max_bytes / static_cast<std::uint64_t>(d)),
                       code, "tensor '", t.name, "' shape too large");
            elems *= static_cast<std::uint64_t>(d);
        }
        LMGC_CHECK(elems * dtype_size(t.type) == t.nbytes, code, "tensor '", t.name,
                   "' size does not match its shape");
        // Whether stream_bytes and the stream type fit the tensor depends on preprocessing;
        // the driver checks that.
        LMGC_CHECK(t.stream < h.streams.size() && t.stream_bytes <= max_bytes, code, "tensor '",
                   t.name, "' stream size is implausible");
        t.stream_offset = stream_fill[t.stream];
        stream_fill[t.stream] += t.stream_bytes;
        end = t.file_offset + t.nbytes;
        tensor_total += t.nbytes;
    }
    LMGC_CHECK(tensor_total + h.skeleton.size() == h.original_bytes, code,
               "tensor and skeleton sizes do not add up to the original size");
    std::vector<std::uint64_t> chunk_fill(h.streams.size(), 0);
    std::vector<std::uint64_t> chunk_count(h.streams.size(), 0);
    for (auto& c : h.chunks) {
        LMGC_CHECK(c.stream < h.streams.size(), code, "chunk of a stream that does not exist");
        const auto& s = h.streams[c.stream];
        c.stream_offset = chunk_fill[c.stream];
        LMGC_CHECK(c.raw_bytes <= s.raw_bytes - std::min(s.raw_bytes, chunk_fill[c.stream]), code,
                   "chunk overruns stream ", c.stream);
        if (s.chunk_bytes != 0 && chunk_fill[c.stream] + c.raw_bytes < s.raw_bytes)
            LMGC_CHECK(c.raw_bytes == s.chunk_bytes, code, "chunk of stream ", c.stream,
                       " has the wrong size");
        LMGC_CHECK(c.raw_bytes > 0, code, "empty chunk");
        chunk_fill[c.stream] += c.raw_bytes;
        ++chunk_count[c.stream];
    }
    for (std::size_t i = 0; i < h.streams.size(); ++i) {
        const auto& s = h.streams[i];
        LMGC_CHECK(stream_fill[i] == s.raw_bytes, code, "stream ", i,
                   " size does not match its tensors");
        LMGC_CHECK(chunk_fill[i] == s.raw_bytes, code, "stream ", i,
                   " is not covered by its chunks");
        LMGC_CHECK(s.chunk_bytes != 0 || chunk_count[i] <= 1, code, "stream ", i,
                   " is unchunked but has ", chunk_count[i], " chunks");
        LMGC_CHECK(dtype_size(s.type) != 0 && s.raw_bytes % dtype_size(s.type) == 0, code,
                   "stream ", i, " size is not a whole number of elements");
    }
}

container_writer::container_writer(const container_header& header, const write_fn& out)
    : out_(out), n_chunks_(header.chunks.size()) {
    LMGC_ASSERT(header.major == 2);
    const bytes hdr = encode_header(header);
    LMGC_CHECK(hdr.size() <= 0xFFFFFFFFu, errc::unsupported, "header too large (", hdr.size(),
               " bytes)");
    bytes pre;
    pre.reserve(container_prefix_bytes + hdr.size() + 4);
    byte_writer w(pre);
    w.raw(container_magic);
    w.le<std::uint16_t>(static_cast<std::uint16_t>(header.major));
    w.le<std::uint16_t>(static_cast<std::uint16_t>(header.minor));
    w.le<std::uint32_t>(static_cast<std::uint32_t>(hdr.size()));
    w.raw(hdr);
    // The checksum covers version and size too, so no header bit can flip unnoticed.
    w.le<std::uint32_t>(crc32c(std::span(pre).subspan(8)));
    put(pre);
}

void container_writer::put(byte_span b) {
    if (!b.empty()) out_(b);
    written_ += b.size();
}

void container_writer::add_chunk(byte_span payload, std::uint32_t raw_crc32c) {
    LMGC_ASSERT(added_ < n_chunks_);
    byte_writer w(index_);
    w.varint(payload.size());
    w.le<std::uint32_t>(raw_crc32c);
    w.le<std::uint32_t>(crc32c(payload));
    put(payload);
    ++added_;
}

void container_writer::finish(std::uint32_t original_crc32c) {
    LMGC_ASSERT(added_ == n_chunks_);
    byte_writer(index_).le<std::uint32_t>(original_crc32c);
    const std::uint64_t index_offset = written_;
    put(index_);
    bytes foot;
    byte_writer w(foot);
    w.le<std::uint64_t>(index_offset);
    w.le<std::uint64_t>(index_.size());
    // Covers the index and the two fields before it.
    w.le<std::uint32_t>(crc32c(std::span(foot).first(16), crc32c(index_)));
    w.raw(container_end_marker);
    put(foot);
}

bytes write_container(const container_header& header, std::span<const bytes> payloads) {
    LMGC_ASSERT(payloads.size() == header.chunks.size());
    bytes out;
    const write_fn append = [&](byte_span b) { byte_writer(out).raw(b); };
    container_writer w(header, append);
    for (std::size_t i = 0; i < payloads.size(); ++i)
        w.add_chunk(payloads[i], header.chunks[i].crc32c);
    w.finish(header.original_crc32c);
    return out;
}

container_view read_container(const byte_source& in) {
    unsigned major = 0, minor = 0;
    const std::uint64_t hsize = read_prefix(in, major, minor);
    const std::uint64_t size = in.size();
    LMGC_CHECK(hsize + 4 <= size - container_prefix_bytes, errc::corrupt,
               "truncated .lmgc file (header needs ", hsize, " bytes)");
    const bytes head = in.read(8, 8 + hsize + 4); // version, size, header, header CRC
    LMGC_CHECK(crc32c(std::span(head).first(8 + hsize)) ==
                   load_le<std::uint32_t>(head.data() + 8 + hsize),
               errc::corrupt, "header checksum mismatch");

    container_view v;
    v.file_bytes = size;
    v.header = decode_header(std::span(head).subspan(8, hsize), major);
    v.header.major = major;
    v.header.minor = minor;
    v.payload_begin = container_prefix_bytes + hsize + 4;

    if (major == 1) {
        validate_header(v.header);
        // payload area, payload CRC, end marker: nothing else.
        std::uint64_t pos = v.payload_begin;
        for (auto& c : v.header.chunks) {
            LMGC_CHECK(c.coded_bytes <= size - pos, errc::corrupt,
                       "truncated .lmgc file (chunk data ends early)");
            c.file_offset = pos;
            pos += c.coded_bytes;
        }
        v.payload_end = pos;
        LMGC_CHECK(size - pos >= 4 + sizeof container_end_marker, errc::corrupt,
                   "truncated .lmgc file (no end marker)");
        LMGC_CHECK(size - pos == 4 + sizeof container_end_marker, errc::corrupt,
                   size - pos - 4 - sizeof container_end_marker,
                   " unexpected bytes after the end marker");
        const bytes tail = in.read(pos, 4 + sizeof container_end_marker);
        v.payload_crc32c = load_le<std::uint32_t>(tail.data());
        LMGC_CHECK(
            std::memcmp(tail.data() + 4, container_end_marker, sizeof container_end_marker) == 0,
            errc::corrupt, "bad end marker (file damaged)");
        return v;
    }

    // Format 2: footer, then the index it points at.
    LMGC_CHECK(size - v.payload_begin >= container_footer_bytes, errc::corrupt,
               "truncated .lmgc file (no footer)");
    const bytes foot = in.read(size - container_footer_bytes, container_footer_bytes);
    LMGC_CHECK(std::memcmp(foot.data() + 20, container_end_marker, sizeof container_end_marker) ==
                   0,
               errc::corrupt, "bad end marker (file truncated or damaged)");
    const auto index_offset = load_le<std::uint64_t>(foot.data());
    const auto index_size = load_le<std::uint64_t>(foot.data() + 8);
    const std::uint64_t index_end = size - container_footer_bytes;
    LMGC_CHECK(index_offset >= v.payload_begin && index_offset <= index_end &&
                   index_size == index_end - index_offset && index_size >= 4,
               errc::corrupt, "bad index position in the footer (file damaged)");
    const bytes index = in.read(index_offset, index_size);
    LMGC_CHECK(crc32c(std::span(foot).first(16), crc32c(index)) ==
                   load_le<std::uint32_t>(foot.data() + 16),
               errc::corrupt, "index checksum mismatch (file damaged)");
    // Each index entry takes at least 9 bytes: that bounds the chunk count before any list.
    v.header.chunks = chunks_of_streams(v.header.streams, (index_size - 4) / 9);
    for (const auto& s : v.header.streams)
        LMGC_CHECK(s.chunk_bytes <= container_chunk_max &&
                       (s.chunk_bytes != 0 || s.raw_bytes <= container_chunk_max),
                   errc::corrupt, "chunks of ", s.chunk_bytes ? s.chunk_bytes : s.raw_bytes,
                   " bytes exceed the limit of ", container_chunk_max);
    validate_header(v.header);
    byte_reader r(index, errc::corrupt, "index truncated");
    std::uint64_t pos = v.payload_begin;
    for (auto& c : v.header.chunks) {
        c.coded_bytes = r.varint();
        c.crc32c = r.le<std::uint32_t>();
        c.coded_crc32c = r.le<std::uint32_t>();
        LMGC_CHECK(c.coded_bytes <= index_offset - pos, errc::corrupt,
                   "chunk sizes run past the payload (file damaged)");
        c.file_offset = pos;
        pos += c.coded_bytes;
    }
    v.header.original_crc32c = r.le<std::uint32_t>();
    LMGC_CHECK(r.at_end(), errc::corrupt, "index has ", r.remaining(), " unexpected bytes");
    LMGC_CHECK(pos == index_offset, errc::corrupt, "chunk sizes do not add up to the payload (",
               index_offset - pos, " bytes unaccounted for)");
    v.payload_end = pos;
    return v;
}

container_view read_container(byte_span image) {
    return read_container(memory_source(image));
}

} // namespace lmgc::detail
