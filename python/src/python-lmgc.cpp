// The extension module lmgc._lmgc: the public C++ API (lmgc.hpp) for the Python package.
// Only python/lmgc/*.py imports it; they map numpy and torch types onto the plain tuples here.
//
// Tensors cross this boundary without copies. Saving: (name, dtype name, shape, buffer)
// tuples become lmgc::tensor_ref pointing at the buffers' memory, held while the GIL is
// released. Loading: lmgc::decompress_tensors asks a Python allocator (from lmgc.numpy or
// lmgc.torch) for each tensor's array or tensor and decodes straight into its memory.
#include "lmgc/lmgc.hpp"

#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <sys/mman.h>
#include <utility>
#include <vector>

namespace py = pybind11;

namespace lmgc::python {

// Bytes of a tensor of this shape and type; usage error for a negative dimension or overflow.
std::uint64_t shape_bytes(const std::vector<std::int64_t>& shape, dtype t,
                          const std::string& name) {
    std::uint64_t n = dtype_size(t);
    for (const auto d : shape) {
        if (d < 0) throw error(errc::usage, "tensor '" + name + "' has a negative dimension");
        const auto u = static_cast<std::uint64_t>(d);
        if (u != 0 && n > (std::uint64_t{1} << 62) / u)
            throw error(errc::usage, "tensor '" + name + "' is too large");
        n *= u;
    }
    return n;
}

// The dtypes, in code order, as Python names them (lmgc's short names).
constexpr std::array<dtype, 13> all_dtypes{
    dtype::f64, dtype::f32, dtype::f16, dtype::bf16, dtype::i8,  dtype::u8,     dtype::i16,
    dtype::u16, dtype::i32, dtype::u32, dtype::i64,  dtype::u64, dtype::boolean};

// Wall seconds the last tensor call on this thread spent inside lmgc::compress_tensors /
// decompress_tensors (the allocator's calls included): examples/bench_overhead.py subtracts
// it from the Python call's time.
thread_local double last_library_seconds = 0;

template <typename Fn> auto timed_library_call(Fn&& fn) {
    struct record {
        std::chrono::steady_clock::time_point t0 = std::chrono::steady_clock::now();
        ~record() {
            last_library_seconds +=
                std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        }
    } r;
    return fn();
}

// Exception classes by errc value, registered by lmgc/_errors.py at import.
std::array<PyObject*, 8> error_classes{};

// A contiguous view of a Python buffer, held while the GIL is released. Holding it keeps
// the object alive and, for numpy, stops it from being resized.
class held_buffer {
  public:
    // Read-only: C-contiguous. Writable: C- or Fortran-contiguous (decoding writes raw bytes).
    explicit held_buffer(py::handle obj, bool writable = false) {
        const int flags = writable ? (PyBUF_ANY_CONTIGUOUS | PyBUF_WRITABLE) : PyBUF_C_CONTIGUOUS;
        if (PyObject_GetBuffer(obj.ptr(), &view_, flags) != 0) {
            PyErr_Clear();
            throw error(errc::usage,
                        std::string(writable ? "expected a writable contiguous buffer, got "
                                             : "expected a C-contiguous buffer (numpy array, "
                                               "bytes), got ") +
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
    void* data() const { return view_.buf; }

  private:
    Py_buffer view_{};
    bool held_ = false;
};

// Python callables (progress, the allocator) called from inside the library, where the GIL
// is released: each call takes the GIL. The first Python exception is kept and every later
// call throws `callback_abort`, which unwinds the library call; rethrow() then raises the
// Python exception (KeyboardInterrupt too) from the call.
struct callback_abort {};
class callback_guard {
  public:
    // With the GIL held: calls fn, keeping a Python exception for rethrow().
    template <typename Fn> auto call(Fn&& fn) {
        if (failed_) throw callback_abort{};
        try {
            return fn();
        } catch (py::error_already_set& e) {
            failed_ = true;
            error_ = std::make_unique<py::error_already_set>(std::move(e));
            throw callback_abort{};
        }
    }
    // With the GIL held, after the call: raises what a callback raised.
    void rethrow() {
        if (error_) throw py::error_already_set(std::move(*error_));
    }

  private:
    bool failed_ = false;
    std::unique_ptr<py::error_already_set> error_;
};

// progress(done, total), called from the library's worker threads.
progress_fn progress_from(const py::object& cb, callback_guard& guard) {
    if (cb.is_none()) return {};
    // Captures raw pointers: copying the std::function must not touch refcounts (it may
    // happen without the GIL). Both outlive the call.
    return [cb = &cb, guard = &guard](std::uint64_t done, std::uint64_t total) {
        py::gil_scoped_acquire gil;
        guard->call([&] { (*cb)(done, total); });
    };
}

// Runs fn with the GIL released; turns a callback's exception back into the Python one.
template <typename Fn> auto without_gil(callback_guard& guard, Fn&& fn) {
    try {
        py::gil_scoped_release release;
        return fn();
    } catch (const callback_abort&) {
        guard.rethrow();
        throw error(errc::internal, "python: a callback failed without an exception");
    }
}

// Asks Linux for huge pages behind a fresh Python bytes object's memory (as numpy does for
// its arrays): a fresh 4 KiB page costs a fault when first written, ~10 us on some virtual
// machines, more than coding its bytes (the core's advise_huge_pages says more).
void advise_huge_pages(void* p, std::size_t n) noexcept {
#ifdef MADV_HUGEPAGE
    constexpr std::uintptr_t huge = std::uintptr_t{2} << 20, page = 4096;
    const auto b = reinterpret_cast<std::uintptr_t>(p);
    if (n < 2 * huge || b > UINTPTR_MAX - n) return;
    const std::uintptr_t first = (b + page - 1) & ~(page - 1), end = (b + n) & ~(page - 1);
    (void)::madvise(reinterpret_cast<void*>(first), end - first, MADV_HUGEPAGE);
#else
    (void)p, (void)n;
#endif
}

// A .lmgc stream written straight into a Python bytes object (what save() returns), so the
// output is not copied again from a std::vector. The object is made large enough for the
// usual case (every coded stream at most its raw size plus room for the container), grown
// with the GIL if the output is larger, and shrunk to the output's length at the end (a
// realloc that does not move large blocks). The object is not shared until finish(), so
// writing into it without the GIL is safe.
class bytes_output {
  public:
    explicit bytes_output(std::uint64_t expected) : capacity_(expected + expected / 64 + 4096) {
        obj_ = PyBytes_FromStringAndSize(nullptr, static_cast<py::ssize_t>(capacity_));
        if (!obj_) throw py::error_already_set();
        advise_huge_pages(PyBytes_AS_STRING(obj_), capacity_);
    }
    ~bytes_output() { Py_XDECREF(obj_); } // with the GIL: the owner lives outside without_gil
    bytes_output(const bytes_output&) = delete;
    bytes_output& operator=(const bytes_output&) = delete;

    write_fn fn() {
        return [self = this](std::span<const std::uint8_t> b) { self->append(b); };
    }
    // With the GIL held, after the call.
    py::bytes finish() {
        if (_PyBytes_Resize(&obj_, static_cast<py::ssize_t>(size_)) != 0)
            throw py::error_already_set();
        return py::reinterpret_steal<py::bytes>(std::exchange(obj_, nullptr));
    }

  private:
    void append(std::span<const std::uint8_t> b) {
        if (b.size() > capacity_ - size_) {
            py::gil_scoped_acquire gil;
            const auto want = std::max(size_ + b.size(), capacity_ + capacity_ / 2);
            if (_PyBytes_Resize(&obj_, static_cast<py::ssize_t>(want)) != 0) {
                PyErr_Clear(); // obj_ is gone: nothing to free
                throw std::bad_alloc();
            }
            capacity_ = want;
        }
        if (!b.empty()) std::memcpy(PyBytes_AS_STRING(obj_) + size_, b.data(), b.size());
        size_ += b.size();
    }
    PyObject* obj_ = nullptr;
    std::uint64_t capacity_ = 0, size_ = 0;
};

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

// The coding arguments every compressing call takes, in this order.
struct coding_args {
    std::string codec;
    int level = 0;
    int threads = 0;
    std::uint64_t chunk_bytes = 0;
    py::object options;
    bool verify = false;
    py::object progress;
};

compress_params make_compress_params(const coding_args& a, callback_guard& guard) {
    if (a.threads < 0) throw error(errc::usage, "threads must be >= 0 (0 = all cores)");
    if (a.level < 0 || a.level > 9)
        throw error(errc::usage, "level must be 1..9 (or None for the default)");
    auto p = default_compress_params();
    p.codec = a.codec;
    p.level = a.level;
    p.n_threads = a.threads;
    p.chunk_bytes = a.chunk_bytes;
    p.codec_options = options_from(a.options);
    p.verify = a.verify;
    p.report_ideal_bits = false; // Python never shows it
    p.progress = progress_from(a.progress, guard);
    return p;
}

decompress_params make_decompress_params(int threads, const py::object& options,
                                         const py::object& progress, callback_guard& guard) {
    if (threads < 0) throw error(errc::usage, "threads must be >= 0 (0 = all cores)");
    auto p = default_decompress_params();
    p.n_threads = threads;
    p.codec_options = options_from(options);
    p.progress = progress_from(progress, guard);
    return p;
}

input_format format_from(const std::string& name) {
    const auto f = input_format_from_name(name);
    if (!f) throw error(errc::usage, "format must be " + input_format_names());
    return *f;
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
// while the GIL is released; the tensor_refs point into them.
struct held_tensors {
    std::vector<tensor_ref> refs;
    std::vector<std::unique_ptr<held_buffer>> buffers;
    std::uint64_t total_bytes = 0;
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
        const auto need = shape_bytes(r.shape, r.type, r.name);
        if (bytes.size() != need)
            throw error(errc::usage, "tensor '" + r.name + "': buffer has " +
                                         std::to_string(bytes.size()) +
                                         " bytes, shape and dtype need " + std::to_string(need));
        r.data = bytes.data();
        h.total_bytes += need;
        h.refs.push_back(std::move(r));
    }
    return h;
}

// The Python allocator's results: what it returned for each tensor (in file order) and the
// held buffers the library decodes into. Destroyed with the GIL held.
struct allocated_tensors {
    std::vector<py::object> objects;
    std::vector<std::unique_ptr<held_buffer>> buffers;
};

// allocate(name, dtype name, shape, fortran_order, big_endian) -> (obj, buffer) or None:
// obj is what the load returns, buffer a writable contiguous buffer of exactly the tensor's
// bytes over obj's memory (the same object for a numpy array); None skips the tensor. Called
// once per tensor from the calling thread before decoding starts (lmgc::tensor_allocator),
// where the GIL is released: it takes the GIL.
tensor_allocator allocator_from(const py::object& allocate, allocated_tensors& out,
                                callback_guard& guard) {
    return [allocate = &allocate, out = &out, guard = &guard](const tensor_info& t) -> void* {
        py::gil_scoped_acquire gil;
        const py::object r = guard->call([&] {
            return (*allocate)(t.name, std::string(dtype_name(t.type)),
                               py::tuple(py::cast(t.shape)), t.fortran_order, t.big_endian);
        });
        if (r.is_none()) {
            out->objects.push_back(py::none());
            return nullptr;
        }
        if (!py::isinstance<py::tuple>(r) || py::len(r) != 2)
            throw error(errc::internal, "python: the allocator returns (object, buffer)");
        const auto pair = r.cast<py::tuple>();
        out->objects.push_back(pair[0]);
        out->buffers.push_back(std::make_unique<held_buffer>(pair[1], true));
        const auto& b = *out->buffers.back();
        if (b.bytes().size() != t.nbytes)
            throw error(errc::internal, "python: the allocator gave " +
                                            std::to_string(b.bytes().size()) + " bytes for '" +
                                            t.name + "', which has " + std::to_string(t.nbytes));
        return b.data();
    };
}

// decode(params, allocator) runs lmgc::decompress_tensors(_file); check() reads the header
// first, so that a torch.save file is refused before anything is allocated.
template <typename Check, typename Decode>
py::tuple decompress_tensors_py(int threads, const py::object& options, const py::object& progress,
                                const py::object& allocate, Check&& check, Decode&& decode) {
    callback_guard guard;
    const auto params = make_decompress_params(threads, options, progress, guard);
    allocated_tensors allocated;
    const auto alloc = allocator_from(allocate, allocated, guard);
    last_library_seconds = 0;
    const auto h = without_gil(guard, [&] {
        if (check() == "torch")
            throw error(errc::unsupported, "this .lmgc file holds a torch.save file, not named "
                                           "tensors: load it with lmgc.torch.load");
        return timed_library_call([&] { return decode(params, alloc); });
    });
    allocated.buffers.clear();
    if (allocated.objects.size() != h.tensors.size())
        throw error(errc::internal, "python: one allocation per tensor expected");
    py::list tensors;
    for (std::size_t i = 0; i < h.tensors.size(); ++i) {
        const auto& t = h.tensors[i];
        tensors.append(py::make_tuple(t.name, std::string(dtype_name(t.type)),
                                      py::tuple(py::cast(t.shape)), t.fortran_order, t.big_endian,
                                      std::move(allocated.objects[i])));
    }
    py::dict metadata;
    for (const auto& [k, v] : h.metadata) metadata[py::str(k)] = v;
    return py::make_tuple(tensors, metadata, h.source_format);
}

py::dict file_info_dict(const file_info& fi) {
    py::dict d;
    d["format_version"] = std::to_string(fi.format_major) + "." + std::to_string(fi.format_minor);
    d["level"] = fi.level;
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
        sd["dtype"] = std::string(dtype_name(s.type));
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
        td["dtype"] = std::string(dtype_name(t.type));
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

    m.def("version", [] { return std::string(lmgc::version()); });

    m.def(
        "_last_library_seconds", [] { return last_library_seconds; },
        "Wall seconds the last tensor call on this thread spent inside "
        "lmgc::compress_tensors / decompress_tensors.");

    m.def("dtype_names", [] {
        py::list out;
        for (const auto t : all_dtypes) out.append(std::string(dtype_name(t)));
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
        [](const py::sequence& tensors, const py::object& metadata, std::string codec, int level,
           int threads, std::uint64_t chunk_bytes, py::object options, bool verify,
           py::object progress, const py::object& out_path, bool overwrite) -> py::object {
            const coding_args args{
                std::move(codec),   level, threads, chunk_bytes, std::move(options), verify,
                std::move(progress)};
            const auto held = hold_tensors(tensors);
            const auto meta = metadata_from(metadata);
            callback_guard guard;
            const auto params = make_compress_params(args, guard);
            last_library_seconds = 0;
            if (out_path.is_none()) {
                std::uint64_t meta_bytes = 0;
                for (const auto& [k, v] : meta) meta_bytes += k.size() + v.size() + 8;
                bytes_output out(held.total_bytes + meta_bytes + 256 * held.refs.size());
                without_gil(guard, [&] {
                    return timed_library_call(
                        [&] { return compress_tensors(held.refs, params, out.fn(), meta); });
                });
                return out.finish();
            }
            const auto path = out_path.cast<std::string>();
            const auto stats = without_gil(guard, [&] {
                return timed_library_call([&] {
                    return compress_tensors_to_file(held.refs, path, params, meta, overwrite);
                });
            });
            return stats_dict(stats);
        },
        py::arg("tensors"), py::arg("metadata"), py::arg("codec"), py::arg("level"),
        py::arg("threads"), py::arg("chunk_bytes"), py::arg("options"), py::arg("verify"),
        py::arg("progress"), py::arg("out_path"), py::arg("overwrite"),
        "Codes (name, dtype, shape, buffer) tuples (lmgc::compress_tensors, no copy of the "
        "buffers); returns the .lmgc bytes, or writes out_path and returns the stats.");

    m.def(
        "decompress_tensors",
        [](const py::buffer& data, int threads, const py::object& options,
           const py::object& progress, const py::object& allocate) {
            const held_buffer held(data);
            return decompress_tensors_py(
                threads, options, progress, allocate,
                [&] { return inspect(held.bytes()).source_format; },
                [&](const decompress_params& p, const tensor_allocator& a) {
                    return lmgc::decompress_tensors(held.bytes(), p, a);
                });
        },
        py::arg("data"), py::arg("threads"), py::arg("options"), py::arg("progress"),
        py::arg("allocate"),
        "Decodes .lmgc bytes into what allocate(name, dtype, shape, fortran_order, big_endian) "
        "returns ((obj, writable buffer) or None). Returns ([(name, dtype, shape, "
        "fortran_order, big_endian, obj)], metadata, source_format); values little-endian.");

    m.def(
        "decompress_tensors_file",
        [](const std::string& path, int threads, const py::object& options,
           const py::object& progress, const py::object& allocate) {
            return decompress_tensors_py(
                threads, options, progress, allocate,
                [&] { return inspect_file(path).source_format; },
                [&](const decompress_params& p, const tensor_allocator& a) {
                    return lmgc::decompress_tensors_file(path, p, a);
                });
        },
        py::arg("path"), py::arg("threads"), py::arg("options"), py::arg("progress"),
        py::arg("allocate"), "decompress_tensors of a file (read as it is decoded).");

    m.def(
        "compress_image",
        [](const py::buffer& data, const std::string& format, std::string codec, int level,
           int threads, std::uint64_t chunk_bytes, py::object options, bool verify,
           py::object progress, const py::object& out_path, bool overwrite) -> py::object {
            const coding_args args{
                std::move(codec),   level, threads, chunk_bytes, std::move(options), verify,
                std::move(progress)};
            const held_buffer held(data);
            callback_guard guard;
            auto params = make_compress_params(args, guard);
            params.format = format_from(format);
            if (out_path.is_none()) {
                bytes_output out(held.bytes().size());
                without_gil(guard, [&] { return compress_to(held.bytes(), params, out.fn()); });
                return out.finish();
            }
            const auto path = out_path.cast<std::string>();
            const auto stats = without_gil(guard, [&] {
                compress_stats st;
                const auto image = compress(held.bytes(), params, &st);
                write_file_atomic(path, image, overwrite);
                return st;
            });
            return stats_dict(stats);
        },
        py::arg("data"), py::arg("format"), py::arg("codec"), py::arg("level"), py::arg("threads"),
        py::arg("chunk_bytes"), py::arg("options"), py::arg("verify"), py::arg("progress"),
        py::arg("out_path"), py::arg("overwrite"),
        "Compresses a tensor file's bytes (npy, safetensors, torch.save).");

    m.def(
        "decompress_image",
        [](const py::object& data, int threads, const py::object& options,
           const py::object& progress) {
            callback_guard guard;
            const auto params = make_decompress_params(threads, options, progress, guard);
            std::vector<std::uint8_t> out;
            if (py::isinstance<py::str>(data)) {
                const auto path = data.cast<std::string>();
                out = without_gil(guard, [&] { return decompress(read_file(path), params); });
            } else {
                const held_buffer held(data);
                out = without_gil(guard, [&] { return decompress(held.bytes(), params); });
            }
            PyObject* b = PyBytes_FromStringAndSize(nullptr, static_cast<py::ssize_t>(out.size()));
            if (!b) throw py::error_already_set();
            advise_huge_pages(PyBytes_AS_STRING(b), out.size());
            if (!out.empty()) std::memcpy(PyBytes_AS_STRING(b), out.data(), out.size());
            return py::reinterpret_steal<py::bytes>(b);
        },
        py::arg("data"), py::arg("threads"), py::arg("options"), py::arg("progress"),
        "The original file's bytes; data is .lmgc bytes or a path (str).");

    m.def(
        "compress_file",
        [](const std::string& in, const std::string& out, const std::string& format,
           std::string codec, int level, int threads, std::uint64_t chunk_bytes, py::object options,
           bool verify, py::object progress, bool overwrite) {
            const coding_args args{
                std::move(codec),   level, threads, chunk_bytes, std::move(options), verify,
                std::move(progress)};
            callback_guard guard;
            auto params = make_compress_params(args, guard);
            params.format = format_from(format);
            const auto stats =
                without_gil(guard, [&] { return lmgc::compress_file(in, out, params, overwrite); });
            return stats_dict(stats);
        },
        py::arg("in_path"), py::arg("out_path"), py::arg("format"), py::arg("codec"),
        py::arg("level"), py::arg("threads"), py::arg("chunk_bytes"), py::arg("options"),
        py::arg("verify"), py::arg("progress"), py::arg("overwrite"));

    m.def(
        "decompress_file",
        [](const std::string& in, const std::string& out, int threads, const py::object& options,
           const py::object& progress, bool overwrite) {
            callback_guard guard;
            const auto params = make_decompress_params(threads, options, progress, guard);
            without_gil(guard, [&] {
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
            const held_buffer held(data);
            return file_info_dict(inspect(held.bytes()));
        },
        py::arg("data"), "What `lmgc info` shows, as a dict; data is .lmgc bytes or a path (str).");
}
