// "cm": the context-mixing prior (model/model-ctxmix.hpp) driving the range coder; the
// default codec for float tensors. Payload of a chunk (docs/cm.md):
//   u8 version (1), u8 dtype code, u8 mode: 1 stored (the raw bytes follow; used when the
//   model would expand the data, e.g. random bit patterns), 0 modelled:
//   varint mant_modelled, varint zero_low,
//   varint n_segments, n_segments x (varint start delta, kernel, width, phase, row),
//   varint data_size, then data_size bytes of range-coded values, then any bytes of a partial
//   trailing element as raw bits, then a 24-bit end marker (raw bits) that the decoder checks.
#include "codecs/codec.hpp"

#include "coder/coder-range.hpp"
#include "model/model-ctxmix-v1.hpp"
#include "model/model-ctxmix.hpp"

#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace lmgc::detail {
namespace {

using namespace ctxmix;

// The encoder writes the current version; the decoder reads it and version 1 (the frozen
// model of model-ctxmix-v1.hpp).
constexpr std::uint8_t payload_version = 2;
// Values coded between progress reports.
constexpr std::size_t progress_step = 1 << 16;
// Coded after the values. Decoding it back proves the stream was complete (a truncated one
// decodes zeros) and keeps the last coded bytes nonzero, so the encoder's trimming of
// trailing zero bytes never takes real data.
constexpr std::uint32_t end_marker = 0xC3A55A;

// The cost in 1/256 bit of coding bit y with P(1) = (i + 0.5) / 4096, at c[y * 4096 + i]:
// the encoder's running ideal code length (reported to the driver, never part of the
// stream).
struct cost_table {
    std::uint16_t c[2 * 4096];
    cost_table() {
        for (int i = 0; i < 4096; ++i) {
            const double p1 = (i + 0.5) / 4096.0;
            c[i] = static_cast<std::uint16_t>(std::lround(-std::log2(1 - p1) * 256.0));
            c[4096 + i] = static_cast<std::uint16_t>(std::lround(-std::log2(p1) * 256.0));
        }
    }
};
const cost_table& costs() {
    static const cost_table t;
    return t;
}

// The raw bits of a version-2 payload (the low mantissa bits, escape bits, the bytes of a
// partial trailing element): packed LSB first into bytes after the range-coded data, so
// that the coder only carries the modelled decisions. Up to 32 bits per call.
class raw_bit_writer {
  public:
    // cap: an upper bound on the bytes the chunk can write.
    explicit raw_bit_writer(std::size_t cap) : out_(cap + 8) {}
    void put(std::uint32_t v, unsigned n) {
        acc_ |= std::uint64_t{v} << fill_;
        fill_ += n;
        if (fill_ >= 32) {
            LMGC_ASSERT(pos_ + 4 <= out_.size());
            store_le(out_.data() + pos_, static_cast<std::uint32_t>(acc_));
            pos_ += 4;
            acc_ >>= 32;
            fill_ -= 32;
        }
    }
    // The packed bits; the last byte is padded with zero bits.
    bytes finish() {
        for (; fill_ > 0; fill_ = fill_ > 8 ? fill_ - 8 : 0, acc_ >>= 8)
            out_[pos_++] = static_cast<std::uint8_t>(acc_);
        out_.resize(pos_);
        return std::move(out_);
    }

  private:
    bytes out_;
    std::size_t pos_ = 0;
    std::uint64_t acc_ = 0;
    unsigned fill_ = 0;
};

class raw_bit_reader {
  public:
    explicit raw_bit_reader(byte_span in) : in_(in) {}
    std::uint32_t get(unsigned n) {
        if (fill_ < n) refill();
        const auto v = static_cast<std::uint32_t>(acc_ & ((std::uint64_t{1} << n) - 1));
        acc_ >>= n;
        fill_ -= n;
        return v;
    }
    // Whether the bits read so far were exactly the input: every byte read, none past the end,
    // and zero padding.
    bool exact_end() const {
        const std::uint64_t used = std::uint64_t{pos_} * 8 - fill_;
        return (used + 7) / 8 == in_.size() && acc_ == 0;
    }

    // Whether reading has gone past the end by more than a refill's look-ahead.
    bool past_end() const { return pos_ > in_.size() + 8; }

  private:
    void refill() {
        std::uint32_t w = 0;
        if (pos_ + 4 <= in_.size()) {
            w = load_le<std::uint32_t>(in_.data() + pos_);
        } else {
            for (std::size_t k = 0; k < 4 && pos_ + k < in_.size(); ++k)
                w |= std::uint32_t{in_[pos_ + k]} << (8 * k); // past the end: zeros
        }
        pos_ += 4;
        acc_ |= std::uint64_t{w} << fill_;
        fill_ += 32;
    }

    byte_span in_;
    std::size_t pos_ = 0; // bytes loaded (may pass the end)
    std::uint64_t acc_ = 0;
    unsigned fill_ = 0;
};

// The io objects hold pointers (not references) so that run() can work on a local copy,
// which the compiler keeps in registers. With Cost, the encoder also totals the ideal code
// length (only when the caller asks for it: a table lookup per decision, ~5% of the
// encoder's instructions).
template <bool Cost> struct encoder_io {
    static constexpr bool decoding = false;
    range_encoder enc; // by value, as decoder_io's decoder
    raw_bit_writer* raw_bits;
    const std::uint16_t* cost = costs().c;
    std::uint64_t cost256 = 0; // ideal code length so far, in 1/256 bit
    int bit(int p16, int y, int) {
        enc.encode_bit(static_cast<unsigned>(p16), y);
        if constexpr (Cost) cost256 += cost[y * 4096 + (p16 >> 4)];
        return y;
    }
    std::uint32_t raw(std::uint32_t v, unsigned n) {
        raw_bits->put(v, n);
        if constexpr (Cost) cost256 += std::uint64_t{n} << 8;
        return v;
    }
};

// Development aid (LMGC_CM_STATS=1): the encoder's ideal code length per field, on stderr.
// Floating point here never touches the coded stream.
struct stats_io {
    static constexpr bool decoding = false;
    double bits[6] = {};
    std::size_t count[6] = {};
    int bit(int p16, int y, int field) {
        const double p = (y ? p16 : 65536 - p16) / 65536.0;
        bits[field] -= std::log2(p);
        ++count[field];
        return y;
    }
    std::uint32_t raw(std::uint32_t v, unsigned n) {
        bits[5] += n;
        count[5] += n;
        return v;
    }
};

// The decoder's state by value: in run()'s local copy, the compiler keeps the range
// decoder's code and range in registers (through a pointer, it stored them at every bit).
struct decoder_io {
    static constexpr bool decoding = true;
    range_decoder dec;
    raw_bit_reader raw_bits;
    int bit(int p16, int, int) { return dec.decode_bit(static_cast<unsigned>(p16)); }
    std::uint32_t raw(std::uint32_t, unsigned n) { return raw_bits.get(n); }
};

// Version 1: raw bits are range coded (at most 24 per call).
struct decoder_io_v1 {
    static constexpr bool decoding = true;
    range_decoder* dec;
    int bit(int p16, int, int) { return dec->decode_bit(static_cast<unsigned>(p16)); }
    std::uint32_t raw(std::uint32_t, unsigned n) { return dec->decode_bits(n); }
};

// The coding loop, compiled for AVX2 and for the baseline instruction set where GCC can
// (x86-64 with ifunc): the loader picks the version for the CPU. Integer arithmetic only,
// so both write and read the same bytes; the AVX2 one runs ~10% faster (wider, 3-operand
// instructions for the same work).
#if defined(__x86_64__) && defined(__linux__) && defined(__GNUC__) && !defined(__clang__)
#define LMGC_CM_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define LMGC_CM_CLONES
#endif
#define LMGC_CM_RUN(M, IO)                                                                         \
    LMGC_CM_CLONES void run(M& m, IO& io, std::size_t upto) {                                      \
        IO local = io;                                                                             \
        m.code_values(local, upto);                                                                \
        io = local;                                                                                \
    }
LMGC_CM_RUN(float_model<fmt_f32>, encoder_io<false>)
LMGC_CM_RUN(float_model<fmt_f32>, encoder_io<true>)
LMGC_CM_RUN(float_model<fmt_f32>, decoder_io)
LMGC_CM_RUN(float_model<fmt_f16>, encoder_io<false>)
LMGC_CM_RUN(float_model<fmt_f16>, encoder_io<true>)
LMGC_CM_RUN(float_model<fmt_f16>, decoder_io)
LMGC_CM_RUN(float_model<fmt_bf16>, encoder_io<false>)
LMGC_CM_RUN(float_model<fmt_bf16>, encoder_io<true>)
LMGC_CM_RUN(float_model<fmt_bf16>, decoder_io)
LMGC_CM_RUN(float_model<fmt_f64>, encoder_io<false>)
LMGC_CM_RUN(float_model<fmt_f64>, encoder_io<true>)
LMGC_CM_RUN(float_model<fmt_f64>, decoder_io)
// Version 1 streams: decoding only.
LMGC_CM_RUN(v1::float_model<fmt_f32>, decoder_io_v1)
LMGC_CM_RUN(v1::float_model<fmt_f16>, decoder_io_v1)
LMGC_CM_RUN(v1::float_model<fmt_bf16>, decoder_io_v1)
LMGC_CM_RUN(v1::float_model<fmt_f64>, decoder_io_v1)
#undef LMGC_CM_RUN

std::vector<tensor_hint> hints_of(const chunk_layout& layout, std::size_t elem) {
    std::vector<tensor_hint> hints;
    for (const auto& t : layout.tensors) {
        tensor_hint h;
        h.start = t.offset / static_cast<std::int64_t>(elem);
        h.n_values = t.nbytes / elem;
        h.shape.assign(t.shape.begin(), t.shape.end());
        hints.push_back(std::move(h));
    }
    return hints;
}

class reader {
  public:
    explicit reader(byte_span in) : in_(in) {}
    std::uint8_t u8() {
        LMGC_CHECK(pos_ < in_.size(), errc::corrupt, "cm: payload truncated in its header");
        return in_[pos_++];
    }
    std::uint64_t varint() {
        std::uint64_t v = 0;
        for (unsigned shift = 0; shift < 64; shift += 7) {
            const std::uint8_t b = u8();
            v |= static_cast<std::uint64_t>(b & 0x7F) << shift;
            if (!(b & 0x80)) return v;
        }
        LMGC_FAIL(errc::corrupt, "cm: bad varint in payload header");
    }
    byte_span rest() const { return in_.subspan(pos_); }

  private:
    byte_span in_;
    std::size_t pos_ = 0;
};

class codec_cm final : public codec_i {
  public:
    explicit codec_cm(unsigned mant_bits) : mant_bits_(mant_bits) {}
    std::vector<codec_option> params() const override {
        return {{"mantissa_bits", std::to_string(mant_bits_)}};
    }

    void encode(byte_span raw, const chunk_layout& layout, bytes& out) const override {
        switch (layout.type) {
        case dtype::f32:
            return encode_as<fmt_f32>(raw, layout, out);
        case dtype::f16:
            return encode_as<fmt_f16>(raw, layout, out);
        case dtype::bf16:
            return encode_as<fmt_bf16>(raw, layout, out);
        case dtype::f64:
            return encode_as<fmt_f64>(raw, layout, out);
        default:
            break;
        }
        LMGC_FAIL(errc::internal, "cm: ", dtype_name(layout.type), " is not a float type");
    }

    void decode(byte_span coded, const chunk_layout& layout,
                std::span<std::uint8_t> out) const override {
        switch (layout.type) {
        case dtype::f32:
            return decode_as<fmt_f32>(coded, layout, out);
        case dtype::f16:
            return decode_as<fmt_f16>(coded, layout, out);
        case dtype::bf16:
            return decode_as<fmt_bf16>(coded, layout, out);
        case dtype::f64:
            return decode_as<fmt_f64>(coded, layout, out);
        default:
            break;
        }
        LMGC_FAIL(errc::corrupt, "cm: stream of ", dtype_name(layout.type),
                  " values, which cm does not code");
    }

  private:
    template <typename F>
    void encode_as(byte_span raw, const chunk_layout& layout, bytes& out) const {
        using U = typename F::uint;
        const std::size_t n = raw.size() / sizeof(U);
        std::vector<U> vals(n);
        if (n) std::memcpy(vals.data(), raw.data(), n * sizeof(U));

        float_params fp;
        fp.zero_low = common_zero_low_bits<F>(vals);
        if (fp.zero_low == F::man_bits) fp.zero_low = F::man_bits; // mantissas all zero
        fp.mant_modelled = std::min(mant_bits_, F::man_bits - fp.zero_low);
        const auto hints = hints_of(layout, sizeof(U));
        auto segs = find_segments<U>(vals, F::exp_bits, F::man_bits, hints);
        // Never write what the decoder would refuse: a plain geometry codes any chunk.
        if (segments_invalid(segs, n)) segs.assign(1, segment{});

        const std::size_t base = out.size();
        byte_writer w(out);
        w.u8(payload_version);
        w.u8(static_cast<std::uint8_t>(layout.type));
        w.u8(0);
        w.varint(fp.mant_modelled);
        w.varint(fp.zero_low);
        w.varint(segs.size());
        std::uint64_t prev = 0;
        for (const auto& s : segs) {
            w.varint(s.start - prev);
            prev = s.start;
            w.varint(s.kernel);
            w.varint(s.width);
            w.varint(s.phase);
            w.varint(s.row);
        }

        if (std::getenv("LMGC_CM_STATS")) {
            std::vector<U> copy = vals;
            float_model<F> m(copy.data(), n, segs, fp);
            stats_io st;
            m.code_values(st, n);
            std::fprintf(stderr, "cm stats: %zu segments:", segs.size());
            for (std::size_t k = 0; k < segs.size() && k < 40; ++k)
                std::fprintf(stderr, " %llu:k%u/w%u/p%u/r%llu", (unsigned long long)segs[k].start,
                             segs[k].kernel, segs[k].width, segs[k].phase,
                             (unsigned long long)segs[k].row);
            std::fprintf(stderr, "\n");
            const char* names[6] = {"zero", "zsign", "exp", "sign", "mant", "raw"};
            for (int k = 0; k < 6; ++k)
                std::fprintf(stderr,
                             "cm stats: %-5s %10zu decisions %12.0f bits %8.4f bits/value\n",
                             names[k], st.count[k], st.bits[k], n ? st.bits[k] / double(n) : 0.0);
        }
        // The range-coded data goes after its length, the raw bits after it.
        bytes data;
        range_encoder enc(data);
        raw_bit_writer raw_bits(raw.size());
        float_model<F> model(vals.data(), n, segs, fp);
        const auto code = [&](auto io) {
            for (std::size_t done = 0; done < n;) {
                const std::size_t upto = std::min(n, done + progress_step);
                run(model, io, upto);
                if (layout.advance) layout.advance((upto - done) * sizeof(U));
                done = upto;
            }
            for (std::size_t k = n * sizeof(U); k < raw.size(); ++k) io.raw(raw[k], 8);
            enc = io.enc;
            return io.cost256;
        };
        if (layout.ideal_bits)
            *layout.ideal_bits =
                static_cast<double>(code(encoder_io<true>{enc, &raw_bits})) / 256.0;
        else
            code(encoder_io<false>{enc, &raw_bits});
        enc.encode_bits(end_marker, 24);
        enc.finish();
        byte_writer(out).varint(data.size());
        byte_writer(out).raw(data);
        byte_writer(out).raw(raw_bits.finish());
        if (out.size() - base > raw.size() + 3) {
            out.resize(base + 2);
            out.push_back(1);
            byte_writer(out).raw(raw);
        }
    }

    template <typename F>
    void decode_as(byte_span coded, const chunk_layout& layout, std::span<std::uint8_t> out) const {
        using U = typename F::uint;
        const std::size_t n = out.size() / sizeof(U);
        reader r(coded);
        const auto version = r.u8();
        LMGC_CHECK(version == 1 || version == payload_version, errc::corrupt,
                   "cm: payload version ", int(version), " is not 1 or ", int(payload_version));
        LMGC_CHECK(r.u8() == static_cast<std::uint8_t>(layout.type), errc::corrupt,
                   "cm: payload element type does not match the stream's");
        const auto mode = r.u8();
        LMGC_CHECK(mode <= 1, errc::corrupt, "cm: unknown payload mode ", int(mode));
        if (mode == 1) {
            const auto rest = r.rest();
            LMGC_CHECK(rest.size() == out.size(), errc::corrupt, "cm: stored chunk has ",
                       rest.size(), " bytes, expected ", out.size());
            if (!rest.empty()) std::memcpy(out.data(), rest.data(), rest.size());
            return;
        }
        float_params fp;
        const auto mant = r.varint(), zero_low = r.varint();
        LMGC_CHECK(zero_low <= F::man_bits && mant <= 4 && mant <= F::man_bits - zero_low,
                   errc::corrupt, "cm: bad mantissa split in payload header");
        fp.mant_modelled = static_cast<unsigned>(mant);
        fp.zero_low = static_cast<unsigned>(zero_low);
        const auto n_segs = r.varint();
        LMGC_CHECK(n_segs >= 1 && n_segs <= n + 1, errc::corrupt, "cm: bad segment count ", n_segs);
        std::vector<segment> segs(n_segs);
        std::uint64_t at = 0;
        for (std::size_t k = 0; k < n_segs; ++k) {
            const auto delta = r.varint();
            LMGC_CHECK(delta <= n - at, errc::corrupt, "cm: segment starts past the chunk");
            at += delta;
            segment& s = segs[k];
            s.start = at;
            const auto kernel = r.varint(), width = r.varint(), phase = r.varint(),
                       row = r.varint();
            LMGC_CHECK(kernel <= segment_kernel_max && width <= kernel && phase < kernel,
                       errc::corrupt, "cm: bad segment geometry");
            s.kernel = static_cast<std::uint32_t>(kernel);
            s.width = static_cast<std::uint32_t>(width);
            s.phase = static_cast<std::uint32_t>(phase);
            s.row = row;
        }
        if (const char* why = segments_invalid(segs, n)) LMGC_FAIL(errc::corrupt, "cm: ", why);

        const auto data_size = r.varint();
        LMGC_CHECK(data_size <= r.rest().size(), errc::corrupt, "cm: payload truncated (",
                   r.rest().size(), " bytes of coded data, its header says ", data_size, ")");
        // Values are decoded straight into `out` (whose memory the driver takes only as it
        // is written), unless it is not aligned for them.
        const bool aligned = reinterpret_cast<std::uintptr_t>(out.data()) % alignof(U) == 0;
        std::vector<U> copy(aligned ? 0 : n);
        U* const vals = aligned ? reinterpret_cast<U*>(out.data()) : copy.data();
        range_decoder dec(r.rest().subspan(0, data_size));
        if (version == 1) {
            LMGC_CHECK(data_size == r.rest().size(), errc::corrupt,
                       "cm: ", r.rest().size() - data_size,
                       " unexpected bytes after the coded data");
            decoder_io_v1 io{&dec};
            decode_values<v1::float_model<F>>(io, vals, n, segs, fp, layout,
                                              [&] { return dec.overrun() <= 7; });
            if (!aligned && n) std::memcpy(out.data(), vals, n * sizeof(U));
            for (std::size_t k = n * sizeof(U); k < out.size(); ++k)
                out[k] = static_cast<std::uint8_t>(dec.decode_bits(8));
        } else {
            decoder_io io{dec, raw_bit_reader(r.rest().subspan(data_size))};
            decode_values<float_model<F>>(io, vals, n, segs, fp, layout, [&] {
                return io.dec.overrun() <= 7 && !io.raw_bits.past_end();
            });
            if (!aligned && n) std::memcpy(out.data(), vals, n * sizeof(U));
            for (std::size_t k = n * sizeof(U); k < out.size(); ++k)
                out[k] = static_cast<std::uint8_t>(io.raw_bits.get(8));
            LMGC_CHECK(io.raw_bits.exact_end(), errc::corrupt,
                       "cm: payload truncated or damaged (raw bits do not end with the payload)");
            dec = io.dec;
        }
        LMGC_CHECK(dec.decode_bits(24) == end_marker && dec.overrun() <= 7, errc::corrupt,
                   "cm: payload truncated or damaged (end marker not found)");
    }

    // Decodes n values into vals in steps, refusing as soon as the payload is exhausted
    // (within: the coded data and raw bits have not been read past their ends), so that a
    // chunk size claiming more values than the payload holds stops early.
    template <typename M, typename U, typename IO, typename Within>
    static void decode_values(IO& io, U* vals, std::size_t n, std::span<const segment> segs,
                              float_params fp, const chunk_layout& layout, Within within) {
        M model(vals, n, segs, fp);
        for (std::size_t done = 0; done < n;) {
            const std::size_t upto = std::min(n, done + progress_step);
            run(model, io, upto);
            if (layout.advance) layout.advance((upto - done) * sizeof(U));
            done = upto;
            LMGC_CHECK(within(), errc::corrupt, "cm: payload exhausted after ", done, " of ", n,
                       " values (truncated or damaged)");
        }
    }

    unsigned mant_bits_;
};

} // namespace

std::unique_ptr<codec_i> make_codec_cm(const codec_config& cfg) {
    return std::make_unique<codec_cm>(static_cast<unsigned>(cfg.get_int("mantissa_bits", 1, 0, 4)));
}

} // namespace lmgc::detail
