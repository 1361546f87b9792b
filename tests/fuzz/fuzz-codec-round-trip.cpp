// Fuzz target for every built codec, through the codec table. Byte 0 picks the codec (its
// remainder by the number of codecs) and the settings (the quotient: 1..9 takes the level's
// settings where that level is this codec, e.g. fast without lag classes at 2), byte 1 the
// element type, byte 2 the output size for the garbage test; the rest is data.
// The data must encode and decode back exactly, and, taken as a coded chunk, must make
// the decoder fail cleanly or fill exactly its output (for `fast` and `planes`, the same
// payload, and the same output, with their SIMD loops and without).
#include "codecs/codec.hpp"
#include "fuzz-common.hpp"

using namespace lmgc;
using namespace lmgc::detail;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 3) return 0;
    std::vector<const codec_entry*> built;
    for (const auto& e : codec_table())
        if (e.available()) built.push_back(&e);
    const codec_entry& e = *built[data[0] % built.size()];
    const auto type = dtype_from_code(1 + data[1] % 13);
    if (!type || !e.supports(*type)) return 0;
    const std::size_t elem = dtype_size(*type);
    byte_span raw(data + 3, size - 3);
    raw = raw.first(raw.size() / elem * elem);

    codec_config cfg;
    const auto variant = static_cast<int>(data[0] / built.size());
    for (const auto& l : level_ladder())
        if (l.level == variant && l.codec == e.name) cfg.options = l.options;
    std::unique_ptr<codec_i> codec;
    try {
        codec = e.make(cfg);
    } catch (const lmgc::error&) {
        return 0; // a codec that needs settings (a model folder) to start
    }
    const std::vector<std::int64_t> shape = {static_cast<std::int64_t>(raw.size() / elem)};
    chunk_layout layout;
    layout.type = *type;
    layout.tensors.push_back({0, raw.size(), shape});

    if (!raw.empty()) {
        bytes coded;
        codec->encode(raw, layout, coded); // valid data: any exception is a bug
        bytes back(raw.size(), 0x5A);
        codec_config dcfg;
        dcfg.recorded = codec->params();
        dcfg.decoding = true;
        const auto decoder = e.make(dcfg);
        decoder->decode(coded, layout, back);
        LMGC_FUZZ_REQUIRE(std::equal(back.begin(), back.end(), raw.begin(), raw.end()));
        if (e.knows_option("simd")) { // the same payload, and its decoding, without SIMD
            codec_config ecfg = cfg;
            ecfg.options.push_back({"simd", "0"});
            bytes portable;
            e.make(ecfg)->encode(raw, layout, portable);
            LMGC_FUZZ_REQUIRE(portable == coded);
            dcfg.options = {{"simd", "0"}};
            std::fill(back.begin(), back.end(), std::uint8_t{0x5A});
            e.make(dcfg)->decode(coded, layout, back);
            LMGC_FUZZ_REQUIRE(std::equal(back.begin(), back.end(), raw.begin(), raw.end()));
        }
    }

    // Arbitrary bytes as a coded chunk of up to 64 KiB elements.
    const std::size_t out_elems = 1 + (data[2] * 257u) % 16384;
    bytes out(out_elems * elem);
    const std::vector<std::int64_t> out_shape = {static_cast<std::int64_t>(out_elems)};
    chunk_layout garbage;
    garbage.type = *type;
    garbage.tensors.push_back({0, out.size(), out_shape});
    fuzz::expect_clean([&] { codec->decode(byte_span(data + 3, size - 3), garbage, out); });

    // A decoder with a SIMD pass (fast, planes): the same output, or the same error, without it.
    if (e.knows_option("simd")) {
        codec_config pcfg;
        pcfg.options = {{"simd", "0"}};
        pcfg.decoding = true;
        const auto portable = e.make(pcfg);
        auto outcome = [&](const codec_i& c) {
            bytes o(out.size(), 0x5A);
            std::string what;
            try {
                c.decode(byte_span(data + 3, size - 3), garbage, o);
            } catch (const lmgc::error& err) {
                what = err.what();
            }
            return std::make_pair(o, what);
        };
        LMGC_FUZZ_REQUIRE(outcome(*codec) == outcome(*portable));
    }
    return 0;
}
