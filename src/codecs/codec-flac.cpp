// "flac": the chunk's bytes as 8-bit mono audio (byte b is the sample b - 128, the unsigned
// 8-bit PCM convention the paper's pydub path uses) in a native FLAC stream written by
// libFLAC at compression level 8, STREAMINFO (with the MD5 of the samples) then the default
// VORBIS_COMMENT block, then the frames. Any sample count works: FLAC's last frame may be
// shorter than the 16-sample minimum block. Empty chunks have an empty payload.
#include "codecs/codec.hpp"

#include <FLAC/stream_decoder.h>
#include <FLAC/stream_encoder.h>

#include <cstring>
#include <string>

namespace lmgc::detail {
namespace {

constexpr unsigned flac_rate = 16000; // only written to the header; the paper's choice

// The encoder writes to out from base on, and seeks back to finish STREAMINFO.
struct flac_sink {
    bytes* out;
    std::size_t base, pos = 0, end = 0;
};

FLAC__StreamEncoderWriteStatus on_write(const FLAC__StreamEncoder*, const FLAC__byte buffer[],
                                        std::size_t n, std::uint32_t, std::uint32_t, void* client) {
    auto* s = static_cast<flac_sink*>(client);
    try {
        const std::size_t end = s->base + s->pos + n;
        if (end > s->out->size()) s->out->resize(end);
    } catch (...) {
        return FLAC__STREAM_ENCODER_WRITE_STATUS_FATAL_ERROR;
    }
    std::memcpy(s->out->data() + s->base + s->pos, buffer, n);
    s->pos += n;
    s->end = std::max(s->end, s->pos);
    return FLAC__STREAM_ENCODER_WRITE_STATUS_OK;
}
FLAC__StreamEncoderSeekStatus on_seek(const FLAC__StreamEncoder*, FLAC__uint64 offset,
                                      void* client) {
    auto* s = static_cast<flac_sink*>(client);
    if (offset > s->end) return FLAC__STREAM_ENCODER_SEEK_STATUS_ERROR;
    s->pos = static_cast<std::size_t>(offset);
    return FLAC__STREAM_ENCODER_SEEK_STATUS_OK;
}
FLAC__StreamEncoderTellStatus on_tell(const FLAC__StreamEncoder*, FLAC__uint64* offset,
                                      void* client) {
    *offset = static_cast<flac_sink*>(client)->pos;
    return FLAC__STREAM_ENCODER_TELL_STATUS_OK;
}

// The decoder reads from in and writes samples into out; anything unexpected stops it.
struct flac_source {
    byte_span in;
    std::size_t pos = 0;
    std::span<std::uint8_t> out;
    std::size_t written = 0;
    const char* problem = nullptr;
};

FLAC__StreamDecoderReadStatus on_read(const FLAC__StreamDecoder*, FLAC__byte buffer[],
                                      std::size_t* n, void* client) {
    auto* s = static_cast<flac_source*>(client);
    *n = std::min(*n, s->in.size() - s->pos);
    if (*n == 0) return FLAC__STREAM_DECODER_READ_STATUS_END_OF_STREAM;
    std::memcpy(buffer, s->in.data() + s->pos, *n);
    s->pos += *n;
    return FLAC__STREAM_DECODER_READ_STATUS_CONTINUE;
}
FLAC__bool on_eof(const FLAC__StreamDecoder*, void* client) {
    const auto* s = static_cast<flac_source*>(client);
    return s->pos == s->in.size();
}
FLAC__StreamDecoderWriteStatus on_frame(const FLAC__StreamDecoder*, const FLAC__Frame* frame,
                                        const FLAC__int32* const samples[], void* client) {
    auto* s = static_cast<flac_source*>(client);
    const auto& h = frame->header;
    if (h.channels != 1 || h.bits_per_sample != 8)
        s->problem = "not 8-bit mono";
    else if (h.blocksize > s->out.size() - s->written)
        s->problem = "too many samples";
    if (s->problem) return FLAC__STREAM_DECODER_WRITE_STATUS_ABORT;
    for (unsigned i = 0; i < h.blocksize; ++i) {
        const FLAC__int32 v = samples[0][i];
        if (v < -128 || v > 127) {
            s->problem = "sample out of range";
            return FLAC__STREAM_DECODER_WRITE_STATUS_ABORT;
        }
        s->out[s->written++] = static_cast<std::uint8_t>(v + 128);
    }
    return FLAC__STREAM_DECODER_WRITE_STATUS_CONTINUE;
}
void on_error(const FLAC__StreamDecoder*, FLAC__StreamDecoderErrorStatus status, void* client) {
    auto* s = static_cast<flac_source*>(client);
    if (!s->problem) s->problem = FLAC__StreamDecoderErrorStatusString[status];
}

class codec_flac final : public codec_i {
  public:
    explicit codec_flac(unsigned level) : level_(level) {}
    std::vector<codec_option> params() const override {
        return {{"level", std::to_string(level_)}};
    }
    void encode(byte_span raw, const chunk_layout&, bytes& out) const override {
        if (raw.empty()) return;
        std::vector<FLAC__int32> samples(raw.begin(), raw.end());
        for (auto& v : samples) v -= 128;
        FLAC__StreamEncoder* enc = FLAC__stream_encoder_new();
        LMGC_CHECK(enc != nullptr, errc::internal, "flac: cannot create an encoder");
        flac_sink sink{&out, out.size()};
        bool ok = FLAC__stream_encoder_set_channels(enc, 1) &&
                  FLAC__stream_encoder_set_bits_per_sample(enc, 8) &&
                  FLAC__stream_encoder_set_sample_rate(enc, flac_rate) &&
                  FLAC__stream_encoder_set_compression_level(enc, level_) &&
                  FLAC__stream_encoder_set_total_samples_estimate(enc, raw.size()) &&
                  FLAC__stream_encoder_init_stream(enc, on_write, on_seek, on_tell, nullptr,
                                                   &sink) == FLAC__STREAM_ENCODER_INIT_STATUS_OK;
        // Feed in slices: the sample count argument is 32-bit.
        for (std::size_t at = 0; ok && at < samples.size(); at += 1u << 20) {
            const auto n =
                static_cast<std::uint32_t>(std::min<std::size_t>(samples.size() - at, 1u << 20));
            ok = FLAC__stream_encoder_process_interleaved(enc, samples.data() + at, n);
        }
        ok = FLAC__stream_encoder_finish(enc) && ok;
        const std::string state = FLAC__stream_encoder_get_resolved_state_string(enc);
        FLAC__stream_encoder_delete(enc);
        LMGC_CHECK(ok, errc::internal, "flac: encoder failed (", state, ")");
        out.resize(sink.base + sink.end);
    }
    void decode(byte_span coded, const chunk_layout&, std::span<std::uint8_t> out) const override {
        if (out.empty()) {
            LMGC_CHECK(coded.empty(), errc::corrupt,
                       "flac: payload of an empty chunk is not empty");
            return;
        }
        FLAC__StreamDecoder* dec = FLAC__stream_decoder_new();
        LMGC_CHECK(dec != nullptr, errc::internal, "flac: cannot create a decoder");
        flac_source src{coded, 0, out};
        FLAC__stream_decoder_set_md5_checking(dec, true);
        bool ok = FLAC__stream_decoder_init_stream(dec, on_read, nullptr, nullptr, nullptr, on_eof,
                                                   on_frame, nullptr, on_error,
                                                   &src) == FLAC__STREAM_DECODER_INIT_STATUS_OK &&
                  FLAC__stream_decoder_process_until_end_of_stream(dec);
        ok = ok && FLAC__stream_decoder_get_state(dec) == FLAC__STREAM_DECODER_END_OF_STREAM;
        const bool md5_ok = FLAC__stream_decoder_finish(dec); // checks the MD5 of the samples
        FLAC__stream_decoder_delete(dec);
        if (!src.problem && !ok) src.problem = "damaged stream";
        if (!src.problem && !md5_ok) src.problem = "MD5 mismatch";
        if (!src.problem && src.written != out.size()) src.problem = "too few samples";
        if (!src.problem && src.pos != coded.size()) src.problem = "bytes after the stream";
        LMGC_CHECK(!src.problem, errc::corrupt, "flac: chunk does not decode (", src.problem, ")");
    }

  private:
    unsigned level_;
};

} // namespace

std::unique_ptr<codec_i> make_codec_flac(const codec_config& cfg) {
    return std::make_unique<codec_flac>(static_cast<unsigned>(cfg.get_int("level", 8, 0, 8)));
}

} // namespace lmgc::detail
