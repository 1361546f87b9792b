// Seed inputs of the fuzz targets: small valid files of every kind the targets read, so a
// short run starts from deep inside the formats rather than from random bytes.
#include "codecs/codec.hpp"
#include "fuzz-common.hpp"
#include "testutil.hpp"

#include "lmgc/lmgc.hpp"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>

namespace lmgc::fuzz {

const char* const targets[7] = {"container_decode", "coder_round_trip", "codec_round_trip",
                                "shape_round_trip", "io_npy",           "io_safetensors",
                                "io_torch"};

namespace {

using detail::bytes;

bytes random_bytes(std::size_t n, std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    bytes b(n);
    for (auto& x : b) x = static_cast<std::uint8_t>(rng());
    return b;
}

std::vector<bytes> tensor_files() {
    using test::float_bytes;
    using test::gradient_like;
    std::vector<bytes> out;
    out.push_back(test::make_npy("<f4", {64}, float_bytes(gradient_like(64, 1))));
    out.push_back(test::make_npy(">f8", {3, 4}, random_bytes(96, 2), true, 2));
    out.push_back(test::make_npy("<V2", {5}, random_bytes(10, 3), false, 3));
    out.push_back(test::make_npy("<f4", {0}, {}));
    out.push_back(
        test::make_safetensors({{"a.weight", "F32", {4, 4}, float_bytes(gradient_like(16, 4))},
                                {"a.bias", "BF16", {3}, random_bytes(6, 5)},
                                {"steps", "I64", {1}, random_bytes(8, 6)}},
                               {{"format", "pt"}}));
    out.push_back(test::make_torch_file(
        {{"conv.weight", "FloatStorage", {2, 3}, float_bytes(gradient_like(6, 7))},
         {"conv.bias", "HalfStorage", {2}, random_bytes(4, 8)},
         {"n", "LongStorage", {}, random_bytes(8, 9)}}));
    test::zip_options z64;
    z64.zip64 = true;
    z64.data_descriptor = false;
    out.push_back(
        test::make_torch_file({{"w", "BFloat16Storage", {4}, random_bytes(8, 10)}}, 7, z64));
    return out;
}

} // namespace

std::vector<bytes> make_seeds(std::string_view target) {
    std::vector<bytes> seeds;
    const auto files = tensor_files();
    if (target == "container_decode") {
        for (const auto& f : files)
            for (const char* codec : {"store", "zstd", "gzip"}) {
                auto p = default_compress_params();
                p.codec = codec;
                p.chunk_bytes = 32;
                try {
                    seeds.push_back(compress(f, p));
                } catch (const error&) {
                    // codec not built in
                }
            }
        auto p = default_compress_params();
        p.format = input_format::raw;
        seeds.push_back(compress(test::float_bytes(test::gradient_like(100, 11)), p));
    } else if (target == "coder_round_trip") {
        for (std::uint8_t mode = 0; mode < 8; ++mode) {
            bytes s = random_bytes(300 + 200 * mode, 20 + mode);
            s[0] = mode;
            s[1] = static_cast<std::uint8_t>(mode * 37);
            seeds.push_back(std::move(s));
        }
    } else if (target == "codec_round_trip") {
        const auto grads = test::float_bytes(test::gradient_like(512, 12));
        for (std::uint8_t codec = 0; codec < 16; ++codec)
            for (const std::uint8_t type : {0, 1, 2, 3, 4, 5}) { // f64, f32, f16, bf16, i8, u8
                bytes s = {codec, type, static_cast<std::uint8_t>(codec * 13)};
                s.insert(s.end(), grads.begin(), grads.end());
                seeds.push_back(std::move(s));
            }
        // Valid payloads of "fast" and "planes" in each float type, decoded into the 515
        // values they hold (byte 2 = 2: 1 + 2 * 257 values), so that mutations reach deep
        // into their decoders.
        std::uint8_t index = 0;
        for (const auto& e : detail::codec_table()) {
            if (!e.available()) continue;
            // A payload of `raw` decoded into its 1 + count_byte * 257 values.
            auto seed_of = [&](detail::dtype t, const bytes& raw, std::uint8_t count_byte) {
                const std::vector<std::int64_t> shape = {
                    static_cast<std::int64_t>(raw.size() / detail::dtype_size(t))};
                detail::chunk_layout layout;
                layout.type = t;
                layout.tensors.push_back({0, raw.size(), shape});
                bytes s = {index, static_cast<std::uint8_t>(static_cast<int>(t) - 1), count_byte};
                e.make(detail::codec_config{})->encode(raw, layout, s);
                return s;
            };
            // 515 values of gradient bits in each float type (f64, f32, f16, bf16), with
            // `zeros` of them zero from value 100 on, and every `scatter`-th one from value 3
            // on; with dense_version (planes' dense mode, payload version 2 or 3), no other
            // value zero.
            auto float_seeds = [&](std::uint64_t seed, std::size_t zeros, int dense_version = 0,
                                   std::size_t scatter = 0) {
                for (const auto t : {detail::dtype::f64, detail::dtype::f32, detail::dtype::f16,
                                     detail::dtype::bf16}) {
                    const std::size_t elem = detail::dtype_size(t);
                    bytes raw(515 * elem);
                    const auto g = test::gradient_like((515 * elem + 3) / 4, seed);
                    std::memcpy(raw.data(), g.data(), raw.size());
                    for (std::size_t i = 0; dense_version && i < 515; ++i) raw[i * elem] |= 1;
                    std::memset(raw.data() + 100 * elem, 0, zeros * elem);
                    for (std::size_t i = 3; scatter && i < 515; i += scatter)
                        std::memset(raw.data() + i * elem, 0, elem);
                    bytes s = seed_of(t, raw, 2);
                    if (dense_version && (s.size() < 6 || s[3] != dense_version || s[5] != 2)) {
                        std::fprintf(stderr,
                                     "fuzz seeds: the planes seed meant for the dense "
                                     "mode at version %d is not in it\n",
                                     dense_version);
                        std::abort();
                    }
                    seeds.push_back(std::move(s));
                }
            };
            if (e.name == "planes") {
                float_seeds(15, 60);        // a run of zeros: both kinds of context
                float_seeds(16, 60, 3);     // a run of zeros only: the dense mode, a run list
                float_seeds(17, 0, 2);      // no zeros: the dense mode without runs
                float_seeds(18, 20, 3, 90); // short runs too: a longer run list
            }
            if (e.name == "fast") {
                float_seeds(13, 0);
                // And one in payload version 2 (lag classes over tiny f16 denormals), of
                // 1 + 40 * 257 = 10281 values (byte 2 = 40): fewer get no lag.
                bytes tiny = test::as_bytes(test::tiny_f16_kernels(1143, 3));
                tiny.resize(10281 * 2);
                bytes s = seed_of(detail::dtype::f16, tiny, 40);
                if (s.size() < 4 || s[3] != 2) {
                    std::fprintf(stderr, "fuzz seeds: the fast seed meant for payload version "
                                         "2 is not in it\n");
                    std::abort();
                }
                // The same values at level 2's settings (byte 0 + twice the number of codecs:
                // no lag classes), for the round trip.
                std::uint8_t n_built = 0;
                for (const auto& b : detail::codec_table()) n_built += b.available() ? 1 : 0;
                bytes level2 = s;
                level2[0] = static_cast<std::uint8_t>(index + 2 * n_built);
                seeds.push_back(std::move(s));
                seeds.push_back(std::move(level2));
            }
            ++index;
        }
    } else if (target == "shape_round_trip") {
        // codec, kind, type, rank, 4 dims, chunk, flags, then values
        const auto grads = test::float_bytes(test::gradient_like(256, 14));
        for (std::uint8_t i = 0; i < 32; ++i) {
            bytes s = {i,
                       static_cast<std::uint8_t>(i / 3),
                       static_cast<std::uint8_t>(i / 5),
                       static_cast<std::uint8_t>(1 + i % 4),
                       7,
                       13,
                       3,
                       2,
                       static_cast<std::uint8_t>(i),
                       static_cast<std::uint8_t>(i % 4)};
            s.insert(s.end(), grads.begin(), grads.end());
            seeds.push_back(std::move(s));
        }
    } else if (target == "io_npy") {
        for (std::size_t i = 0; i < 4; ++i) seeds.push_back(files[i]);
    } else if (target == "io_safetensors") {
        seeds.push_back(files[4]);
    } else if (target == "io_torch") {
        seeds.push_back(files[5]);
        seeds.push_back(files[6]);
    }
    return seeds;
}

} // namespace lmgc::fuzz
