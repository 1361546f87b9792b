// The codec interface every coder of a chunk implements (classical codecs, the cm prior, the
// LLM prior) and the table that names them. Included by codec implementations and the driver.
#pragma once

#include "common/common-bytes.hpp"
#include "common/common-dtype.hpp"
#include "lmgc/lmgc.hpp"

#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace lmgc::detail {

// What a codec may know about the bytes of one chunk besides the bytes themselves. The
// decoder is given the same layout, rebuilt from the .lmgc manifest.
struct chunk_layout {
    dtype type = dtype::u8;          // element type of the stream (all tensors in it share it)
    std::uint64_t stream_offset = 0; // where the chunk starts in its stream, in bytes
    struct tensor_part {
        std::int64_t offset;  // start of the tensor relative to the chunk (may be < 0)
        std::uint64_t nbytes; // whole tensor size
        std::span<const std::int64_t> shape;
    };
    std::vector<tensor_part> tensors; // the tensors that overlap this chunk, in order
    // Reports progress inside a long chunk: bytes of raw data done since the last call.
    // May be empty. Thread-safe.
    std::function<void(std::uint64_t)> advance;
    // Model-driven codecs store here the ideal code length of the chunk, -sum(log2 p) over
    // the coded symbols, in bits (when encoding, if not null; one slot per chunk).
    double* ideal_bits = nullptr;
};

// Settings: for encoding, the user's options; for decoding, the params the encoder recorded
// plus the user's decode-time options (e.g. where the model lives).
struct codec_config {
    std::vector<codec_option> options;  // from the user
    std::vector<codec_option> recorded; // from the .lmgc header (empty when encoding)
    bool decoding = false;

    // Option lookup: recorded params win over user options when decoding.
    std::optional<std::string> get(std::string_view key) const;
    std::string get_or(std::string_view key, std::string fallback) const;
    long long get_int(std::string_view key, long long fallback, long long min, long long max) const;
};

class codec_i {
  public:
    virtual ~codec_i() = default;
    // Key/value settings the decoder needs; stored in the header and shown by `lmgc info`.
    virtual std::vector<codec_option> params() const { return {}; }
    // Appends the coding of raw to out. Called concurrently from several threads unless
    // parallel() is false.
    virtual void encode(byte_span raw, const chunk_layout& layout, bytes& out) const = 0;
    // Decodes coded into out, whose size is the chunk's raw size. Corrupt input may throw
    // lmgc::error(corrupt) or produce wrong bytes (the chunk checksum catches those); it must
    // never read or write out of bounds.
    virtual void decode(byte_span coded, const chunk_layout& layout,
                        std::span<std::uint8_t> out) const = 0;
    // False for codecs that use their own threads or a device for one chunk at a time.
    virtual bool parallel() const { return true; }
};

// A row of the codec table.
struct codec_entry {
    std::string_view name;
    std::string_view summary;
    std::string_view library;          // the library it needs ("" for our own)
    bool (*supports)(dtype);           // element types it codes; others go to the byte codec
    std::uint64_t default_chunk_bytes; // 0: unchunked
    std::unique_ptr<codec_i> (*make)(const codec_config&); // null when not built in
    std::string_view options; // the settings a user may give, space-separated
    bool needs_model = false; // needs a model folder (the `model` setting)
    bool available() const { return make != nullptr; }
    bool knows_option(std::string_view key) const;
};

// Throws usage naming the first option the codec does not know.
void check_options(const codec_entry& e, std::span<const codec_option> options);

bool supports_any(dtype);
bool supports_float32_64(dtype);
bool supports_floats(dtype);
bool supports_zfp_types(dtype); // f32, f64, i32, i64

// The table, in the order `lmgc codecs` lists it.
std::span<const codec_entry> codec_table();
// Looks a codec up by name; throws usage (unknown name) or unsupported (not built in).
const codec_entry& find_codec(std::string_view name);
// The codec used when none is named.
std::string_view default_codec_name();
// The codec used for streams the chosen codec does not support (integer tensors for a
// float-only codec).
std::string_view byte_codec_name();

// The smallest chunk size compression accepts: one element of the widest type. (Chunk sizes
// are rounded down to whole elements per stream.)
constexpr std::uint64_t compress_chunk_min = 8;

// What compress_params ask for: the codec for float tensors and its options (the user's
// codec_options, plus those a level implies). Throws usage for an unknown codec or level.
struct codec_choice {
    const codec_entry* entry = nullptr;
    std::vector<codec_option> options;
};
codec_choice codec_for(const compress_params& params);

// The compression levels, 1 (fastest) to 9 (smallest): a codec and its settings each
// (docs/levels.md). A level whose codec is not built in falls back to the default codec.
struct level_row {
    int level;
    std::string_view codec;
    std::vector<codec_option> options;
    std::string_view why; // one line for docs and `lmgc compress --help`
};
std::span<const level_row> level_ladder();
constexpr int default_level = 5;

} // namespace lmgc::detail
