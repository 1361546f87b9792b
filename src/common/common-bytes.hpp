// Little-endian integers, LEB128 varints and bounds-checked byte readers/writers used by
// the container and the file parsers. Any file may include this.
#pragma once

#include "common/common-error.hpp"

#include <bit>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace lmgc::detail {

static_assert(std::endian::native == std::endian::little, "lmgc assumes a little-endian host");

using bytes = std::vector<std::uint8_t>;
using byte_span = std::span<const std::uint8_t>;

template <typename T> T load_le(const std::uint8_t* p) {
    T v;
    std::memcpy(&v, p, sizeof(T));
    return v;
}
template <typename T> void store_le(std::uint8_t* p, T v) {
    std::memcpy(p, &v, sizeof(T));
}

// Reverses the bytes of each element of size elem_size in place.
void swap_bytes_inplace(std::span<std::uint8_t> data, std::size_t elem_size);

// Appends values to a growing buffer.
class byte_writer {
  public:
    explicit byte_writer(bytes& out) : out_(out) {}
    void u8(std::uint8_t v) { out_.push_back(v); }
    template <typename T> void le(T v) {
        const auto n = out_.size();
        out_.resize(n + sizeof(T));
        store_le(out_.data() + n, v);
    }
    void varint(std::uint64_t v) {
        while (v >= 0x80) {
            out_.push_back(static_cast<std::uint8_t>(v | 0x80));
            v >>= 7;
        }
        out_.push_back(static_cast<std::uint8_t>(v));
    }
    void svarint(std::int64_t v) { // zig-zag
        varint((static_cast<std::uint64_t>(v) << 1) ^ static_cast<std::uint64_t>(v >> 63));
    }
    void raw(byte_span s) {
        // resize + memcpy rather than insert: GCC 12 warns falsely on insert after reserve.
        const auto n = out_.size();
        out_.resize(n + s.size());
        if (!s.empty()) std::memcpy(out_.data() + n, s.data(), s.size());
    }
    void str(std::string_view s) { // length-prefixed
        varint(s.size());
        out_.insert(out_.end(), s.begin(), s.end());
    }
    void blob(byte_span s) {
        varint(s.size());
        raw(s);
    }
    std::size_t size() const { return out_.size(); }

  private:
    bytes& out_;
};

// Reads values from untrusted bytes; every overrun throws lmgc::error(code, "<what>: ...").
class byte_reader {
  public:
    byte_reader(byte_span in, errc code = errc::corrupt, std::string what = "truncated data")
        : in_(in), code_(code), what_(std::move(what)) {}
    std::size_t pos() const { return pos_; }
    std::size_t remaining() const { return in_.size() - pos_; }
    bool at_end() const { return pos_ == in_.size(); }
    void need(std::size_t n) const {
        LMGC_CHECK(n <= remaining(), code_, what_, " (need ", n, " bytes at offset ", pos_,
                   ", have ", remaining(), ")");
    }
    std::uint8_t u8() {
        need(1);
        return in_[pos_++];
    }
    template <typename T> T le() {
        need(sizeof(T));
        const T v = load_le<T>(in_.data() + pos_);
        pos_ += sizeof(T);
        return v;
    }
    std::uint64_t varint() {
        std::uint64_t v = 0;
        for (int shift = 0; shift < 64; shift += 7) {
            const std::uint8_t b = u8();
            v |= static_cast<std::uint64_t>(b & 0x7f) << shift;
            if ((b & 0x80) == 0) {
                LMGC_CHECK(shift < 63 || b <= 1, code_, what_, " (varint overflow at offset ", pos_,
                           ")");
                return v;
            }
        }
        LMGC_FAIL(code_, what_, " (varint too long at offset ", pos_, ")");
    }
    // A varint that must not exceed limit (e.g. a count bounded by the remaining bytes).
    std::uint64_t varint_max(std::uint64_t limit, const char* name) {
        const std::uint64_t v = varint();
        LMGC_CHECK(v <= limit, code_, what_, " (", name, " = ", v, " exceeds ", limit, ")");
        return v;
    }
    std::int64_t svarint() {
        const std::uint64_t v = varint();
        return static_cast<std::int64_t>(v >> 1) ^ -static_cast<std::int64_t>(v & 1);
    }
    byte_span raw(std::size_t n) {
        need(n);
        auto s = in_.subspan(pos_, n);
        pos_ += n;
        return s;
    }
    std::string str() {
        const auto n = varint_max(remaining(), "string length");
        auto s = raw(n);
        return std::string(s.begin(), s.end());
    }
    byte_span blob() { return raw(varint_max(remaining(), "blob length")); }

  private:
    byte_span in_;
    std::size_t pos_ = 0;
    errc code_;
    std::string what_;
};

} // namespace lmgc::detail
