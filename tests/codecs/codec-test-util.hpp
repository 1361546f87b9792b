// Helpers shared by the codec tests: the codec names to run, direct calls through the codec
// table (bypassing the container), and sample data.
#pragma once

#include "codecs/codec.hpp"
#include "testutil.hpp"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

namespace lmgc::test {

// Every codec of the table that is built in and codes without outside resources ("lm" needs
// a model folder; tests/model/test-codec-lm.cpp covers it with test-made checkpoints).
inline std::vector<std::string> built_in_codecs() {
    std::vector<std::string> out;
    for (const auto& e : detail::codec_table())
        if (e.available() && e.name != "lm") out.emplace_back(e.name);
    return out;
}

// Names gtest's parameterized tests after the codec ('-' is not allowed in names).
struct codec_param_name {
    std::string operator()(const ::testing::TestParamInfo<std::string>& p) const {
        std::string s = p.param;
        for (auto& c : s)
            if (c == '-') c = '_';
        return s;
    }
};

// The codec lmgc records for a tensor of type t when the user asks for codec.
inline std::string expected_codec(const std::string& codec, detail::dtype t) {
    const auto& e = detail::find_codec(codec);
    return e.supports(t) ? codec : std::string(detail::byte_codec_name());
}

inline bytes random_bytes(std::size_t n, std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    bytes b(n);
    for (auto& x : b) x = static_cast<std::uint8_t>(rng());
    return b;
}

// A chunk layout of one tensor covering the whole chunk.
struct one_tensor_layout {
    std::vector<std::int64_t> shape;
    detail::chunk_layout layout;
    one_tensor_layout(detail::dtype t, std::size_t nbytes)
        : shape{static_cast<std::int64_t>(nbytes / detail::dtype_size(t))} {
        layout.type = t;
        layout.tensors.push_back({0, nbytes, shape});
    }
};

// Encodes raw with the named codec directly (no container).
inline bytes encode_direct(const std::string& codec, detail::dtype t, const bytes& raw,
                           std::vector<codec_option> options = {}) {
    const one_tensor_layout l(t, raw.size());
    detail::codec_config cfg;
    cfg.options = std::move(options);
    const auto c = detail::find_codec(codec).make(cfg);
    bytes out;
    c->encode(raw, l.layout, out);
    return out;
}

// Decodes a payload directly into n bytes; throws what the codec throws.
inline bytes decode_direct(const std::string& codec, detail::dtype t, const bytes& coded,
                           std::size_t n) {
    const one_tensor_layout l(t, n);
    detail::codec_config cfg;
    cfg.decoding = true;
    const auto c = detail::find_codec(codec).make(cfg);
    bytes out(n);
    c->decode(coded, l.layout, out);
    return out;
}

} // namespace lmgc::test
