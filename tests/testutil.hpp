// Helpers shared by the tests: deterministic random data, file writers for test fixtures,
// temporary folders, running the CLI.
#pragma once

#include "common/common-bytes.hpp"

#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

namespace lmgc::test {

using detail::bytes;

// Gradient-like float32 values: ~35% exact zeros, the rest Gaussian with a per-block scale.
std::vector<float> gradient_like(std::size_t n, std::uint64_t seed);
// Bytes of a float vector.
bytes float_bytes(const std::vector<float>& v);
// The top 16 bits of each float, little-endian: bf16 by truncation (as f16 bits, some other
// valid value).
bytes top_halves(const std::vector<float>& v);
// Bytes of a vector of plain values (16-bit floats, integers), in this machine's order.
template <typename T> bytes as_bytes(const std::vector<T>& v) {
    bytes b(v.size() * sizeof(T));
    if (!v.empty()) std::memcpy(b.data(), v.data(), b.size());
    return b;
}
// float16 bits of 3x3 conv kernels whose values are mostly zeros and tiny denormals (as
// VGG16's last layers in f16): per kernel position a typical size, signs that mostly repeat
// from kernel to kernel. From an LCG, so that the bytes do not depend on the library.
std::vector<std::uint16_t> tiny_f16_kernels(std::size_t n_kernels, std::uint64_t seed);
// Every special float32 bit pattern worth testing: +-0, +-Inf, NaNs with payloads, denormals,
// min/max normals, plus random patterns.
std::vector<std::uint32_t> special_f32_bits(std::size_t n_random, std::uint64_t seed);

// A .npy file (version 1.0) holding data with the given descr ('<f4', '>f8', ...), shape.
bytes make_npy(const std::string& descr, const std::vector<std::int64_t>& shape, const bytes& data,
               bool fortran = false, int major = 1);

struct st_tensor {
    std::string name, dtype; // safetensors dtype, e.g. "F32"
    std::vector<std::int64_t> shape;
    bytes data;
};
// A .safetensors file with the tensors in the given order and optional metadata.
bytes make_safetensors(const std::vector<st_tensor>& tensors,
                       const std::vector<std::pair<std::string, std::string>>& metadata = {});

// A zip archive of stored (uncompressed) entries laid out as PyTorch writes them: each
// entry's data aligned to 64 bytes by padding in the local header's extra field.
struct zip_options {
    bool zip64 = false;          // zip64 central directory and end records
    bool data_descriptor = true; // sizes after the data (PyTorch's writer), else in the header
    std::uint16_t method = 0;    // claimed compression method (data is stored regardless)
};
bytes make_zip(const std::vector<std::pair<std::string, bytes>>& entries,
               const zip_options& opt = {});

// Writes pickle opcodes (protocol 2), enough for the pickles torch.save writes.
class pickle_writer {
  public:
    pickle_writer& op(std::uint8_t code);
    pickle_writer& proto() { return op(0x80).op(2); }
    pickle_writer& mark() { return op('('); }
    pickle_writer& stop() { return op('.'); }
    pickle_writer& str(const std::string& s); // BINUNICODE
    pickle_writer& integer(std::int64_t v);   // BININT1/2, BININT or LONG1
    pickle_writer& global(const std::string& module, const std::string& name);
    pickle_writer& put(std::uint32_t i); // BINPUT / LONG_BINPUT
    pickle_writer& get(std::uint32_t i); // BINGET / LONG_BINGET
    // _rebuild_tensor_v2(persid(('storage', torch.<cls>, key, 'cpu', numel)), offset,
    // size, stride, False, OrderedDict()) with a contiguous stride.
    pickle_writer& tensor(const std::string& storage_class, const std::string& key,
                          std::int64_t numel, std::int64_t offset,
                          const std::vector<std::int64_t>& shape);
    const bytes& data() const { return out_; }

  private:
    bytes out_;
};

struct torch_tensor {
    std::string name;
    std::string storage_class; // "FloatStorage", "BFloat16Storage", ...
    std::vector<std::int64_t> shape;
    bytes data;
};
// A torch.save file (zip format) of {'state_dict': {name: tensor, ...}, 'batch_step': step},
// laid out as torch 1.13 writes it; each tensor has its own storage, keys "0", "1", ...
bytes make_torch_file(const std::vector<torch_tensor>& tensors, std::int64_t batch_step = 400,
                      const zip_options& opt = {});

// A fresh temporary folder, removed at destruction.
class temp_dir {
  public:
    temp_dir();
    ~temp_dir();
    const std::string& path() const { return path_; }
    std::string file(const std::string& name) const { return path_ + "/" + name; }

  private:
    std::string path_;
};

void write_bytes(const std::string& path, const bytes& data);
bytes read_bytes(const std::string& path);

// Runs a shell command, returns its exit status; stdout+stderr go to *output if given.
int run(const std::string& cmd, std::string* output = nullptr);
// Path of the built lmgc CLI (from LMGC_BIN, set by CTest).
std::string lmgc_bin();
// The source tree (LMGC_SOURCE if set, else the folder this build was configured from).
std::string source_dir();

} // namespace lmgc::test
