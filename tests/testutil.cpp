// Test helpers.
#include "testutil.hpp"

#include "common/common-json.hpp"

#include <array>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sys/wait.h>

namespace lmgc::test {

std::vector<float> gradient_like(std::size_t n, std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    std::uniform_real_distribution<float> uni(0.0f, 1.0f);
    std::vector<float> v(n);
    float scale = 1e-3f;
    for (std::size_t i = 0; i < n; ++i) {
        if (i % 1024 == 0) scale = std::pow(10.0f, -2.0f - 3.0f * uni(rng));
        v[i] = uni(rng) < 0.35f ? 0.0f : normal(rng) * scale;
    }
    return v;
}

std::vector<std::uint16_t> tiny_f16_kernels(std::size_t n_kernels, std::uint64_t seed) {
    std::uint64_t s = seed * 2654435761u + 1;
    auto next = [&] {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        return static_cast<std::uint32_t>(s >> 33);
    };
    // Bit widths of the magnitude per kernel position (0: zero), before a per-row shift.
    constexpr int width[9] = {0, 3, 0, 3, 8, 3, 0, 3, 0};
    std::vector<std::uint16_t> v;
    for (std::size_t k = 0; k < n_kernels; ++k) {
        const int shift = static_cast<int>(k / 64 % 3) - 1;
        for (int p = 0; p < 9; ++p) {
            const std::uint32_t r = next();
            int w = width[p] ? width[p] + shift + static_cast<int>(r % 3) - 1 : (r % 8 == 0);
            if (r % 16 == 1) w = 0; // a zero anywhere now and then
            std::uint16_t a = 0;
            if (w > 0)
                a = static_cast<std::uint16_t>((1u << (w - 1)) | (next() & ((1u << (w - 1)) - 1)));
            const bool negative =
                (p % 2 == 0) != (r % 10 == 9); // mostly the same sign per position
            v.push_back(static_cast<std::uint16_t>(a | (a && negative ? 0x8000u : 0u)));
        }
    }
    return v;
}

bytes float_bytes(const std::vector<float>& v) {
    bytes b(v.size() * 4);
    if (!v.empty()) std::memcpy(b.data(), v.data(), b.size());
    return b;
}

bytes top_halves(const std::vector<float>& v) {
    bytes b(v.size() * 2);
    for (std::size_t i = 0; i < v.size(); ++i) {
        std::uint32_t u;
        std::memcpy(&u, &v[i], 4);
        b[2 * i] = static_cast<std::uint8_t>(u >> 16);
        b[2 * i + 1] = static_cast<std::uint8_t>(u >> 24);
    }
    return b;
}

std::vector<std::uint32_t> special_f32_bits(std::size_t n_random, std::uint64_t seed) {
    std::vector<std::uint32_t> v = {
        0x00000000u, 0x80000000u, 0x7f800000u, 0xff800000u, // +-0, +-inf
        0x7fc00000u, 0xffc00000u, 0x7f800001u, 0x7fbfffffu, // quiet/signalling NaNs
        0x7fc12345u, 0xffd2468au,                           // NaN payloads
        0x00000001u, 0x80000001u, 0x007fffffu, 0x807fffffu, // denormals
        0x00800000u, 0x7f7fffffu, 0xff7fffffu, 0x3f800000u, // min/max normal, 1.0
    };
    std::mt19937_64 rng(seed);
    for (std::size_t i = 0; i < n_random; ++i) v.push_back(static_cast<std::uint32_t>(rng()));
    return v;
}

bytes make_npy(const std::string& descr, const std::vector<std::int64_t>& shape, const bytes& data,
               bool fortran, int major) {
    std::string dict = "{'descr': '" + descr +
                       "', 'fortran_order': " + (fortran ? "True" : "False") + ", 'shape': (";
    // numpy's spelling: "()", "(3,)", "(3, 4)"
    for (std::size_t i = 0; i < shape.size(); ++i)
        dict += (i ? ", " : "") + std::to_string(shape[i]);
    dict += shape.size() == 1 ? ",)" : ")";
    dict += ", }";
    const std::size_t prefix = major == 1 ? 10 : 12;
    std::size_t total = prefix + dict.size() + 1;
    const std::size_t pad = (64 - total % 64) % 64;
    dict += std::string(pad, ' ') + "\n";
    bytes out = {0x93, 'N', 'U', 'M', 'P', 'Y', static_cast<std::uint8_t>(major), 0};
    if (major == 1) {
        out.push_back(static_cast<std::uint8_t>(dict.size() & 0xff));
        out.push_back(static_cast<std::uint8_t>(dict.size() >> 8));
    } else {
        for (int i = 0; i < 4; ++i)
            out.push_back(static_cast<std::uint8_t>(dict.size() >> (8 * i)));
    }
    out.insert(out.end(), dict.begin(), dict.end());
    out.insert(out.end(), data.begin(), data.end());
    return out;
}

bytes make_safetensors(const std::vector<st_tensor>& tensors,
                       const std::vector<std::pair<std::string, std::string>>& metadata) {
    using detail::json_value;
    json_value hdr = json_value::make_object();
    if (!metadata.empty()) {
        json_value md = json_value::make_object();
        for (const auto& [k, v] : metadata) md.set(k, json_value::make_string(v));
        hdr.set("__metadata__", md);
    }
    std::uint64_t off = 0;
    for (const auto& t : tensors) {
        json_value o = json_value::make_object();
        o.set("dtype", json_value::make_string(t.dtype));
        json_value shape = json_value::make_array();
        for (const auto d : t.shape)
            shape.push_back(json_value::make_number(static_cast<double>(d)));
        o.set("shape", shape);
        json_value offs = json_value::make_array();
        offs.push_back(json_value::make_number(static_cast<double>(off)));
        offs.push_back(json_value::make_number(static_cast<double>(off + t.data.size())));
        o.set("data_offsets", offs);
        hdr.set(t.name, o);
        off += t.data.size();
    }
    std::string text = hdr.dump();
    text.resize((text.size() + 7) / 8 * 8, ' ');
    bytes out;
    detail::byte_writer w(out);
    w.le<std::uint64_t>(text.size());
    w.raw({reinterpret_cast<const std::uint8_t*>(text.data()), text.size()});
    for (const auto& t : tensors) w.raw(t.data);
    return out;
}

temp_dir::temp_dir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "lmgc-test-XXXXXX").string();
    if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
}
temp_dir::~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
}

void write_bytes(const std::string& path, const bytes& data) {
    std::ofstream f(path, std::ios::binary);
    f.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
    if (!f) throw std::runtime_error("cannot write " + path);
}

bytes read_bytes(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    if (!f) throw std::runtime_error("cannot read " + path);
    return bytes(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

int run(const std::string& cmd, std::string* output) {
    std::string full = cmd + " 2>&1";
    FILE* p = ::popen(full.c_str(), "r");
    if (!p) return -1;
    std::array<char, 4096> buf{};
    std::string out;
    std::size_t n;
    while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
    const int status = ::pclose(p);
    if (output) *output = out;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string lmgc_bin() {
    const char* b = std::getenv("LMGC_BIN");
    return b ? b : "./lmgc";
}

std::string source_dir() {
    const char* s = std::getenv("LMGC_SOURCE");
#ifdef LMGC_TEST_SOURCE_DIR
    return s ? s : LMGC_TEST_SOURCE_DIR;
#else
    return s ? s : ".";
#endif
}

} // namespace lmgc::test

namespace lmgc::test {
namespace {

std::uint32_t crc32_zip(const bytes& data) {
    static const auto table = [] {
        std::array<std::uint32_t, 256> t{};
        for (std::uint32_t i = 0; i < 256; ++i) {
            std::uint32_t c = i;
            for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            t[i] = c;
        }
        return t;
    }();
    std::uint32_t c = 0xFFFFFFFFu;
    for (const auto b : data) c = table[(c ^ b) & 0xFF] ^ (c >> 8);
    return c ^ 0xFFFFFFFFu;
}

} // namespace

bytes make_zip(const std::vector<std::pair<std::string, bytes>>& entries, const zip_options& opt) {
    bytes out;
    detail::byte_writer w(out);
    struct done {
        std::string name;
        std::uint32_t crc;
        std::uint64_t size, offset;
    };
    std::vector<done> central;
    const std::uint16_t flags = (opt.data_descriptor ? 0x0008 : 0) | 0x0800;
    for (const auto& [name, data] : entries) {
        const std::uint64_t offset = out.size();
        const std::uint32_t crc = crc32_zip(data);
        // Pad the local header's extra field (id 'FB', as PyTorch does) to align the data.
        const std::size_t fixed = 30 + name.size() + 4;
        const std::size_t pad = (64 - (offset + fixed) % 64) % 64;
        w.le<std::uint32_t>(0x04034b50);
        w.le<std::uint16_t>(opt.zip64 ? 45 : 20);
        w.le<std::uint16_t>(flags);
        w.le<std::uint16_t>(opt.method);
        w.le<std::uint16_t>(0);
        w.le<std::uint16_t>(0x21);
        w.le<std::uint32_t>(opt.data_descriptor ? 0 : crc);
        w.le<std::uint32_t>(opt.data_descriptor ? 0 : static_cast<std::uint32_t>(data.size()));
        w.le<std::uint32_t>(opt.data_descriptor ? 0 : static_cast<std::uint32_t>(data.size()));
        w.le<std::uint16_t>(static_cast<std::uint16_t>(name.size()));
        w.le<std::uint16_t>(static_cast<std::uint16_t>(4 + pad));
        w.raw({reinterpret_cast<const std::uint8_t*>(name.data()), name.size()});
        w.le<std::uint16_t>(0x4246); // "FB"
        w.le<std::uint16_t>(static_cast<std::uint16_t>(pad));
        out.resize(out.size() + pad, 'Z');
        w.raw(data);
        if (opt.data_descriptor) {
            w.le<std::uint32_t>(0x08074b50);
            w.le<std::uint32_t>(crc);
            if (opt.zip64) {
                w.le<std::uint64_t>(data.size());
                w.le<std::uint64_t>(data.size());
            } else {
                w.le<std::uint32_t>(static_cast<std::uint32_t>(data.size()));
                w.le<std::uint32_t>(static_cast<std::uint32_t>(data.size()));
            }
        }
        central.push_back({name, crc, data.size(), offset});
    }
    const std::uint64_t cd_offset = out.size();
    for (const auto& c : central) {
        w.le<std::uint32_t>(0x02014b50);
        w.le<std::uint16_t>(opt.zip64 ? 45 : 20);
        w.le<std::uint16_t>(opt.zip64 ? 45 : 20);
        w.le<std::uint16_t>(flags);
        w.le<std::uint16_t>(opt.method);
        w.le<std::uint16_t>(0);
        w.le<std::uint16_t>(0x21);
        w.le<std::uint32_t>(c.crc);
        const std::uint32_t big = 0xFFFFFFFFu;
        w.le<std::uint32_t>(opt.zip64 ? big : static_cast<std::uint32_t>(c.size));
        w.le<std::uint32_t>(opt.zip64 ? big : static_cast<std::uint32_t>(c.size));
        w.le<std::uint16_t>(static_cast<std::uint16_t>(c.name.size()));
        w.le<std::uint16_t>(opt.zip64 ? 28 : 0);
        w.le<std::uint16_t>(0);
        w.le<std::uint16_t>(0);
        w.le<std::uint16_t>(0);
        w.le<std::uint32_t>(0);
        w.le<std::uint32_t>(opt.zip64 ? big : static_cast<std::uint32_t>(c.offset));
        w.raw({reinterpret_cast<const std::uint8_t*>(c.name.data()), c.name.size()});
        if (opt.zip64) {
            w.le<std::uint16_t>(1);
            w.le<std::uint16_t>(24);
            w.le<std::uint64_t>(c.size);
            w.le<std::uint64_t>(c.size);
            w.le<std::uint64_t>(c.offset);
        }
    }
    const std::uint64_t cd_size = out.size() - cd_offset;
    if (opt.zip64) {
        const std::uint64_t rec = out.size();
        w.le<std::uint32_t>(0x06064b50);
        w.le<std::uint64_t>(44);
        w.le<std::uint16_t>(45);
        w.le<std::uint16_t>(45);
        w.le<std::uint32_t>(0);
        w.le<std::uint32_t>(0);
        w.le<std::uint64_t>(central.size());
        w.le<std::uint64_t>(central.size());
        w.le<std::uint64_t>(cd_size);
        w.le<std::uint64_t>(cd_offset);
        w.le<std::uint32_t>(0x07064b50);
        w.le<std::uint32_t>(0);
        w.le<std::uint64_t>(rec);
        w.le<std::uint32_t>(1);
    }
    w.le<std::uint32_t>(0x06054b50);
    w.le<std::uint16_t>(0);
    w.le<std::uint16_t>(0);
    const auto n16 = static_cast<std::uint16_t>(opt.zip64 ? 0xFFFF : central.size());
    w.le<std::uint16_t>(n16);
    w.le<std::uint16_t>(n16);
    w.le<std::uint32_t>(opt.zip64 ? 0xFFFFFFFFu : static_cast<std::uint32_t>(cd_size));
    w.le<std::uint32_t>(opt.zip64 ? 0xFFFFFFFFu : static_cast<std::uint32_t>(cd_offset));
    w.le<std::uint16_t>(0);
    return out;
}

pickle_writer& pickle_writer::op(std::uint8_t code) {
    out_.push_back(code);
    return *this;
}

pickle_writer& pickle_writer::str(const std::string& s) {
    op('X');
    detail::byte_writer(out_).le<std::uint32_t>(static_cast<std::uint32_t>(s.size()));
    out_.insert(out_.end(), s.begin(), s.end());
    return *this;
}

pickle_writer& pickle_writer::integer(std::int64_t v) {
    detail::byte_writer w(out_);
    if (v >= 0 && v < 256) return op('K').op(static_cast<std::uint8_t>(v));
    if (v >= 0 && v < 65536) {
        op('M');
        w.le<std::uint16_t>(static_cast<std::uint16_t>(v));
    } else if (v >= INT32_MIN && v <= INT32_MAX) {
        op('J');
        w.le<std::int32_t>(static_cast<std::int32_t>(v));
    } else {
        op(0x8a).op(8);
        w.le<std::int64_t>(v);
    }
    return *this;
}

pickle_writer& pickle_writer::global(const std::string& module, const std::string& name) {
    op('c');
    const std::string text = module + "\n" + name + "\n";
    out_.insert(out_.end(), text.begin(), text.end());
    return *this;
}

pickle_writer& pickle_writer::put(std::uint32_t i) {
    if (i < 256) return op('q').op(static_cast<std::uint8_t>(i));
    op('r');
    detail::byte_writer(out_).le<std::uint32_t>(i);
    return *this;
}

pickle_writer& pickle_writer::get(std::uint32_t i) {
    if (i < 256) return op('h').op(static_cast<std::uint8_t>(i));
    op('j');
    detail::byte_writer(out_).le<std::uint32_t>(i);
    return *this;
}

pickle_writer& pickle_writer::tensor(const std::string& storage_class, const std::string& key,
                                     std::int64_t numel, std::int64_t offset,
                                     const std::vector<std::int64_t>& shape) {
    global("torch._utils", "_rebuild_tensor_v2");
    mark();
    mark().str("storage").global("torch", storage_class).str(key).str("cpu").integer(numel).op('t');
    op('Q');
    integer(offset);
    mark();
    for (const auto d : shape) integer(d);
    op('t');
    mark();
    std::int64_t stride = 1;
    std::vector<std::int64_t> strides(shape.size());
    for (std::size_t d = shape.size(); d-- > 0;) {
        strides[d] = stride;
        stride *= shape[d];
    }
    for (const auto s : strides) integer(s);
    op('t');
    op(0x89); // False
    global("collections", "OrderedDict").op(')').op('R');
    op('t');
    return op('R');
}

bytes make_torch_file(const std::vector<torch_tensor>& tensors, std::int64_t batch_step,
                      const zip_options& opt) {
    pickle_writer p;
    p.proto().op('}').mark().str("state_dict").op('}').mark();
    std::vector<std::pair<std::string, bytes>> entries;
    entries.emplace_back("archive/data.pkl", bytes{});
    for (std::size_t i = 0; i < tensors.size(); ++i) {
        const auto& t = tensors[i];
        std::int64_t numel = 1;
        for (const auto d : t.shape) numel *= d;
        p.str(t.name).tensor(t.storage_class, std::to_string(i), numel, 0, t.shape);
        entries.emplace_back("archive/data/" + std::to_string(i), t.data);
    }
    p.op('u').str("batch_step").integer(batch_step).op('u').stop();
    entries[0].second = p.data();
    entries.emplace_back("archive/version", bytes{'3', '\n'});
    return make_zip(entries, opt);
}

} // namespace lmgc::test
