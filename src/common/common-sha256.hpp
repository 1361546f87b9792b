// SHA-256 (FIPS 180-4), for model fingerprints: what a .lmgc file records about the model
// that decoding needs. Portable C++, no library. Any file may include this.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace lmgc::detail {

using sha256_digest = std::array<std::uint8_t, 32>;

class sha256 {
  public:
    sha256() { reset(); }
    void reset();
    void update(std::span<const std::uint8_t> data);
    void update(std::string_view s) {
        update({reinterpret_cast<const std::uint8_t*>(s.data()), s.size()});
    }
    // Finishes and returns the digest; the object must be reset() before reuse.
    sha256_digest final();

  private:
    void block(const std::uint8_t* p);
    std::array<std::uint32_t, 8> h_{};
    std::array<std::uint8_t, 64> buf_{};
    std::size_t n_buf_ = 0;
    std::uint64_t n_bytes_ = 0;
};

sha256_digest sha256_of(std::span<const std::uint8_t> data);
// Lowercase hex of a digest.
std::string sha256_hex(const sha256_digest& d);

} // namespace lmgc::detail
