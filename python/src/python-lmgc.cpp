// The extension module lmgc._lmgc: the public C++ API (lmgc.hpp) for the Python package.
// Only python/lmgc/*.py imports it; they map numpy and torch types onto the plain tuples here.
//
// Tensors cross this boundary as (name, dtype name, shape, buffer). Until lmgc.hpp has the
// tensor API (compress_tensors / decompress_tensors), namespace `interim` provides it over
// the image functions by building and parsing a safetensors image; it is the only code that
// changes at the switch (see docs/python.md, "The tensor API switch").
#include "lmgc/lmgc.hpp"

#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstring>
#include <limits>
#include <memory>
#include <mutex>
#include <new>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace py = pybind11;

namespace lmgc::python {

// ---------------------------------------------------------------------------------------
// The tensor API, as lmgc.hpp will declare it (same names, same fields).

/// Element types (the .lmgc codes).
enum class dtype : std::uint8_t {
    f64 = 1,
    f32,
    f16,
    bf16,
    i8,
    u8,
    i16,
    u16,
    i32,
    u32,
    i64,
    u64,
    boolean
};

struct dtype_row {
    dtype type;
    const char* name;        // lmgc's short name, also what Python sees
    const char* safetensors; // the safetensors code
    std::size_t size;
};
constexpr std::array<dtype_row, 13> dtype_rows{{
    {dtype::f64, "f64", "F64", 8},
    {dtype::f32, "f32", "F32", 4},
    {dtype::f16, "f16", "F16", 2},
    {dtype::bf16, "bf16", "BF16", 2},
    {dtype::i8, "i8", "I8", 1},
    {dtype::u8, "u8", "U8", 1},
    {dtype::i16, "i16", "I16", 2},
    {dtype::u16, "u16", "U16", 2},
    {dtype::i32, "i32", "I32", 4},
    {dtype::u32, "u32", "U32", 4},
    {dtype::i64, "i64", "I64", 8},
    {dtype::u64, "u64", "U64", 8},
    {dtype::boolean, "bool", "BOOL", 1},
}};

const dtype_row& row_of(dtype t) {
    for (const auto& r : dtype_rows)
        if (r.type == t) return r;
    throw error(errc::internal, "python: unknown dtype code " + std::to_string(int(t)));
}

std::optional<dtype> dtype_from_name(std::string_view s) {
    for (const auto& r : dtype_rows)
        if (s == r.name) return r.type;
    return std::nullopt;
}

struct tensor_ref {
    std::string name;
    dtype type;
    std::vector<std::int64_t> shape;
    const void* data;
};

using metadata_t = std::vector<std::pair<std::string, std::string>>;

/// One tensor of a decompressed file (lmgc::tensor_info once it gains these fields).
struct tensor_info {
    std::string name;
    dtype type = dtype::u8;
    std::vector<std::int64_t> shape;
    std::uint64_t nbytes = 0;
    bool fortran_order = false;
    bool big_endian = false;
};

/// Returns where a tensor's bytes go (nbytes of them); nullptr skips the tensor.
using tensor_allocator = std::function<void*(const tensor_info&)>;

struct tensors_header {
    std::vector<tensor_info> tensors;
    metadata_t metadata;
    std::string source_format;
};

// Elements of a shape, refusing negative dimensions and overflow.
std::uint64_t shape_bytes(const std::vector<std::int64_t>& shape, dtype t, const std::string& name,
                          errc code) {
    std::uint64_t n = row_of(t).size;
    for (const auto d : shape) {
        if (d < 0) throw error(code, "tensor '" + name + "' has a negative dimension");
        const auto u = static_cast<std::uint64_t>(d);
        if (u != 0 && n > (std::uint64_t{1} << 62) / u)
            throw error(code, "tensor '" + name + "' is too large");
        n *= u;
    }
    return n;
}

// Wall seconds the last call on this thread spent inside lmgc::compress / lmgc::decompress
// (inspect included): examples/bench_overhead.py subtracts it from the Python call's time.
thread_local double last_library_seconds = 0;

template <typename Fn> auto timed_library_call(Fn&& fn) {
    const auto t0 = std::chrono::steady_clock::now();
    struct record {
        std::chrono::steady_clock::time_point t0;
        ~record() {
            last_library_seconds +=
                std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        }
    } r{t0};
    return fn();
}

namespace interim {

// The tensor API over lmgc::compress / lmgc::decompress: a safetensors image in memory.
// Costs one copy of the tensors each way, which the library's tensor API will save.

std::vector<std::uint8_t> safetensors_image(std::span<const tensor_ref> tensors,
                                            const metadata_t& metadata) {
    nlohmann::ordered_json header = nlohmann::ordered_json::object();
    if (!metadata.empty()) {
        auto& m = header["__metadata__"] = nlohmann::ordered_json::object();
        for (const auto& [k, v] : metadata) m[k] = v;
    }
    std::vector<std::uint64_t> sizes;
    std::uint64_t offset = 0;
    for (const auto& t : tensors) {
        if (t.name == "__metadata__")
            throw error(errc::usage, "'__metadata__' is reserved and cannot name a tensor");
        if (header.contains(t.name))
            throw error(errc::usage, "two tensors are named '" + t.name + "'");
        const auto n = shape_bytes(t.shape, t.type, t.name, errc::usage);
        header[t.name] = {{"dtype", row_of(t.type).safetensors},
                          {"shape", t.shape},
                          {"data_offsets", {offset, offset + n}}};
        sizes.push_back(n);
        offset += n;
    }
    std::string text = header.dump();
    // Like the safetensors library: the header is padded with spaces so the data starts at a
    // multiple of 8.
    text.append((8 - text.size() % 8) % 8, ' ');
    std::vector<std::uint8_t> image(8 + text.size() + offset);
    std::uint64_t n = text.size();
    for (int i = 0; i < 8; ++i) image[i] = static_cast<std::uint8_t>(n >> (8 * i));
    std::memcpy(image.data() + 8, text.data(), text.size());
    std::uint8_t* out = image.data() + 8 + text.size();
    for (std::size_t i = 0; i < tensors.size(); ++i) {
        if (sizes[i]) std::memcpy(out, tensors[i].data, sizes[i]);
        out += sizes[i];
    }
    return image;
}

std::vector<std::uint8_t> compress_tensors(std::span<const tensor_ref> tensors,
                                           const compress_params& params,
                                           const metadata_t& metadata = {},
                                           compress_stats* stats = nullptr) {
    const auto image = safetensors_image(tensors, metadata);
    compress_params p = params;
    p.format = input_format::safetensors;
    last_library_seconds = 0;
    return timed_library_call([&] { return compress(image, p, stats); });
}

// Each parser fills the header and the byte range of every tensor in `file`.
struct located {
    tensor_info info;
    std::uint64_t offset = 0;
};

std::vector<located> parse_safetensors(std::span<const std::uint8_t> file, tensors_header& h) {
    auto bad = [](const std::string& why) { return error(errc::bad_input, "safetensors: " + why); };
    if (file.size() < 8) throw bad("file too short for a header");
    std::uint64_t n = 0;
    for (int i = 0; i < 8; ++i) n |= std::uint64_t{file[i]} << (8 * i);
    if (n > file.size() - 8) throw bad("header runs past the end of the file");
    const std::uint64_t data_start = 8 + n, data_size = file.size() - data_start;
    nlohmann::ordered_json doc;
    try {
        doc = nlohmann::ordered_json::parse(file.begin() + 8, file.begin() + 8 + n);
    } catch (const nlohmann::json::exception& e) {
        throw bad(std::string("header is not JSON: ") + e.what());
    }
    if (!doc.is_object()) throw bad("header is not a JSON object");
    std::vector<located> out;
    try {
        for (const auto& [name, v] : doc.items()) {
            if (name == "__metadata__") {
                for (const auto& [k, s] : v.items())
                    h.metadata.emplace_back(k, s.get<std::string>());
                continue;
            }
            located t;
            t.info.name = name;
            const auto code = v.at("dtype").get<std::string>();
            const auto* r = std::find_if(dtype_rows.begin(), dtype_rows.end(),
                                         [&](const dtype_row& x) { return code == x.safetensors; });
            if (r == dtype_rows.end())
                throw error(errc::unsupported, "safetensors: tensor '" + name + "' has dtype '" +
                                                   code +
                                                   "', which lmgc's Python API does not map");
            t.info.type = r->type;
            t.info.shape = v.at("shape").get<std::vector<std::int64_t>>();
            const auto offs = v.at("data_offsets").get<std::vector<std::uint64_t>>();
            if (offs.size() != 2 || offs[0] > offs[1] || offs[1] > data_size)
                throw bad("tensor '" + name + "' has bad data_offsets");
            t.info.nbytes = offs[1] - offs[0];
            if (shape_bytes(t.info.shape, t.info.type, name, errc::bad_input) != t.info.nbytes)
                throw bad("tensor '" + name + "' size does not match its shape");
            t.offset = data_start + offs[0];
            out.push_back(std::move(t));
        }
    } catch (const nlohmann::json::exception& e) {
        throw bad(std::string("malformed header: ") + e.what());
    }
    return out;
}

// .npy (versions 1-3): one tensor named "array", as lmgc names it.
std::vector<located> parse_npy(std::span<const std::uint8_t> file) {
    auto bad = [](const std::string& why) { return error(errc::bad_input, "npy: " + why); };
    if (file.size() < 10 || std::memcmp(file.data(), "\x93NUMPY", 6) != 0)
        throw bad("no npy magic");
    const int major = file[6];
    std::uint64_t hlen = 0, start = 0;
    if (major == 1) {
        hlen = file[8] | (std::uint64_t{file[9]} << 8);
        start = 10;
    } else {
        if (file.size() < 12) throw bad("header truncated");
        for (int i = 0; i < 4; ++i) hlen |= std::uint64_t{file[8 + i]} << (8 * i);
        start = 12;
    }
    if (hlen > file.size() - start) throw bad("header runs past the end of the file");
    const std::string h(reinterpret_cast<const char*>(file.data() + start), hlen);
    auto value_of = [&](const std::string& key) {
        const auto k = h.find("'" + key + "'");
        if (k == std::string::npos) throw bad("header has no '" + key + "'");
        auto p = h.find(':', k);
        if (p == std::string::npos) throw bad("header is malformed");
        p = h.find_first_not_of(' ', p + 1);
        if (p == std::string::npos) throw bad("header is malformed");
        return p;
    };
    located t;
    t.info.name = "array";
    auto p = value_of("descr");
    const auto q = h.find('\'', p + 1);
    if (h[p] != '\'' || q == std::string::npos) throw bad("descr is not a simple type");
    std::string descr = h.substr(p + 1, q - p - 1);
    t.info.big_endian = !descr.empty() && descr[0] == '>';
    if (!descr.empty() &&
        (descr[0] == '<' || descr[0] == '>' || descr[0] == '|' || descr[0] == '='))
        descr = descr.substr(1);
    static const std::pair<const char*, dtype> kinds[] = {
        {"f8", dtype::f64},    {"f4", dtype::f32}, {"f2", dtype::f16}, {"V2", dtype::bf16},
        {"i1", dtype::i8},     {"u1", dtype::u8},  {"i2", dtype::i16}, {"u2", dtype::u16},
        {"i4", dtype::i32},    {"u4", dtype::u32}, {"i8", dtype::i64}, {"u8", dtype::u64},
        {"b1", dtype::boolean}};
    const auto* k = std::find_if(std::begin(kinds), std::end(kinds),
                                 [&](const auto& x) { return descr == x.first; });
    if (k == std::end(kinds))
        throw error(errc::unsupported, "npy: dtype '" + descr + "' has no lmgc Python mapping");
    t.info.type = k->second;
    if (t.info.big_endian && row_of(t.info.type).size == 1) t.info.big_endian = false;
    t.info.fortran_order = h.compare(value_of("fortran_order"), 4, "True") == 0;
    p = value_of("shape");
    const auto e = h.find(')', p);
    if (h[p] != '(' || e == std::string::npos) throw bad("shape is malformed");
    std::string dims = h.substr(p + 1, e - p - 1);
    std::size_t i = 0;
    while (i < dims.size()) {
        while (i < dims.size() && (dims[i] == ' ' || dims[i] == ',')) ++i;
        if (i == dims.size()) break;
        std::size_t used = 0;
        try {
            t.info.shape.push_back(std::stoll(dims.substr(i), &used));
        } catch (const std::exception&) {
            throw bad("shape is malformed");
        }
        i += used;
    }
    t.info.nbytes = shape_bytes(t.info.shape, t.info.type, "array", errc::bad_input);
    t.offset = start + hlen;
    if (t.info.nbytes > file.size() - t.offset) throw bad("data is shorter than the shape");
    return {t};
}

tensors_header decompress_tensors(std::span<const std::uint8_t> image,
                                  const decompress_params& params,
                                  const tensor_allocator& allocate) {
    tensors_header h;
    last_library_seconds = 0;
    h.source_format = timed_library_call([&] { return inspect(image).source_format; });
    if (h.source_format == "torch")
        throw error(errc::unsupported, "this .lmgc file holds a torch.save file, not named "
                                       "tensors: load it with lmgc.torch.load");
    const auto file = timed_library_call([&] { return decompress(image, params); });
    std::vector<located> ts;
    if (h.source_format == "safetensors") {
        ts = parse_safetensors(file, h);
    } else if (h.source_format == "npy") {
        ts = parse_npy(file);
    } else if (h.source_format == "raw") {
        located t;
        t.info = {"data", dtype::f32, {std::int64_t(file.size() / 4)}, file.size() / 4 * 4};
        ts.push_back(t);
    } else {
        throw error(errc::unsupported, "source format '" + h.source_format + "' is not known");
    }
    for (const auto& t : ts) {
        h.tensors.push_back(t.info);
        void* dst = allocate(t.info);
        if (dst && t.info.nbytes) std::memcpy(dst, file.data() + t.offset, t.info.nbytes);
    }
    return h;
}

} // namespace interim

// ---------------------------------------------------------------------------------------
// Python glue.

// Exception classes by errc value, registered by lmgc/_errors.py at import.
std::array<PyObject*, 8> error_classes{};

// Memory that decompressed tensors are written into, handed to Python through the buffer
// protocol (numpy.frombuffer and torch.from_numpy then wrap it without a copy).
class owned_buffer {
  public:
    static constexpr std::size_t alignment = 64;
    explicit owned_buffer(std::size_t n) : size_(n) {
        if (n) data_ = static_cast<std::uint8_t*>(::operator new (n, std::align_val_t{alignment}));
    }
    ~owned_buffer() {
        if (data_) ::operator delete (data_, std::align_val_t{alignment});
    }
    owned_buffer(const owned_buffer&) = delete;
    owned_buffer& operator=(const owned_buffer&) = delete;
    std::uint8_t* data() { return data_ ? data_ : &empty_; }
    std::size_t size() const { return size_; }

  private:
    std::size_t size_;
    std::uint8_t* data_ = nullptr;
    std::uint8_t empty_ = 0;
};

// A C-contiguous view of a Python buffer, held while the GIL is released.
class held_buffer {
  public:
    explicit held_buffer(py::handle obj) {
        if (PyObject_GetBuffer(obj.ptr(), &view_, PyBUF_C_CONTIGUOUS) != 0) {
            PyErr_Clear();
            throw error(errc::usage,
                        std::string("expected a C-contiguous buffer (numpy array, bytes), got ") +
                            Py_TYPE(obj.ptr())->tp_name);
        }
        held_ = true;
    }
    ~held_buffer() {
        if (held_) PyBuffer_Release(&view_);
    }
    held_buffer(const held_buffer&) = delete;
    held_buffer& operator=(const held_buffer&) = delete;
    std::span<const std::uint8_t> bytes() const {
        return {static_cast<const std::uint8_t*>(view_.buf), static_cast<std::size_t>(view_.len)};
    }

  private:
    Py_buffer view_{};
    bool held_ = false;
};

// A Python progress callback called from the library's threads: each call takes the GIL. An
// exception in the callback (KeyboardInterrupt too) stops the coding and is re-raised.
struct callback_abort {};
class progress_bridge {
  public:
    explicit progress_bridge(py::object cb) : cb_(std::move(cb)) {}
    progress_fn fn() {
        if (cb_.is_none()) return {};
        // Captures raw pointers: copying the std::function must not touch refcounts (it may
        // happen without the GIL). cb_ outlives the call.
        return [self = this](std::uint64_t done, std::uint64_t total) {
            py::gil_scoped_acquire gil;
            if (self->failed_) throw callback_abort{};
            try {
                self->cb_(done, total);
            } catch (py::error_already_set& e) {
                self->failed_ = true;
                self->error_ = std::make_unique<py::error_already_set>(std::move(e));
                throw callback_abort{};
            }
        };
    }
    // With the GIL held, after the call: re-raises what the callback raised.
    void rethrow() {
        if (error_) throw py::error_already_set(std::move(*error_));
    }

  private:
    py::object cb_;
    bool failed_ = false;
    std::unique_ptr<py::error_already_set> error_;
};

// Runs fn with the GIL released; turns a callback's exception back into the Python one.
template <typename Fn> auto without_gil(progress_bridge& bridge, Fn&& fn) {
    try {
        py::gil_scoped_release release;
        return fn();
    } catch (const callback_abort&) {
        bridge.rethrow();
        throw error(errc::internal, "progress callback failed");
    }
}

std::vector<codec_option> options_from(const py::object& options) {
    std::vector<codec_option> out;
    if (options.is_none()) return out;
    if (!py::isinstance<py::dict>(options))
        throw error(errc::usage, "options must be a dict of str to str or int");
    for (const auto& [k, v] : options.cast<py::dict>()) {
        if (!py::isinstance<py::str>(k)) throw error(errc::usage, "options keys must be str");
        out.emplace_back(k.cast<std::string>(), py::str(v).cast<std::string>());
    }
    return out;
}

compress_params make_compress_params(const std::string& codec, int level, int threads,
                                     std::uint64_t chunk_bytes, const py::object& options) {
    if (threads < 0) throw error(errc::usage, "threads must be >= 0 (0 = all cores)");
    if (level < 0 || level > 9)
        throw error(errc::usage, "level must be 1..9 (or None for the codec's default)");
    auto p = default_compress_params();
    p.codec = codec;
    p.n_threads = threads;
    p.chunk_bytes = chunk_bytes;
    p.codec_options = options_from(options);
    // Until compress_params has `level`, it goes to the codecs that read a "level" setting
    // (zstd, gzip, png, flac); the others ignore it.
    if (level > 0) p.codec_options.emplace_back("level", std::to_string(level));
    return p;
}

decompress_params make_decompress_params(int threads, const py::object& options) {
    if (threads < 0) throw error(errc::usage, "threads must be >= 0 (0 = all cores)");
    auto p = default_decompress_params();
    p.n_threads = threads;
    p.codec_options = options_from(options);
    return p;
}

metadata_t metadata_from(const py::object& metadata) {
    metadata_t out;
    if (metadata.is_none()) return out;
    if (!py::isinstance<py::dict>(metadata))
        throw error(errc::usage, "metadata must be a dict of str to str");
    for (const auto& [k, v] : metadata.cast<py::dict>()) {
        if (!py::isinstance<py::str>(k) || !py::isinstance<py::str>(v))
            throw error(errc::usage, "metadata must be a dict of str to str");
        out.emplace_back(k.cast<std::string>(), v.cast<std::string>());
    }
    return out;
}

py::dict stats_dict(const compress_stats& s) {
    py::dict d;
    d["input_bytes"] = s.input_bytes;
    d["tensor_bytes"] = s.tensor_bytes;
    d["output_bytes"] = s.output_bytes;
    d["payload_bytes"] = s.payload_bytes;
    d["seconds"] = s.seconds;
    d["rate_percent"] = s.rate_percent();
    return d;
}

// tensors: a sequence of (name, dtype name, shape, buffer). The buffers are held (no copy)
// while the GIL is released.
struct held_tensors {
    std::vector<tensor_ref> refs;
    std::vector<std::unique_ptr<held_buffer>> buffers;
};

held_tensors hold_tensors(const py::sequence& tensors) {
    held_tensors h;
    for (const auto& item : tensors) {
        const auto t = item.cast<py::tuple>();
        if (t.size() != 4) throw error(errc::internal, "python: tensor tuples have 4 fields");
        tensor_ref r;
        r.name = t[0].cast<std::string>();
        const auto type_name = t[1].cast<std::string>();
        const auto type = dtype_from_name(type_name);
        if (!type) throw error(errc::usage, "unknown dtype '" + type_name + "'");
        r.type = *type;
        r.shape = t[2].cast<std::vector<std::int64_t>>();
        h.buffers.push_back(std::make_unique<held_buffer>(t[3]));
        const auto bytes = h.buffers.back()->bytes();
        const auto need = shape_bytes(r.shape, r.type, r.name, errc::usage);
        if (bytes.size() != need)
            throw error(errc::usage, "tensor '" + r.name + "': buffer has " +
                                         std::to_string(bytes.size()) +
                                         " bytes, shape and dtype need " + std::to_string(need));
        r.data = bytes.data();
        h.refs.push_back(std::move(r));
    }
    return h;
}

py::tuple header_to_python(tensors_header&& h,
                           std::vector<std::unique_ptr<owned_buffer>>&& buffers) {
    if (buffers.size() != h.tensors.size())
        throw error(errc::internal, "python: one buffer per tensor expected");
    py::list tensors;
    for (std::size_t i = 0; i < h.tensors.size(); ++i) {
        const auto& t = h.tensors[i];
        tensors.append(py::make_tuple(t.name, row_of(t.type).name, py::tuple(py::cast(t.shape)),
                                      t.fortran_order, t.big_endian,
                                      py::cast(std::move(buffers[i]))));
    }
    py::dict metadata;
    for (const auto& [k, v] : h.metadata) metadata[py::str(k)] = v;
    return py::make_tuple(tensors, metadata, h.source_format);
}

py::tuple decompress_tensors_py(std::span<const std::uint8_t> image, int threads,
                                const py::object& options, const py::object& progress) {
    progress_bridge bridge(progress);
    auto params = make_decompress_params(threads, options);
    params.progress = bridge.fn();
    std::vector<std::unique_ptr<owned_buffer>> buffers;
    auto h = without_gil(bridge, [&] {
        return interim::decompress_tensors(image, params, [&](const tensor_info& t) -> void* {
            buffers.push_back(std::make_unique<owned_buffer>(t.nbytes));
            return buffers.back()->data();
        });
    });
    return header_to_python(std::move(h), std::move(buffers));
}

py::dict file_info_dict(const file_info& fi) {
    py::dict d;
    d["format_version"] = std::to_string(fi.format_major) + "." + std::to_string(fi.format_minor);
    d["source_format"] = fi.source_format;
    d["original_bytes"] = fi.original_bytes;
    d["tensor_bytes"] = fi.tensor_bytes;
    d["file_bytes"] = fi.file_bytes;
    d["skeleton_bytes"] = fi.skeleton_bytes;
    d["preprocess"] = fi.preprocess;
    py::list streams;
    for (const auto& s : fi.streams) {
        py::dict sd;
        sd["codec"] = s.codec;
        sd["dtype"] = s.dtype;
        sd["raw_bytes"] = s.raw_bytes;
        sd["chunk_bytes"] = s.chunk_bytes;
        py::dict params;
        for (const auto& [k, v] : s.codec_params) params[py::str(k)] = v;
        sd["codec_params"] = params;
        streams.append(sd);
    }
    d["streams"] = streams;
    py::list tensors;
    for (const auto& t : fi.tensors) {
        py::dict td;
        td["name"] = t.name;
        td["dtype"] = t.dtype;
        td["shape"] = py::tuple(py::cast(t.shape));
        td["nbytes"] = t.nbytes;
        td["codec"] = t.codec;
        tensors.append(td);
    }
    d["tensors"] = tensors;
    std::uint64_t coded = 0;
    for (const auto& c : fi.chunks) coded += c.coded_bytes;
    d["n_chunks"] = fi.chunks.size();
    d["payload_bytes"] = coded;
    return d;
}

} // namespace lmgc::python

PYBIND11_MODULE(_lmgc, m) {
    using namespace lmgc;
    using namespace lmgc::python;
    m.doc() = "lmgc C++ core; use the lmgc package, not this module";

    py::register_exception_translator([](std::exception_ptr p) {
        try {
            if (p) std::rethrow_exception(p);
        } catch (const lmgc::error& e) {
            const auto code = static_cast<std::size_t>(e.code());
            PyObject* cls = code < error_classes.size() ? error_classes[code] : nullptr;
            PyErr_SetString(cls ? cls : PyExc_RuntimeError, e.what());
        }
    });

    m.def(
        "_register_errors",
        [](const py::sequence& classes) {
            if (classes.size() != error_classes.size())
                throw error(errc::internal, "python: need one class per errc value");
            for (std::size_t i = 0; i < error_classes.size(); ++i) {
                PyObject* c = classes[i].ptr();
                Py_XINCREF(c); // kept for the life of the process
                error_classes[i] = c;
            }
        },
        "Registers the exception class of each errc value (index = value).");

    m.def(
        "_raise",
        [](int code, const std::string& msg) { throw error(static_cast<errc>(code), msg); },
        "Throws lmgc::error(code, msg): lets the tests check the exception mapping.");

    py::class_<owned_buffer, std::unique_ptr<owned_buffer>>(m, "_Buffer", py::buffer_protocol())
        .def_buffer([](owned_buffer& b) {
            return py::buffer_info(b.data(), 1, "B", 1, {static_cast<py::ssize_t>(b.size())},
                                   {py::ssize_t{1}}, false);
        })
        .def("__len__", &owned_buffer::size);

    m.def("version", [] { return std::string(lmgc::version()); });

    m.def(
        "_last_library_seconds", [] { return last_library_seconds; },
        "Wall seconds the last tensor call on this thread spent inside lmgc::compress / "
        "decompress.");

    m.def("dtype_names", [] {
        py::list out;
        for (const auto& r : dtype_rows) out.append(r.name);
        return out;
    });

    m.def("codecs", [] {
        py::list out;
        for (const auto& c : list_codecs()) {
            py::dict d;
            d["name"] = c.name;
            d["summary"] = c.summary;
            d["available"] = c.available;
            d["why_missing"] = c.why_missing;
            d["is_default"] = c.is_default;
            out.append(d);
        }
        return out;
    });

    m.def(
        "compress_tensors",
        [](const py::sequence& tensors, const py::object& metadata, const std::string& codec,
           int level, int threads, std::uint64_t chunk_bytes, const py::object& options,
           const py::object& progress, const py::object& out_path, bool overwrite) -> py::object {
            auto held = hold_tensors(tensors);
            const auto meta = metadata_from(metadata);
            progress_bridge bridge(progress);
            auto params = make_compress_params(codec, level, threads, chunk_bytes, options);
            params.progress = bridge.fn();
            compress_stats stats;
            if (out_path.is_none()) {
                auto image = without_gil(bridge, [&] {
                    return interim::compress_tensors(held.refs, params, meta, &stats);
                });
                return py::bytes(reinterpret_cast<const char*>(image.data()), image.size());
            }
            const auto path = out_path.cast<std::string>();
            without_gil(bridge, [&] {
                const auto image = interim::compress_tensors(held.refs, params, meta, &stats);
                write_file_atomic(path, image, overwrite);
                return 0;
            });
            return stats_dict(stats);
        },
        py::arg("tensors"), py::arg("metadata"), py::arg("codec"), py::arg("level"),
        py::arg("threads"), py::arg("chunk_bytes"), py::arg("options"), py::arg("progress"),
        py::arg("out_path"), py::arg("overwrite"),
        "Codes (name, dtype, shape, buffer) tuples; returns the .lmgc bytes, or writes out_path "
        "and returns the stats.");

    m.def(
        "decompress_tensors",
        [](const py::buffer& data, int threads, const py::object& options,
           const py::object& progress) {
            held_buffer held(data);
            return decompress_tensors_py(held.bytes(), threads, options, progress);
        },
        py::arg("data"), py::arg("threads"), py::arg("options"), py::arg("progress"),
        "Returns ([(name, dtype, shape, fortran_order, big_endian, buffer)], metadata, "
        "source_format).");

    m.def(
        "decompress_tensors_file",
        [](const std::string& path, int threads, const py::object& options,
           const py::object& progress) {
            std::vector<std::uint8_t> image;
            {
                py::gil_scoped_release release;
                image = read_file(path);
            }
            return decompress_tensors_py(image, threads, options, progress);
        },
        py::arg("path"), py::arg("threads"), py::arg("options"), py::arg("progress"));

    m.def(
        "compress_image",
        [](const py::buffer& data, const std::string& format, const std::string& codec, int level,
           int threads, std::uint64_t chunk_bytes, const py::object& options,
           const py::object& progress, const py::object& out_path, bool overwrite) -> py::object {
            held_buffer held(data);
            progress_bridge bridge(progress);
            auto params = make_compress_params(codec, level, threads, chunk_bytes, options);
            params.progress = bridge.fn();
            if (format == "torch")
                params.format = input_format::torch;
            else if (format == "safetensors")
                params.format = input_format::safetensors;
            else if (format == "npy")
                params.format = input_format::npy;
            else if (format == "raw")
                params.format = input_format::raw;
            else if (format != "auto")
                throw error(errc::usage, "format must be auto, npy, safetensors, torch or raw");
            compress_stats stats;
            auto image =
                without_gil(bridge, [&] { return compress(held.bytes(), params, &stats); });
            if (out_path.is_none())
                return py::bytes(reinterpret_cast<const char*>(image.data()), image.size());
            const auto path = out_path.cast<std::string>();
            {
                py::gil_scoped_release release;
                write_file_atomic(path, image, overwrite);
            }
            return stats_dict(stats);
        },
        py::arg("data"), py::arg("format"), py::arg("codec"), py::arg("level"), py::arg("threads"),
        py::arg("chunk_bytes"), py::arg("options"), py::arg("progress"), py::arg("out_path"),
        py::arg("overwrite"), "Compresses a tensor file's bytes (npy, safetensors, torch.save).");

    m.def(
        "decompress_image",
        [](const py::object& data, int threads, const py::object& options,
           const py::object& progress) {
            progress_bridge bridge(progress);
            auto params = make_decompress_params(threads, options);
            params.progress = bridge.fn();
            std::vector<std::uint8_t> out;
            if (py::isinstance<py::str>(data)) {
                const auto path = data.cast<std::string>();
                out = without_gil(bridge, [&] { return decompress(read_file(path), params); });
            } else {
                held_buffer held(data);
                out = without_gil(bridge, [&] { return decompress(held.bytes(), params); });
            }
            return py::bytes(reinterpret_cast<const char*>(out.data()), out.size());
        },
        py::arg("data"), py::arg("threads"), py::arg("options"), py::arg("progress"),
        "The original file's bytes; data is .lmgc bytes or a path (str).");

    m.def(
        "compress_file",
        [](const std::string& in, const std::string& out, const std::string& format,
           const std::string& codec, int level, int threads, std::uint64_t chunk_bytes,
           const py::object& options, const py::object& progress, bool overwrite) {
            progress_bridge bridge(progress);
            auto params = make_compress_params(codec, level, threads, chunk_bytes, options);
            params.progress = bridge.fn();
            if (format == "torch")
                params.format = input_format::torch;
            else if (format == "safetensors")
                params.format = input_format::safetensors;
            else if (format == "npy")
                params.format = input_format::npy;
            else if (format == "raw")
                params.format = input_format::raw;
            else if (format != "auto")
                throw error(errc::usage, "format must be auto, npy, safetensors, torch or raw");
            const auto stats = without_gil(
                bridge, [&] { return lmgc::compress_file(in, out, params, overwrite); });
            return stats_dict(stats);
        },
        py::arg("in_path"), py::arg("out_path"), py::arg("format"), py::arg("codec"),
        py::arg("level"), py::arg("threads"), py::arg("chunk_bytes"), py::arg("options"),
        py::arg("progress"), py::arg("overwrite"));

    m.def(
        "decompress_file",
        [](const std::string& in, const std::string& out, int threads, const py::object& options,
           const py::object& progress, bool overwrite) {
            progress_bridge bridge(progress);
            auto params = make_decompress_params(threads, options);
            params.progress = bridge.fn();
            without_gil(bridge, [&] {
                lmgc::decompress_file(in, out, params, overwrite);
                return 0;
            });
        },
        py::arg("in_path"), py::arg("out_path"), py::arg("threads"), py::arg("options"),
        py::arg("progress"), py::arg("overwrite"));

    m.def(
        "info",
        [](const py::object& data) {
            if (py::isinstance<py::str>(data)) {
                const auto path = data.cast<std::string>();
                file_info fi;
                {
                    py::gil_scoped_release release;
                    fi = inspect_file(path);
                }
                return file_info_dict(fi);
            }
            held_buffer held(data);
            return file_info_dict(inspect(held.bytes()));
        },
        py::arg("data"), "What `lmgc info` shows, as a dict; data is .lmgc bytes or a path (str).");
}
