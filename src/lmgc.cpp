// Wires the stages together: io finds the tensors, they are grouped into one stream per
// element type, streams are cut into chunks, codecs code the chunks in parallel, and the
// container stores the lot. Decompression runs the same path backwards.
#include "lmgc/lmgc.hpp"

#include "codecs/codec.hpp"
#include "common/common-checksum.hpp"
#include "common/common-error.hpp"
#include "common/common-float.hpp"
#include "common/common-parallel.hpp"
#include "container/container-format.hpp"
#include "io/io-tensor-file.hpp"
#include "preprocess/preprocess-lossy.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstring>
#include <map>
#include <mutex>
#include <numeric>
#include <unistd.h>

namespace lmgc {

using namespace detail;

const char* version() noexcept {
    return LMGC_VERSION;
}

const char* input_format_name(input_format f) noexcept {
    switch (f) {
    case input_format::auto_detect:
        return "auto";
    case input_format::npy:
        return "npy";
    case input_format::safetensors:
        return "safetensors";
    case input_format::torch:
        return "torch";
    case input_format::raw:
        return "raw";
    }
    return "?";
}

double compress_stats::rate_percent() const {
    return tensor_bytes
               ? 100.0 * static_cast<double>(output_bytes) / static_cast<double>(tensor_bytes)
               : 0.0;
}

double compress_stats::rate_vs_preprocessed_percent() const {
    return preprocessed_bytes
               ? 100.0 * static_cast<double>(output_bytes) / static_cast<double>(preprocessed_bytes)
               : 0.0;
}

compress_params default_compress_params() {
    compress_params p;
    p.codec = "";
    p.chunk_bytes = 0;
    p.unchunked = false;
    p.n_threads = 0;
    p.format = input_format::auto_detect;
    p.u2_as_bf16 = false;
    p.seed = 0;
    return p;
}

decompress_params default_decompress_params() {
    decompress_params p;
    p.n_threads = 0;
    return p;
}

std::vector<codec_description> list_codecs() {
    std::vector<codec_description> out;
    const auto def = default_codec_name();
    for (const auto& e : codec_table()) {
        codec_description d;
        d.name = std::string(e.name);
        d.summary = std::string(e.summary);
        d.available = e.available();
        if (!d.available) d.why_missing = "built without " + std::string(e.library);
        d.is_default = e.name == def;
        out.push_back(std::move(d));
    }
    return out;
}

namespace {

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

// Runs job(i) over chunks: those whose codec codes in parallel on the worker threads, the
// others one at a time on this thread.
void run_chunks(const container_header& h, const std::vector<const codec_i*>& codecs, int n_threads,
                const std::function<void(std::size_t)>& job) {
    std::vector<std::size_t> par, seq;
    for (std::size_t i = 0; i < h.chunks.size(); ++i)
        (codecs[h.chunks[i].stream]->parallel() ? par : seq).push_back(i);
    for (const auto i : seq) job(i);
    parallel_for(par.size(), n_threads, [&](std::size_t k) { job(par[k]); });
}

} // namespace

namespace {

// Side information of --preprocess in the header's preprocess_info blob: the seed, then per
// preprocessed tensor its index in the manifest and its side information.
struct preprocess_record {
    std::uint64_t seed = 0;
    std::vector<std::pair<std::uint64_t, bytes>> tensors;

    bytes encode() const {
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
    static preprocess_record decode(byte_span in, std::size_t n_tensors) {
        byte_reader r(in, errc::corrupt, "preprocess information truncated");
        preprocess_record rec;
        rec.seed = r.le<std::uint64_t>();
        const auto n = r.varint_max(n_tensors, "preprocessed tensor count");
        std::uint64_t prev = 0;
        for (std::uint64_t i = 0; i < n; ++i) {
            const auto index = r.varint_max(n_tensors ? n_tensors - 1 : 0, "tensor index");
            LMGC_CHECK(i == 0 || index > prev, errc::corrupt,
                       "preprocess tensor indices out of order");
            prev = index;
            const auto side = r.blob();
            rec.tensors.emplace_back(index, bytes(side.begin(), side.end()));
        }
        LMGC_CHECK(r.at_end(), errc::corrupt, "preprocess information has extra bytes");
        return rec;
    }
};

// Everything compression decides before coding: the header (minus chunk sizes and
// checksums), the stream contents, and the file decompression will give back.
struct compress_plan {
    container_header header;
    std::vector<bytes> stream_data;
    std::vector<std::unique_ptr<codec_i>> codecs;
    bytes expected; // what decompression yields (empty: the input itself)
    std::uint64_t tensor_bytes = 0;
    std::uint64_t side_bytes = 0;
    double err2 = 0, norm2 = 0; // squared reconstruction error and norm, float tensors
};

compress_plan make_plan(std::span<const std::uint8_t> input, const compress_params& params,
                        bool make_codecs) {
    read_options ropt;
    ropt.u2_as_bf16 = params.u2_as_bf16;
    const parsed_file pf = parse_tensor_file(input, params.format, ropt);
    const bool lossy = !params.preprocess.empty();
    const auto steps = lossy ? parse_preprocess(params.preprocess) : std::vector<preprocess_step>{};

    compress_plan plan;
    container_header& h = plan.header;
    h.format = pf.format;
    h.original_bytes = input.size();
    h.skeleton = extract_skeleton(input, pf.tensors);
    h.preprocess = params.preprocess;
    preprocess_record record;
    record.seed = params.seed;
    if (lossy) plan.expected.assign(input.begin(), input.end());

    // One stream per coded element type, in order of first appearance.
    const std::string chosen(params.codec.empty() ? default_codec_name() : params.codec);
    const codec_entry& user_entry = find_codec(chosen);
    std::map<dtype, std::uint32_t> stream_of;
    codec_config cfg;
    cfg.options = params.codec_options;
    for (std::size_t ti = 0; ti < pf.tensors.size(); ++ti) {
        const auto& t = pf.tensors[ti];
        const std::size_t es = dtype_size(t.type);
        bytes data(input.begin() + static_cast<std::ptrdiff_t>(t.offset),
                   input.begin() + static_cast<std::ptrdiff_t>(t.offset + t.nbytes));
        if (t.big_endian) swap_bytes_inplace(data, es);
        dtype coded_type = t.type;
        if (lossy && dtype_is_float(t.type)) {
            auto pp = detail::with_context("tensor '" + t.name + "'", [&] {
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
                std::uint64_t cb = params.chunk_bytes ? params.chunk_bytes : e.default_chunk_bytes;
                s.chunk_bytes = std::max<std::uint64_t>(elem, cb / elem * elem);
            }
            if (make_codecs) {
                plan.codecs.push_back(
                    detail::with_context(std::string(e.name), [&] { return e.make(cfg); }));
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
        ct.stream_bytes = data.size();
        auto& sd = plan.stream_data[si];
        ct.stream_offset = sd.size();
        sd.insert(sd.end(), data.begin(), data.end());
        h.streams[si].raw_bytes += data.size();
        plan.tensor_bytes += t.nbytes;
        h.tensors.push_back(std::move(ct));
    }
    if (lossy) h.preprocess_info = record.encode();
    h.original_crc32c = crc32c(lossy ? byte_span(plan.expected) : input);

    for (std::uint32_t si = 0; si < h.streams.size(); ++si) {
        const auto& s = h.streams[si];
        const std::uint64_t step = s.chunk_bytes ? s.chunk_bytes : s.raw_bytes;
        for (std::uint64_t off = 0; off < s.raw_bytes; off += step) {
            container_chunk c;
            c.stream = si;
            c.stream_offset = off;
            c.raw_bytes = std::min(step, s.raw_bytes - off);
            h.chunks.push_back(c);
        }
    }
    return plan;
}

} // namespace

std::vector<std::uint8_t> expected_output(std::span<const std::uint8_t> input,
                                          const compress_params& params) {
    if (params.preprocess.empty()) return {input.begin(), input.end()};
    return make_plan(input, params, false).expected;
}

std::vector<std::uint8_t> compress(std::span<const std::uint8_t> input,
                                   const compress_params& params, compress_stats* stats) {
    const auto t0 = std::chrono::steady_clock::now();
    compress_plan plan = make_plan(input, params, true);
    container_header& h = plan.header;
    std::vector<const codec_i*> codecs;
    for (const auto& c : plan.codecs) codecs.push_back(c.get());

    std::uint64_t total_raw = 0;
    for (const auto& s : h.streams) total_raw += s.raw_bytes;
    progress_meter meter(params.progress, total_raw);
    std::vector<bytes> payloads(h.chunks.size());
    std::vector<double> ideal(h.chunks.size(), -1.0);
    run_chunks(h, codecs, params.n_threads, [&](std::size_t i) {
        auto& c = h.chunks[i];
        const byte_span raw =
            byte_span(plan.stream_data[c.stream]).subspan(c.stream_offset, c.raw_bytes);
        c.crc32c = crc32c(raw);
        chunk_layout layout = make_layout(h, c);
        layout.ideal_bits = &ideal[i];
        std::uint64_t reported = 0;
        layout.advance = [&](std::uint64_t n) {
            reported += n;
            meter.add(n);
        };
        codecs[c.stream]->encode(raw, layout, payloads[i]);
        c.coded_bytes = payloads[i].size();
        meter.add(c.raw_bytes - std::min(reported, c.raw_bytes));
    });

    bytes image = write_container(h, payloads);
    if (stats) {
        stats->input_bytes = input.size();
        stats->tensor_bytes = plan.tensor_bytes;
        stats->output_bytes = image.size();
        stats->payload_bytes = 0;
        for (const auto& p : payloads) stats->payload_bytes += p.size();
        stats->side_info_bytes = plan.side_bytes;
        stats->preprocessed_bytes = total_raw + plan.side_bytes;
        stats->relative_l2_error = plan.norm2 > 0 ? std::sqrt(plan.err2 / plan.norm2) : 0.0;
        const bool all_modelled =
            std::none_of(ideal.begin(), ideal.end(), [](double b) { return b < 0; });
        stats->ideal_bits = all_modelled ? std::accumulate(ideal.begin(), ideal.end(), 0.0) : -1.0;
        stats->seconds =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    }
    return image;
}

namespace {

void check_memory_for(std::uint64_t n) {
    const long pages = ::sysconf(_SC_PHYS_PAGES);
    const long page = ::sysconf(_SC_PAGESIZE);
    if (pages > 0 && page > 0) {
        const auto phys = static_cast<std::uint64_t>(pages) * static_cast<std::uint64_t>(page);
        LMGC_CHECK(n <= phys, errc::unsupported, "decompressing needs ", n,
                   " bytes of memory, more than this machine has (", phys, ")");
    }
}

} // namespace

std::vector<std::uint8_t> decompress(std::span<const std::uint8_t> image,
                                     const decompress_params& params) {
    const container_view v = read_container(image);
    const container_header& h = v.header;
    const bool lossy = !h.preprocess.empty();
    std::vector<preprocess_step> steps;
    preprocess_record record;
    std::vector<const bytes*> side_of(h.tensors.size(), nullptr);
    if (lossy) {
        steps = detail::with_context("preprocess '" + h.preprocess + "'", [&] {
            try {
                return parse_preprocess(h.preprocess);
            } catch (const error& e) {
                throw error(errc::corrupt, e.what());
            }
        });
        record = preprocess_record::decode(h.preprocess_info, h.tensors.size());
        for (const auto& [index, side] : record.tensors) side_of[index] = &side;
    }
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
    }

    std::uint64_t total_raw = 0;
    for (const auto& s : h.streams) total_raw += s.raw_bytes;
    check_memory_for(h.original_bytes + total_raw);

    std::vector<std::unique_ptr<codec_i>> owned;
    std::vector<const codec_i*> codecs;
    for (const auto& s : h.streams) {
        const codec_entry* e = nullptr;
        for (const auto& row : codec_table())
            if (row.name == s.codec) e = &row;
        LMGC_CHECK(e != nullptr, errc::unsupported, "unknown codec '", s.codec,
                   "' (file written by a newer lmgc?)");
        LMGC_CHECK(e->available(), errc::unsupported, "codec '", s.codec,
                   "' is not built into this lmgc (built without ", e->library, ")");
        codec_config cfg;
        cfg.options = params.codec_options;
        cfg.recorded = s.params;
        cfg.decoding = true;
        owned.push_back(detail::with_context(s.codec, [&] { return e->make(cfg); }));
        codecs.push_back(owned.back().get());
    }

    std::vector<bytes> stream_data(h.streams.size());
    for (std::size_t i = 0; i < h.streams.size(); ++i)
        stream_data[i].resize(h.streams[i].raw_bytes);

    progress_meter meter(params.progress, total_raw);
    run_chunks(h, codecs, params.n_threads, [&](std::size_t i) {
        const auto& c = h.chunks[i];
        const std::span<std::uint8_t> out =
            std::span(stream_data[c.stream]).subspan(c.stream_offset, c.raw_bytes);
        chunk_layout layout = make_layout(h, c);
        std::uint64_t reported = 0;
        layout.advance = [&](std::uint64_t n) {
            reported += n;
            meter.add(n);
        };
        detail::with_context("chunk " + std::to_string(i) + " (" + h.streams[c.stream].codec + ")",
                             [&] { codecs[c.stream]->decode(v.payloads[i], layout, out); });
        LMGC_CHECK(crc32c(out) == c.crc32c, errc::corrupt, "chunk ", i,
                   ": checksum mismatch (file damaged)");
        meter.add(c.raw_bytes - std::min(reported, c.raw_bytes));
    });

    // Reassemble: skeleton bytes between the tensors, tensors back in file byte order.
    bytes out(h.original_bytes);
    std::uint64_t pos = 0, skel = 0;
    auto copy_skeleton = [&](std::uint64_t upto) {
        const auto n = upto - pos;
        if (n) std::memcpy(out.data() + pos, h.skeleton.data() + skel, n);
        skel += n;
        pos = upto;
    };
    for (std::size_t ti = 0; ti < h.tensors.size(); ++ti) {
        const auto& t = h.tensors[ti];
        copy_skeleton(t.file_offset);
        const byte_span coded =
            byte_span(stream_data[t.stream]).subspan(t.stream_offset, t.stream_bytes);
        if (side_of[ti]) {
            const bytes lossy_tensor = detail::with_context("tensor '" + t.name + "'", [&] {
                return preprocess_inverse(coded, *side_of[ti], t.type,
                                          t.nbytes / dtype_size(t.type), steps, record.seed, ti);
            });
            std::memcpy(out.data() + pos, lossy_tensor.data(), t.nbytes);
        } else if (t.nbytes) {
            std::memcpy(out.data() + pos, coded.data(), t.nbytes);
        }
        if (t.big_endian)
            swap_bytes_inplace(std::span(out).subspan(pos, t.nbytes), dtype_size(t.type));
        pos += t.nbytes;
    }
    copy_skeleton(h.original_bytes);
    LMGC_CHECK(crc32c(out) == h.original_crc32c, errc::corrupt,
               "whole-file checksum mismatch (file damaged)");
    return out;
}

file_info inspect(std::span<const std::uint8_t> image) {
    const container_view v = read_container(image);
    const auto& h = v.header;
    file_info fi;
    fi.format_major = h.major;
    fi.format_minor = h.minor;
    fi.source_format = std::string(source_format_name(h.format));
    fi.original_bytes = h.original_bytes;
    fi.file_bytes = image.size();
    fi.skeleton_bytes = h.skeleton.size();
    fi.preprocess = h.preprocess;
    for (const auto& s : h.streams) {
        stream_info si;
        si.codec = s.codec;
        si.dtype = std::string(dtype_name(s.type));
        si.raw_bytes = s.raw_bytes;
        si.chunk_bytes = s.chunk_bytes;
        si.codec_params = s.params;
        fi.streams.push_back(std::move(si));
    }
    for (const auto& t : h.tensors) {
        tensor_info ti;
        ti.name = t.name;
        ti.dtype = std::string(dtype_name(t.type));
        ti.shape = t.shape;
        ti.nbytes = t.nbytes;
        ti.codec = h.streams[t.stream].codec;
        fi.tensor_bytes += t.nbytes;
        fi.tensors.push_back(std::move(ti));
    }
    for (const auto& c : h.chunks)
        fi.chunks.push_back({c.stream, c.raw_bytes, c.coded_bytes, c.crc32c});
    return fi;
}

file_info inspect_file(const std::string& path) {
    const auto data = read_file(path);
    return detail::with_context(path, [&] { return inspect(data); });
}

compress_stats compress_file(const std::string& in_path, const std::string& out_path,
                             const compress_params& params, bool overwrite) {
    const auto data = read_file(in_path);
    compress_stats st;
    const auto image = detail::with_context(in_path, [&] { return compress(data, params, &st); });
    write_file_atomic(out_path, image, overwrite);
    return st;
}

void decompress_file(const std::string& in_path, const std::string& out_path,
                     const decompress_params& params, bool overwrite) {
    const auto image = read_file(in_path);
    const auto data = detail::with_context(in_path, [&] { return decompress(image, params); });
    write_file_atomic(out_path, data, overwrite);
}

} // namespace lmgc
