// lmgc: lossless compression of neural-network gradients and other float tensors.
// The stable public API: plain parameter structs with default_*() helpers and free
// functions. No internal types and no LibTorch types appear here.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace lmgc {

/// Error categories. Values are pinned: they are part of the API.
enum class errc : int {
    ok = 0,
    io = 1,          ///< a file could not be read or written
    bad_input = 2,   ///< malformed input file (tensor file, text, model folder)
    corrupt = 3,     ///< a .lmgc file failed a check (magic, checksum, truncation)
    unsupported = 4, ///< valid but not supported here (newer format, codec not built in)
    usage = 5,       ///< invalid parameters
    mismatch = 6,    ///< decoding needs something other than what was given (model, dtype)
    internal = 7,    ///< a bug: an invariant failed
};

/// Every failure inside the library is reported as this exception.
class error : public std::runtime_error {
  public:
    error(errc code, const std::string& what) : std::runtime_error(what), code_(code) {}
    errc code() const noexcept { return code_; }

  private:
    errc code_;
};

/// Name of an error category ("bad input", "corrupt", ...).
const char* errc_name(errc code) noexcept;

/// Element types. The values are the .lmgc format's codes: pinned.
enum class dtype : std::uint8_t {
    f64 = 1,
    f32 = 2,
    f16 = 3,
    bf16 = 4,
    i8 = 5,
    u8 = 6,
    i16 = 7,
    u16 = 8,
    i32 = 9,
    u32 = 10,
    i64 = 11,
    u64 = 12,
    boolean = 13,
};
/// Bytes per element (0 for a value that is no dtype).
std::size_t dtype_size(dtype t) noexcept;
/// Short lowercase name: "f32", "bf16", "i64", "bool".
std::string_view dtype_name(dtype t) noexcept;
/// The dtype of a name dtype_name gives; std::nullopt for any other string.
std::optional<dtype> dtype_from_name(std::string_view name) noexcept;
bool dtype_is_float(dtype t) noexcept;

/// Called with (work done, total work) from the thread that runs the call; total may grow.
using progress_fn = std::function<void(std::uint64_t done, std::uint64_t total)>;

/// Receives the bytes of a .lmgc stream, in order. May throw to stop the compression.
using write_fn = std::function<void(std::span<const std::uint8_t>)>;

/// How the input file is read.
enum class input_format { auto_detect, npy, safetensors, torch, raw };
const char* input_format_name(input_format f) noexcept;

/// The input formats a --format option takes: the one table every front end parses with.
struct input_format_description {
    input_format format;
    const char* name;    ///< "auto", "npy", "safetensors", "torch", "raw"
    const char* aliases; ///< other accepted names, space-separated ("pt pth ckpt")
    const char* summary;
};
std::span<const input_format_description> input_formats() noexcept;
/// The format of a name or alias; std::nullopt for anything else.
std::optional<input_format> input_format_from_name(std::string_view name) noexcept;
/// "auto, npy, safetensors, torch or raw": for messages and help texts.
std::string input_format_names();

/// A key=value setting passed through to a codec (e.g. {"model", "/models/tinyllama"}).
using codec_option = std::pair<std::string, std::string>;

struct compress_params {
    /// Compression level 1 (fastest) .. 9 (smallest); 0 = the default level. Picks the codec
    /// and its settings (docs/levels.md) unless `codec` names one.
    int level;
    std::string codec;         ///< codec name for float tensors; "" = the level's codec
    std::uint64_t chunk_bytes; ///< bytes per independently coded chunk; 0 = codec default
    bool unchunked;            ///< one chunk per stream (the paper's "unchunked" baselines)
    int n_threads;             ///< worker threads; 0 = all cores
    input_format format;       ///< how to read the input
    bool u2_as_bf16;           ///< .npy "<u2" arrays hold bfloat16 values
    std::vector<codec_option> codec_options; ///< codec-specific settings
    std::string preprocess; ///< lossy preprocessing, e.g. "sparsify:10+quantize:8" ("" = lossless)
    std::uint64_t seed;     ///< seed of randomized preprocessing (sparsify)
    progress_fn progress;   ///< optional progress callback
    /// Decode every chunk again right after coding it and compare its checksum: nothing is
    /// written unless it decodes. Costs about one decompression (docs/reliability.md).
    bool verify;
    /// Fill compress_stats::ideal_bits (on by default). Off, model-driven codecs skip
    /// totalling it (cm: a table lookup per coded decision, ~5% of its instructions) and
    /// ideal_bits stays -1; the output is the same.
    bool report_ideal_bits;
};
compress_params default_compress_params();

struct decompress_params {
    int n_threads;                           ///< worker threads; 0 = all cores
    std::vector<codec_option> codec_options; ///< e.g. the model folder for an LLM codec
    progress_fn progress;
};
decompress_params default_decompress_params();

/// Sizes of one compression, all in bytes.
struct compress_stats {
    std::uint64_t input_bytes = 0;   ///< size of the input file
    std::uint64_t tensor_bytes = 0;  ///< tensor payload of the input (what rates refer to)
    std::uint64_t output_bytes = 0;  ///< size of the .lmgc file
    std::uint64_t payload_bytes = 0; ///< sum of the coded chunks, without container overhead
    double seconds = 0;              ///< wall time
    /// With --preprocess: bytes of the lossy representation (kept values or codes) plus its
    /// side information (seed, masks, ranges); equal to tensor_bytes when lossless.
    std::uint64_t preprocessed_bytes = 0;
    std::uint64_t side_info_bytes = 0; ///< the side information alone
    /// ||x - x'|| / ||x|| over the float tensors (0 when lossless).
    double relative_l2_error = 0;
    /// For model-driven codecs (cm, lm): the ideal code length -sum(log2 p) of everything
    /// coded, in bits; -1 when some stream's codec has no explicit model.
    double ideal_bits = -1;
    /// 100 * output_bytes / tensor_bytes (0 when there is no tensor data).
    double rate_percent() const;
    /// 100 * output_bytes / preprocessed_bytes: the rate against the lossy representation.
    double rate_vs_preprocessed_percent() const;
};

/// Compresses a tensor file into a .lmgc image in memory. Throws lmgc::error.
std::vector<std::uint8_t> compress(std::span<const std::uint8_t> input,
                                   const compress_params& params, compress_stats* stats = nullptr);

/// The file that decompressing compress(input, params) gives back: the input itself when
/// lossless, else the input with its float tensors replaced by their lossy reconstruction.
std::vector<std::uint8_t> expected_output(std::span<const std::uint8_t> input,
                                          const compress_params& params);

/// Decompresses a .lmgc image; returns the original file's bytes (for files made with
/// --preprocess, the lossy reconstruction). Throws lmgc::error.
std::vector<std::uint8_t> decompress(std::span<const std::uint8_t> image,
                                     const decompress_params& params);

/// decompress() into memory the caller owns (a memory-mapped file, a pinned buffer, an
/// uninitialized allocation): `out` must hold exactly the original file's size
/// (inspect(image).original_bytes), and every byte of it is written, with no zero-fill and
/// no copy first. Throws lmgc::error as decompress does, and errc::usage when the size
/// differs (before writing anything); after an error, out's contents are unspecified.
void decompress_into(std::span<const std::uint8_t> image, std::span<std::uint8_t> out,
                     const decompress_params& params);

/// Compresses a tensor file into a .lmgc stream passed to `write` piece by piece (e.g. to
/// standard output); memory stays bounded by the chunks in flight.
compress_stats compress_to(std::span<const std::uint8_t> input, const compress_params& params,
                           const write_fn& write);

/// Compresses a tensor file (path; "-" is standard input, read into memory up to 1 GiB) into
/// a .lmgc stream passed to `write` piece by piece (e.g. standard output).
compress_stats compress_file_to(const std::string& in_path, const compress_params& params,
                                const write_fn& write);

/// File versions of the above: they stream, so memory is bounded by the chunks in flight
/// (threads x chunk size) plus the tensor index, whatever the file size. The output is
/// written to a temporary file in the same folder and renamed into place, so a failure (or
/// SIGINT/SIGTERM in the CLI) never leaves a partial file. An existing output is an error
/// unless overwrite is set.
compress_stats compress_file(const std::string& in_path, const std::string& out_path,
                             const compress_params& params, bool overwrite = false);
void decompress_file(const std::string& in_path, const std::string& out_path,
                     const decompress_params& params, bool overwrite = false);

/// One tensor of a .lmgc file's manifest.
struct tensor_info {
    std::string name;
    dtype type = dtype::f32;
    std::vector<std::int64_t> shape;
    std::uint64_t nbytes = 0;
    std::string codec;          ///< codec of the stream that holds it
    bool fortran_order = false; ///< .npy column-major data: elements in Fortran order
    bool big_endian = false;    ///< stored big-endian in the original file
};

/// One independently coded chunk.
struct chunk_info {
    std::uint32_t stream = 0;
    std::uint64_t raw_bytes = 0;
    std::uint64_t coded_bytes = 0;
    std::uint32_t crc32c = 0;
};

/// A stream: the tensors of one element type, concatenated, coded by one codec.
struct stream_info {
    std::string codec;
    dtype type = dtype::f32;
    std::uint64_t raw_bytes = 0;
    std::uint64_t chunk_bytes = 0;          ///< 0 = unchunked
    std::vector<codec_option> codec_params; ///< what the codec recorded, printable
};

/// What `lmgc info` shows.
struct file_info {
    unsigned format_major = 0, format_minor = 0;
    int level = 0; ///< the compression level asked for (0: none recorded, e.g. format 1.0)
    std::string source_format; ///< "npy", "safetensors", "torch", "raw"
    std::uint64_t original_bytes = 0;
    std::uint64_t tensor_bytes = 0;
    std::uint64_t file_bytes = 0;
    std::uint64_t skeleton_bytes = 0; ///< non-tensor bytes of the original file, stored as is
    std::string preprocess;
    std::vector<stream_info> streams;
    std::vector<tensor_info> tensors;
    std::vector<chunk_info> chunks;
};

/// Reads and checks a .lmgc header (not the payload). Throws lmgc::error.
file_info inspect(std::span<const std::uint8_t> image);
file_info inspect_file(const std::string& path);

// ---------------------------------------------------------------------------------------
// Tensors in memory (what the Python binding uses): no tensor-file image is built.

/// A tensor the caller owns: prod(shape) * dtype_size(type) bytes at `data`, C order,
/// little-endian. Not copied: it must stay valid and unchanged during the call.
struct tensor_ref {
    std::string name;
    dtype type = dtype::f32;
    std::vector<std::int64_t> shape;
    const void* data = nullptr;
};

/// Metadata stored with tensors (safetensors' "__metadata__": string to string).
using metadata_t = std::vector<std::pair<std::string, std::string>>;

/// Compresses tensors (in this order) into a .lmgc stream passed to `write` piece by piece;
/// memory stays bounded by the chunks in flight. The stream decompresses to a .safetensors
/// file holding the tensors and the metadata, so `lmgc decompress` gives a file any
/// safetensors reader opens. Throws lmgc::error: usage for an empty or repeated name, a null
/// pointer with data, a negative dimension, a metadata key "__metadata__"-style clash.
compress_stats compress_tensors(std::span<const tensor_ref> tensors, const compress_params& params,
                                const write_fn& write, const metadata_t& metadata = {});
/// The same into a .lmgc image in memory.
std::vector<std::uint8_t> compress_tensors(std::span<const tensor_ref> tensors,
                                           const compress_params& params,
                                           const metadata_t& metadata = {},
                                           compress_stats* stats = nullptr);
/// The same into a file, written atomically (temporary file + rename).
compress_stats compress_tensors_to_file(std::span<const tensor_ref> tensors,
                                        const std::string& out_path, const compress_params& params,
                                        const metadata_t& metadata = {}, bool overwrite = false);

/// Where decoding puts a tensor: returns t.nbytes writable bytes the caller owns (aligned
/// for t.type), or nullptr to skip the tensor. Called once per tensor, in file order, before
/// any chunk is decoded.
using tensor_allocator = std::function<void*(const tensor_info& t)>;

/// What decompressing tensors gives besides their data.
struct tensors_header {
    std::vector<tensor_info> tensors; ///< in file order
    metadata_t metadata;              ///< safetensors "__metadata__" (empty for other sources)
    std::string source_format;        ///< "safetensors", "npy", "torch", "raw"
};

/// Decodes the tensors of a .lmgc image (or file) into buffers from `allocate`. Values come
/// back little-endian in their dtype, elements in file order (see tensor_info's
/// fortran_order). For a lossy file, the reconstruction. Memory beyond the caller's buffers
/// stays bounded by the chunks in flight. Throws lmgc::error as decompress does.
tensors_header decompress_tensors(std::span<const std::uint8_t> image,
                                  const decompress_params& params,
                                  const tensor_allocator& allocate);
tensors_header decompress_tensors_file(const std::string& path, const decompress_params& params,
                                       const tensor_allocator& allocate);

/// A codec this build knows about.
struct codec_description {
    std::string name;
    std::string summary;
    bool available = false;  ///< built in
    std::string why_missing; ///< when not available: which library was missing at build time
    bool is_default = false; ///< the codec of the default level
    bool needs_model = false; ///< needs a model folder (the `model` setting: the lm codec)
    std::string settings;    ///< the settings a user may give (--set KEY=VALUE), space-separated
};
std::vector<codec_description> list_codecs();

/// One compression level: what `-N` / compress_params::level picks.
struct level_description {
    int level = 0;
    std::string codec;                      ///< the codec it uses in this build
    std::vector<codec_option> codec_params; ///< the settings it gives that codec
    std::string summary;
    bool is_default = false;
};
/// Levels 1 (fastest) to 9 (smallest), as this build maps them.
std::vector<level_description> list_levels();

/// The library's version string, e.g. "0.1.0".
const char* version() noexcept;

/// Reads a whole file. Throws lmgc::error(errc::io) naming the path.
std::vector<std::uint8_t> read_file(const std::string& path);
/// Writes a whole file atomically (temporary file + rename). Throws lmgc::error.
void write_file_atomic(const std::string& path, std::span<const std::uint8_t> data, bool overwrite);

/// Removes the temporary files of the outputs being written at this moment (".NAME.lmgc-tmp"
/// beside each output). Async-signal-safe: for a SIGINT/SIGTERM handler, which should then
/// exit. A temporary left by a killed process is removed by the next run writing that output.
void remove_temporary_files() noexcept;

} // namespace lmgc
