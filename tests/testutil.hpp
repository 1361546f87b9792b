// Helpers shared by the tests: deterministic random data, file writers for test fixtures,
// temporary folders, running the CLI.
#pragma once

#include "common/common-bytes.hpp"

#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace lmgc::test {

using detail::bytes;

// Gradient-like float32 values: ~35% exact zeros, the rest Gaussian with a per-block scale.
std::vector<float> gradient_like(std::size_t n, std::uint64_t seed);
// Bytes of a float vector.
bytes float_bytes(const std::vector<float>& v);
// Every special float32 bit pattern worth testing: +-0, +-Inf, NaNs with payloads, denormals,
// min/max normals, plus random patterns.
std::vector<std::uint32_t> special_f32_bits(std::size_t n_random, std::uint64_t seed);

// A .npy file (version 1.0) holding data with the given descr ('<f4', '>f8', ...), shape.
bytes make_npy(const std::string& descr, const std::vector<std::int64_t>& shape,
               const bytes& data, bool fortran = false, int major = 1);

struct st_tensor {
    std::string name, dtype; // safetensors dtype, e.g. "F32"
    std::vector<std::int64_t> shape;
    bytes data;
};
// A .safetensors file with the tensors in the given order and optional metadata.
bytes make_safetensors(const std::vector<st_tensor>& tensors,
                       const std::vector<std::pair<std::string, std::string>>& metadata = {});

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

} // namespace lmgc::test
