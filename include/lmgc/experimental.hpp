// lmgc experimental API: calls for the CLI's research subcommands (serialization, tokens,
// model inspection, gradient collection, experiments). May change between versions.
// Each section belongs to one pipeline stage.
#pragma once

#include "lmgc/lmgc.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace lmgc::experimental {

// ---------------------------------------------------------------------------------------
// bench (codecs): the codec benchmark behind `lmgc bench codecs`. Compresses and
// decompresses the same tensor files with each codec, in each chunking mode asked for, all in
// one run; checks every round trip byte for byte (a mismatch is an error, never a number);
// reports rates and the best and median speed of the timed repeats. See docs/codecs.md.
// ---------------------------------------------------------------------------------------

struct codec_bench_params {
    std::vector<std::string> codecs;        ///< names; empty = every built-in codec but "store"
    std::vector<std::uint64_t> chunk_bytes; ///< one run per entry, 0 = unchunked; empty = {0}
    int repeats;                            ///< timed repeats after one untimed warm-up, >= 1
    int n_threads;                          ///< threads of each compress/decompress; 0 = all cores
    input_format format;                    ///< how to read the files
    bool u2_as_bf16;                        ///< .npy "<u2" arrays hold bfloat16 values
    progress_fn progress;                   ///< optional: (runs done, runs in all)
};
/// codecs {}, chunk_bytes {0}, repeats 3, n_threads 1 (speeds of one core), format auto.
codec_bench_params default_codec_bench_params();

/// One codec in one chunking mode, summed over all the files.
struct codec_bench_result {
    std::string codec;              ///< the codec asked for
    std::uint64_t chunk_bytes = 0;  ///< 0 = unchunked
    std::string codecs_used;        ///< codec of each stream, "+"-joined and deduplicated,
                                    ///< e.g. "fpzip+zstd" when integer tensors fell back
    std::uint64_t tensor_bytes = 0; ///< tensor data of the files (what rates refer to)
    std::uint64_t output_bytes = 0; ///< the .lmgc files
    std::uint64_t payload_bytes = 0; ///< the coded chunks alone, without container overhead
    double rate_percent = 0;         ///< 100 * output_bytes / tensor_bytes
    double payload_rate_percent = 0; ///< 100 * payload_bytes / tensor_bytes
    /// Tensor megabytes (10^6 bytes) per second over all files, from the fastest and the
    /// median repeat.
    double compress_mbps_best = 0, compress_mbps_median = 0;
    double decompress_mbps_best = 0, decompress_mbps_median = 0;
};

/// Runs every codec in every mode over files (read into memory once, before any timing).
/// Results are ordered by codec, then by mode. Throws lmgc::error: io (unreadable file),
/// bad_input (not a tensor file), usage (unknown codec, bad params), unsupported (codec not
/// built in), internal (a round trip that is not byte-identical, or a codec whose output
/// changes between repeats).
std::vector<codec_bench_result> bench_codecs(const std::vector<std::string>& files,
                                             const codec_bench_params& params);

} // namespace lmgc::experimental
