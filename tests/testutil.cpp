// Test helpers.
#include "testutil.hpp"

#include "common/common-json.hpp"

#include <gtest/gtest.h>

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

bytes float_bytes(const std::vector<float>& v) {
    bytes b(v.size() * 4);
    if (!v.empty()) std::memcpy(b.data(), v.data(), b.size());
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

bytes make_npy(const std::string& descr, const std::vector<std::int64_t>& shape,
               const bytes& data, bool fortran, int major) {
    std::string dict = "{'descr': '" + descr + "', 'fortran_order': " +
                       (fortran ? "True" : "False") + ", 'shape': (";
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
        for (int i = 0; i < 4; ++i) out.push_back(static_cast<std::uint8_t>(dict.size() >> (8 * i)));
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
        for (const auto d : t.shape) shape.push_back(json_value::make_number(static_cast<double>(d)));
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

} // namespace lmgc::test
