// The public API (lmgc.hpp) over the pipeline: sources (memory images, files, tensors in
// memory) and sinks (memory, files, caller buffers) around compress_stream and
// decompress_stream.
#include "lmgc/lmgc.hpp"

#include "codecs/codec.hpp"
#include "common/common-error.hpp"
#include "common/common-json.hpp"
#include "common/common-parallel.hpp"
#include "pipeline/pipeline-tensors.hpp"
#include "pipeline/pipeline.hpp"

#include <algorithm>
#include <cstring>

namespace lmgc {

using namespace detail;

const char* version() noexcept {
    return LMGC_VERSION;
}

namespace {
constexpr input_format_description format_table[] = {
    {input_format::auto_detect, "auto", "",
     "detect from the first bytes (.npy, safetensors, torch.save zip)"},
    {input_format::npy, "npy", "", "NumPy .npy, versions 1-3"},
    {input_format::safetensors, "safetensors", "", ".safetensors"},
    {input_format::torch, "torch", "pt pth ckpt", "PyTorch torch.save zip (.pt, .pth, .ckpt)"},
    {input_format::raw, "raw", "", "raw little-endian float32, no header"},
};
} // namespace

std::span<const input_format_description> input_formats() noexcept {
    return format_table;
}

const char* input_format_name(input_format f) noexcept {
    for (const auto& r : format_table)
        if (r.format == f) return r.name;
    return "?";
}

std::optional<input_format> input_format_from_name(std::string_view name) noexcept {
    for (const auto& r : format_table) {
        if (name == r.name) return r.format;
        std::string_view rest = r.aliases;
        while (!rest.empty()) {
            const auto sp = rest.find(' ');
            if (rest.substr(0, sp) == name) return r.format;
            if (sp == std::string_view::npos) break;
            rest.remove_prefix(sp + 1);
        }
    }
    return std::nullopt;
}

std::string input_format_names() {
    std::string out;
    const std::size_t n = std::size(format_table);
    for (std::size_t i = 0; i < n; ++i)
        out += std::string(i == 0 ? "" : (i + 1 == n ? " or " : ", ")) + format_table[i].name;
    return out;
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
    p.level = 0;
    p.codec = "";
    p.chunk_bytes = 0;
    p.unchunked = false;
    p.n_threads = 0;
    p.format = input_format::auto_detect;
    p.u2_as_bf16 = false;
    p.seed = 0;
    p.verify = false;
    p.report_ideal_bits = true;
    return p;
}

decompress_params default_decompress_params() {
    decompress_params p;
    p.n_threads = 0;
    return p;
}

namespace {
// The codec compress uses when params name none: the default level's.
std::string_view default_params_codec() {
    return codec_for(default_compress_params()).entry->name;
}
} // namespace

std::vector<codec_description> list_codecs() {
    std::vector<codec_description> out;
    const auto def = default_params_codec();
    for (const auto& e : codec_table()) {
        codec_description d;
        d.name = std::string(e.name);
        d.summary = std::string(e.summary);
        d.available = e.available();
        if (!d.available) d.why_missing = "built without " + std::string(e.library);
        d.is_default = e.name == def;
        d.needs_model = e.needs_model;
        d.settings = std::string(e.options);
        out.push_back(std::move(d));
    }
    return out;
}

std::vector<level_description> list_levels() {
    std::vector<level_description> out;
    for (const auto& row : level_ladder()) {
        auto p = default_compress_params();
        p.level = row.level;
        const auto choice = codec_for(p);
        level_description d;
        d.level = row.level;
        d.codec = std::string(choice.entry->name);
        d.codec_params = choice.options;
        d.summary = std::string(row.why);
        d.is_default = row.level == default_level;
        out.push_back(std::move(d));
    }
    return out;
}

namespace {

// Maps a tensor piece to its place in the original file.
class file_layout_sink : public decompress_sink {
  public:
    void begin(const container_header& h) override {
        offsets_.clear();
        for (const auto& t : h.tensors) offsets_.push_back(t.file_offset);
        start(h);
    }
    void skeleton(std::uint64_t offset, byte_span data) override { put(offset, data); }
    void tensor(std::size_t index, std::uint64_t offset, byte_span data) override {
        put(offsets_[index] + offset, data);
    }
    std::uint8_t* place(std::size_t index, std::uint64_t offset, std::uint64_t size) override {
        return memory_at(offsets_[index] + offset, size);
    }

  protected:
    virtual void start(const container_header& h) = 0;
    virtual void put(std::uint64_t offset, byte_span data) = 0;
    // The file's bytes [offset, offset + size) when they are in memory here, else nullptr.
    virtual std::uint8_t* memory_at(std::uint64_t /*offset*/, std::uint64_t /*size*/) {
        return nullptr;
    }

  private:
    std::vector<std::uint64_t> offsets_;
};

// The file in memory: the caller's (decompress_into) or its own (image_sink).
class memory_sink : public file_layout_sink {
  public:
    explicit memory_sink(std::span<std::uint8_t> mem = {}) : mem_(mem) {}

  protected:
    void start(const container_header& h) override {
        LMGC_CHECK(h.original_bytes == mem_.size(), errc::usage, "the output holds ", mem_.size(),
                   " bytes; the file decompresses to ", h.original_bytes);
    }
    void put(std::uint64_t offset, byte_span data) override {
        if (!data.empty()) std::memcpy(mem_.data() + offset, data.data(), data.size());
    }
    std::uint8_t* memory_at(std::uint64_t offset, std::uint64_t size) override {
        return offset <= mem_.size() && size <= mem_.size() - offset ? mem_.data() + offset
                                                                     : nullptr;
    }
    std::span<std::uint8_t> mem_;
};

class image_sink final : public memory_sink {
  public:
    explicit image_sink(int n_threads) : n_threads_(n_threads) {}
    bytes out;

  private:
    void start(const container_header& h) override {
        out.clear();
        reserve_large(out, h.original_bytes);
        // The workers would write each byte once; the zero-fill (resize) writes it first, in
        // this thread: the kernel clears the fresh pages on all of them instead.
        if (out.capacity() >= h.original_bytes)
            populate_parallel(out.data(), h.original_bytes, resolve_threads(n_threads_));
        out.resize(h.original_bytes);
        mem_ = out;
    }
    int n_threads_;
};

class file_sink final : public file_layout_sink {
  public:
    explicit file_sink(output_file& f) : f_(f) {}

  private:
    void start(const container_header&) override {}
    void put(std::uint64_t offset, byte_span data) override { f_.write_at(offset, data); }
    output_file& f_;
};

tensor_info info_of(const container_header& h, const container_tensor& t) {
    tensor_info ti;
    ti.name = t.name;
    ti.type = t.type;
    ti.shape = t.shape;
    ti.nbytes = t.nbytes;
    ti.codec = h.streams[t.stream].codec;
    ti.fortran_order = t.fortran_order;
    ti.big_endian = t.big_endian;
    return ti;
}

// For a .safetensors source, the header's metadata and its empty tensors (which hold no
// bytes, so the manifest leaves them out); offsets are those in the original file.
struct safetensors_extras {
    metadata_t metadata;
    std::vector<std::pair<std::uint64_t, tensor_info>> empty;
};
safetensors_extras safetensors_extras_of(const container_header& h) {
    safetensors_extras x;
    if (h.format != source_format::safetensors || h.skeleton.size() < 8) return x;
    const auto n = load_le<std::uint64_t>(h.skeleton.data());
    LMGC_CHECK(n <= h.skeleton.size() - 8, errc::corrupt, "safetensors header cut short");
    const std::string_view text(reinterpret_cast<const char*>(h.skeleton.data() + 8),
                                static_cast<std::size_t>(n));
    const auto doc = json_parse(text, "safetensors header");
    for (const auto& [name, v] : doc.as_object("safetensors header")) {
        if (name == "__metadata__") {
            for (const auto& [k, val] : v.as_object("__metadata__"))
                x.metadata.emplace_back(k, val.as_string("__metadata__ value"));
            continue;
        }
        const auto& offs = v.at("data_offsets").as_array("data_offsets");
        if (offs.size() != 2 || offs[0].as_uint() != offs[1].as_uint()) continue;
        tensor_info ti;
        ti.name = name;
        const auto& code = v.at("dtype").as_string("dtype");
        static constexpr std::pair<const char*, dtype> codes[] = {
            {"F64", dtype::f64},      {"F32", dtype::f32},    {"F16", dtype::f16},
            {"BF16", dtype::bf16},    {"I8", dtype::i8},      {"U8", dtype::u8},
            {"I16", dtype::i16},      {"U16", dtype::u16},    {"I32", dtype::i32},
            {"U32", dtype::u32},      {"I64", dtype::i64},    {"U64", dtype::u64},
            {"BOOL", dtype::boolean}, {"F8_E4M3", dtype::u8}, {"F8_E5M2", dtype::u8}};
        ti.type = dtype::u8;
        for (const auto& [c, t] : codes)
            if (code == c) ti.type = t;
        for (const auto& d : v.at("shape").as_array("shape")) ti.shape.push_back(d.as_int());
        x.empty.emplace_back(8 + n + offs[0].as_uint(), std::move(ti));
    }
    return x;
}

// Decoded tensors into the caller's buffers.
class tensor_sink final : public decompress_sink {
  public:
    explicit tensor_sink(const tensor_allocator& allocate) : allocate_(allocate) {}
    void begin(const container_header& h) override {
        auto extras = safetensors_extras_of(h);
        result.metadata = std::move(extras.metadata);
        result.source_format = std::string(source_format_name(h.format));
        // File order, empty tensors at their place.
        std::vector<std::pair<std::uint64_t, std::ptrdiff_t>>
            order; // offset, manifest index or -1-k
        for (std::size_t i = 0; i < h.tensors.size(); ++i)
            order.emplace_back(h.tensors[i].file_offset, static_cast<std::ptrdiff_t>(i));
        for (std::size_t k = 0; k < extras.empty.size(); ++k)
            order.emplace_back(extras.empty[k].first, -1 - static_cast<std::ptrdiff_t>(k));
        std::stable_sort(order.begin(), order.end(), [](const auto& a, const auto& b) {
            return a.first < b.first || (a.first == b.first && a.second < 0 && b.second >= 0);
        });
        dest_.assign(h.tensors.size(), nullptr);
        types_.clear();
        for (const auto& t : h.tensors) types_.push_back({t.type, t.big_endian});
        for (const auto& [off, idx] : order) {
            tensor_info ti = idx >= 0 ? info_of(h, h.tensors[static_cast<std::size_t>(idx)])
                                      : extras.empty[static_cast<std::size_t>(-1 - idx)].second;
            void* p = allocate_(ti);
            // Fresh memory from the caller's allocator (torch.empty does not ask for huge pages)
            if (p) advise_huge_pages(p, ti.nbytes);
            if (idx >= 0) dest_[static_cast<std::size_t>(idx)] = static_cast<std::uint8_t*>(p);
            result.tensors.push_back(std::move(ti));
        }
    }
    bool wants(std::size_t index) const override { return dest_[index] != nullptr; }
    // Not for big-endian tensors: those arrive in the file's order and are swapped in tensor().
    std::uint8_t* place(std::size_t index, std::uint64_t offset, std::uint64_t) override {
        return dest_[index] && !types_[index].second ? dest_[index] + offset : nullptr;
    }
    void skeleton(std::uint64_t, byte_span) override {}
    void tensor(std::size_t index, std::uint64_t offset, byte_span data) override {
        std::uint8_t* p = dest_[index] + offset;
        if (!data.empty()) std::memcpy(p, data.data(), data.size());
        if (types_[index].second) // arrived in the file's big-endian order: values are LE here
            swap_bytes_inplace(std::span(p, data.size()), dtype_size(types_[index].first));
    }
    tensors_header result;

  private:
    const tensor_allocator& allocate_;
    std::vector<std::uint8_t*> dest_;
    std::vector<std::pair<dtype, bool>> types_;
};

file_info info_from(const container_view& v) {
    const auto& h = v.header;
    file_info fi;
    fi.format_major = h.major;
    fi.format_minor = h.minor;
    fi.level = h.level;
    fi.source_format = std::string(source_format_name(h.format));
    fi.original_bytes = h.original_bytes;
    fi.file_bytes = v.file_bytes;
    fi.skeleton_bytes = h.skeleton.size();
    fi.preprocess = h.preprocess;
    for (const auto& s : h.streams) {
        stream_info si;
        si.codec = s.codec;
        si.type = s.type;
        si.raw_bytes = s.raw_bytes;
        si.chunk_bytes = s.chunk_bytes;
        si.codec_params = s.params;
        fi.streams.push_back(std::move(si));
    }
    for (const auto& t : h.tensors) {
        fi.tensor_bytes += t.nbytes;
        fi.tensors.push_back(info_of(h, t));
    }
    for (const auto& c : h.chunks)
        fi.chunks.push_back({c.stream, c.raw_bytes, c.coded_bytes, c.crc32c});
    return fi;
}

// For input from a pipe or device: refuse bytes of no known format before reading on.
file_source::prefix_check_fn format_check(const compress_params& params) {
    if (params.format != input_format::auto_detect) return {};
    return [](byte_span prefix) {
        LMGC_CHECK(!prefix.empty(), errc::bad_input,
                   "empty input (use --raw for raw float32 data)");
        LMGC_CHECK(sniff_format(prefix).has_value(), errc::bad_input,
                   "unrecognized file format in the first ", prefix.size(),
                   " bytes (expected .npy, .safetensors or a torch.save zip; use --raw for raw "
                   "little-endian float32)");
    };
}

// For .lmgc input from a pipe or device: refuse a foreign stream before reading on.
void lmgc_magic_check(byte_span prefix) {
    LMGC_CHECK(prefix.size() >= sizeof container_magic &&
                   std::memcmp(prefix.data(), container_magic, sizeof container_magic) == 0,
               errc::corrupt,
               prefix.empty() ? "empty file, not a .lmgc file" : "not a .lmgc file (bad magic)");
}

// Appends to out, which first gets room for `expected` bytes of output (a raw size: coded
// streams are rarely larger), so that it grows in place.
const write_fn& appender(bytes& out, write_fn& fn, std::uint64_t expected) {
    reserve_large(out, coded_room(expected));
    fn = [&out](std::span<const std::uint8_t> b) { out.insert(out.end(), b.begin(), b.end()); };
    return fn;
}

} // namespace

compress_stats compress_to(std::span<const std::uint8_t> input, const compress_params& params,
                           const write_fn& write) {
    const memory_source src(input);
    const compress_input in = parse_input(src, input, params);
    return compress_stream(in, params, write);
}

std::vector<std::uint8_t> compress(std::span<const std::uint8_t> input,
                                   const compress_params& params, compress_stats* stats) {
    bytes out;
    write_fn fn;
    const auto st = compress_to(input, params, appender(out, fn, input.size()));
    if (stats) *stats = st;
    return out;
}

std::vector<std::uint8_t> expected_output(std::span<const std::uint8_t> input,
                                          const compress_params& params) {
    if (params.preprocess.empty()) return {input.begin(), input.end()};
    const memory_source src(input);
    return expected_output(parse_input(src, input, params), params);
}

std::vector<std::uint8_t> decompress(std::span<const std::uint8_t> image,
                                     const decompress_params& params) {
    image_sink sink(params.n_threads);
    decompress_stream(memory_source(image), params, sink);
    return std::move(sink.out);
}

void decompress_into(std::span<const std::uint8_t> image, std::span<std::uint8_t> out,
                     const decompress_params& params) {
    memory_sink sink(out);
    decompress_stream(memory_source(image), params, sink);
}

compress_stats compress_file(const std::string& in_path, const std::string& out_path,
                             const compress_params& params, bool overwrite) {
    return with_context(in_path, [&] {
        const file_source src(in_path, file_source::default_stream_limit, format_check(params));
        const compress_input in = parse_input(src, src.map(), params);
        output_file out(out_path, overwrite);
        const write_fn fn = [&](std::span<const std::uint8_t> b) { out.write(b); };
        const auto st = compress_stream(in, params, fn);
        out.commit();
        return st;
    });
}

compress_stats compress_file_to(const std::string& in_path, const compress_params& params,
                                const write_fn& write) {
    return with_context(in_path, [&] {
        const file_source src(in_path, file_source::default_stream_limit, format_check(params));
        const compress_input in = parse_input(src, src.map(), params);
        return compress_stream(in, params, write);
    });
}

void decompress_file(const std::string& in_path, const std::string& out_path,
                     const decompress_params& params, bool overwrite) {
    with_context(in_path, [&] {
        const file_source src(in_path, file_source::default_stream_limit, lmgc_magic_check);
        output_file out(out_path, overwrite);
        file_sink sink(out);
        decompress_stream(src, params, sink);
        out.commit();
    });
}

file_info inspect(std::span<const std::uint8_t> image) {
    return info_from(read_container(image));
}

file_info inspect_file(const std::string& path) {
    return with_context(path, [&] { return info_from(read_container(file_source(path))); });
}

namespace {
// The pipeline's input for a checked tensor set (the file it stands for: a safetensors image).
compress_input input_of(const tensor_set_source& src) {
    compress_input in;
    in.file = &src;
    in.parsed = src.parsed();
    in.skeleton = src.header();
    return in;
}
} // namespace

compress_stats compress_tensors(std::span<const tensor_ref> tensors, const compress_params& params,
                                const write_fn& write, const metadata_t& metadata) {
    const tensor_set_source src(tensors, metadata);
    return compress_stream(input_of(src), params, write);
}

std::vector<std::uint8_t> compress_tensors(std::span<const tensor_ref> tensors,
                                           const compress_params& params,
                                           const metadata_t& metadata, compress_stats* stats) {
    bytes out;
    write_fn fn;
    const tensor_set_source src(tensors, metadata);
    const auto st = compress_stream(input_of(src), params, appender(out, fn, src.size()));
    if (stats) *stats = st;
    return out;
}

compress_stats compress_tensors_to_file(std::span<const tensor_ref> tensors,
                                        const std::string& out_path, const compress_params& params,
                                        const metadata_t& metadata, bool overwrite) {
    const tensor_set_source src(tensors, metadata);
    output_file out(out_path, overwrite);
    const write_fn fn = [&](std::span<const std::uint8_t> b) { out.write(b); };
    const auto st = compress_stream(input_of(src), params, fn);
    out.commit();
    return st;
}

tensors_header decompress_tensors(std::span<const std::uint8_t> image,
                                  const decompress_params& params,
                                  const tensor_allocator& allocate) {
    tensor_sink sink(allocate);
    decompress_stream(memory_source(image), params, sink);
    return std::move(sink.result);
}

tensors_header decompress_tensors_file(const std::string& path, const decompress_params& params,
                                       const tensor_allocator& allocate) {
    return with_context(path, [&] {
        tensor_sink sink(allocate);
        decompress_stream(file_source(path), params, sink);
        return std::move(sink.result);
    });
}

} // namespace lmgc
