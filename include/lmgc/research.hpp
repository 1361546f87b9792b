// lmgc research API: the experiment runner and tables (`lmgc bench`), gradient collection
// (`lmgc collect`) and the LLM tools (predict, analyze, random models). Built into the
// research library (lmgc_research), which only the CLI, bench/ and tests link; what needs
// LibTorch runs in the LibTorch module (src/module/), loaded when first called. May change
// between versions.
#pragma once

#include "lmgc/experimental.hpp"
#include "lmgc/lmgc.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace lmgc::experimental {

// ---------------------------------------------------------------------------------------
// bench (codecs): the codec benchmark behind `lmgc bench codecs`. Compresses and
// decompresses the same tensor files with each codec (a codec with settings, or one of lmgc's
// compression levels), in each chunking mode and at each thread count asked for, all in one
// run, the timed repeats of all of them interleaved; checks every round trip byte for byte (a
// mismatch is an error, never a number); reports rates and the best and median speed of the
// timed repeats, which points are dominated (Pareto), and thread scaling. See docs/bench.md.
// ---------------------------------------------------------------------------------------

/// chunk_bytes value meaning each codec's own chunk size (what `lmgc compress` does).
inline constexpr std::uint64_t codec_bench_default_chunks = UINT64_MAX;

struct codec_bench_params {
    /// Codec specs (parse_codec_bench_spec); empty = every built-in codec but "store" and "lm".
    std::vector<std::string> codecs;
    /// One run per entry: 0 = unchunked, codec_bench_default_chunks = each codec's own chunk
    /// size, else the chunk size in bytes; empty = {0}.
    std::vector<std::uint64_t> chunk_bytes;
    int repeats;                    ///< timed repeats after one untimed warm-up, >= 1
    int n_threads;                  ///< threads of each compress/decompress; 0 = all cores
    std::vector<int> thread_counts; ///< one run per entry (thread scaling); empty = {n_threads}
    input_format format;            ///< how to read the files
    bool u2_as_bf16;                ///< .npy "<u2" arrays hold bfloat16 values
    progress_fn progress;           ///< optional: (passes done, passes in all); a pass is one
                                    ///< round trip of every file in one configuration
};
/// codecs {}, chunk_bytes {0}, repeats 3, n_threads 1 (speeds of one core), format auto.
codec_bench_params default_codec_bench_params();

/// A codec as `lmgc bench codecs` names it:
///   "zstd", "zstd:level=19", "brotli:quality=5:lgwin=22": a codec of `lmgc codecs` with
///   settings (KEY=VALUE, the codec's own; "level=N" is also accepted for lzma's preset and
///   brotli's quality);
///   "level:N" or "-N": lmgc's compression level N (1..9, list_levels()), the codec and
///   settings it maps to in this build.
struct codec_bench_spec {
    std::string spec;                  ///< as written
    std::string label;                 ///< what tables show: "zstd:level=19", "lmgc -3"
    std::string codec;                 ///< the codec's name in `lmgc codecs` (a level: its codec)
    std::vector<codec_option> options; ///< settings given (a level: the level's own)
    int level = 0;                     ///< lmgc's level 1..9; 0 for a codec named directly
};
/// Parses a spec. Throws lmgc::error: usage (unknown codec, setting or level, malformed
/// setting), unsupported (a codec that is not built in).
codec_bench_spec parse_codec_bench_spec(const std::string& spec);
/// "level:1" .. "level:9": every compression level.
std::vector<std::string> codec_bench_level_specs();
/// The classical codecs at representative settings (gzip 1/6/9, zstd 1/3/9/19, lzma 1/6/9,
/// brotli 1/5/11, shuffle-zstd, shuffle-lzma, fpzip, zfp, png, flac), those built in.
std::vector<std::string> codec_bench_classical_specs();

/// One codec in one chunking mode at one thread count, summed over all the files.
struct codec_bench_result {
    std::string codec;                 ///< the spec asked for
    std::string label;                 ///< codec_bench_spec::label
    std::string codec_name;            ///< the codec's name in `lmgc codecs`
    std::vector<codec_option> options; ///< its settings
    int level = 0;                     ///< lmgc's level, 0 for a codec named directly
    std::uint64_t chunk_bytes = 0;     ///< 0 = unchunked; codec_bench_default_chunks
    int n_threads = 1;                 ///< threads of each call (0 = all cores)
    std::string codecs_used;           ///< codec of each stream, "+"-joined and deduplicated,
                                       ///< e.g. "fpzip+zstd" when integer tensors fell back
    std::uint64_t tensor_bytes = 0;    ///< tensor data of the files (what rates refer to)
    std::uint64_t output_bytes = 0;    ///< the .lmgc files
    std::uint64_t payload_bytes = 0;   ///< the coded chunks alone, without container overhead
    double rate_percent = 0;           ///< 100 * output_bytes / tensor_bytes
    double payload_rate_percent = 0;   ///< 100 * payload_bytes / tensor_bytes
    /// Tensor megabytes (10^6 bytes) per second over all files, from the fastest and the
    /// median repeat.
    double compress_mbps_best = 0, compress_mbps_median = 0;
    double decompress_mbps_best = 0, decompress_mbps_median = 0;
};

/// Runs every codec in every mode at every thread count over files (read into memory once,
/// before any timing): one untimed warm-up pass of each, then repeat after repeat a timed pass
/// of each, so that all of them see the same machine. Results are ordered by codec, then
/// mode, then thread count. Throws lmgc::error: io (unreadable file), bad_input (not a tensor
/// file), usage (unknown codec, bad params), unsupported (codec not built in), internal (a
/// round trip that is not byte-identical, or a codec whose output changes between repeats).
std::vector<codec_bench_result> bench_codecs(const std::vector<std::string>& files,
                                             const codec_bench_params& params);

/// A point of a rate / speed plot. Lower rate, higher speeds are better.
struct pareto_point {
    double rate = 0, compress_mbps = 0, decompress_mbps = 0;
};
/// True when a dominates b: rate <= and both speeds >=, and strictly better in one of the
/// three.
bool pareto_dominates(const pareto_point& a, const pareto_point& b);
/// For each point, the indices of the points that dominate it (ascending); empty = on the
/// front.
std::vector<std::vector<std::size_t>> pareto_dominated_by(std::span<const pareto_point> points);

/// One set of files and its results.
struct codec_bench_set {
    std::string name; ///< "files", or --set NAME=...
    std::vector<std::string> files;
    std::vector<codec_bench_result> results;
};
/// The tables: per set the results at the first thread count (rate, payload rate, speeds
/// best / median), which points are dominated and by what (speeds: best of the repeats; every
/// mode and level side by side), whether each classical codec is dominated by an lmgc level,
/// and with several thread counts the scaling (MB/s at N threads and N-thread efficiency,
/// speed / (N * speed at 1 thread)).
std::string codec_bench_markdown(const std::vector<codec_bench_set>& sets, int repeats);
/// Every result as CSV: set, label, codec, settings, level, mode, chunk_bytes, threads, sizes,
/// rates, speeds, dominated_by.
std::string codec_bench_csv(const std::vector<codec_bench_set>& sets);

struct codec_bench_report_params {
    std::string title;   ///< first line of table.md (e.g. the command line)
    std::string gnuplot; ///< "" = find gnuplot on PATH; "none" = do not draw
    bool overwrite = false;
};
/// Writes results.csv, table.md (headed by title), and per set the plot data
/// (pareto[-SET]-levels.dat, pareto[-SET]-classical.dat) and pareto.gp; draws with gnuplot
/// rate-vs-compress[-SET].svg and rate-vs-decompress[-SET].svg (the -SET part only with
/// several sets; log speed axis, lmgc levels and classical codecs in their own colours, one
/// labelled point each). Returns notes (e.g. gnuplot missing). Throws lmgc::error(io), also
/// when dir already holds results.csv and !overwrite.
std::vector<std::string> write_codec_bench_report(const std::vector<codec_bench_set>& sets,
                                                  int repeats, const std::string& dir,
                                                  const codec_bench_report_params& params);

// ---------------------------------------------------------------------------------------
// bench (experiments): `lmgc bench --data ...`, the paper's tables. Draws files at random
// (seeded) from gradient sets, repeat after repeat; compresses and decompresses each with
// every codec in every mode; compares each decoded file byte for byte with what
// decompression must give back (the input, or its lossy reconstruction under --preprocess):
// a mismatch is an error, never a number. Rows report mean ± std over the repeats.
// docs/bench.md.
// ---------------------------------------------------------------------------------------

/// A codec as bench names it: "gzip", "cm", "lzma:KEY=VALUE" (settings passed to the codec),
/// "lm:MODEL_DIR:SERIALIZATION[:tokens=canonical|symbol][:KEY=VALUE...]". Serializations are
/// lmgc's names (hex-space, ...) or the paper's (Hn, Hs, Hc, Hc+s, Hsemi, iso).
struct bench_codec {
    std::string spec;                  ///< as written
    std::string label;                 ///< the row's name: the spec, model folder shortened
    std::string codec;                 ///< the codec's name in `lmgc codecs`
    std::vector<codec_option> options; ///< {"model", dir}, {"serialization", "hex-space"}, ...
    bool is_model = false;             ///< a model prior (cm, lm): run in its own chunking and
                                       ///< its ideal code length -sum(log2 p) reported
    std::string skip;                  ///< "" when it runs; else why not (codec not built in,
                                       ///< no model folder): the row is left out with a note
};
/// Parses a spec. Throws lmgc::error(usage) for an unknown codec or serialization or a
/// malformed setting. A codec that exists but is not built in, and an lm codec without a
/// model folder, are not errors: `skip` says why.
bench_codec parse_bench_codec(const std::string& spec);

/// The files one group of rows is drawn from.
struct gradient_set {
    std::string name;               ///< short name (the folder's), e.g. "convnet-cifar10"
    std::string label;              ///< what tables show, e.g. "ConvNet / CIFAR-10"
    std::vector<std::string> files; ///< sorted by name
    std::string arch, dataset;      ///< from the files' safetensors metadata; "" when absent
};
/// The tensor files of a folder (.npy, .safetensors, .pt, .pth, .ckpt): where several
/// share a stem (grad_00000400.npy and .safetensors, as `lmgc collect --flat-npy` writes),
/// the one whose extension comes first in `prefer`. Empty `files` when there are none.
/// Throws lmgc::error(io) when the folder cannot be read.
gradient_set gradient_set_from_folder(const std::string& dir,
                                      const std::vector<std::string>& prefer = {"npy",
                                                                                "safetensors"});
/// Sets from `--data` arguments: a folder holding tensor files is one set; a folder holding
/// none but subfolders that do gives one set per subfolder; files given by name form one
/// set "files". Throws lmgc::error(io/usage) for a path that does not exist or holds nothing.
std::vector<gradient_set> gradient_sets_from(const std::vector<std::string>& paths,
                                             const std::vector<std::string>& prefer = {
                                                 "npy", "safetensors"});

/// One of the paper's tables as a run over gradient folders made by `lmgc collect`.
struct bench_preset_slot {
    std::string label;                ///< "ConvNet / CIFAR-10"
    std::string arch, dataset;        ///< what the paper trained: "convnet", "cifar10"
    std::vector<std::string> folders; ///< looked for under the data root, in order: the real
                                      ///< set first, then stand-ins this machine can make
    std::string collect_command;      ///< how to make the real set (DATA = the data root)
    std::string standin_command;      ///< how to make a stand-in without the dataset
};
struct bench_preset {
    std::string name;  ///< "table1", "table2", "table3"
    std::string title; ///< what the paper's table shows
    std::vector<bench_preset_slot> slots;
    std::vector<std::string> codecs;            ///< classical codecs (and cm) it runs
    std::vector<std::uint64_t> chunk_bytes;     ///< their modes
    std::vector<std::string> lm_serializations; ///< lm rows per model folder given
};
std::vector<bench_preset> bench_presets();
/// Throws lmgc::error(usage) naming the presets when there is none of that name.
bench_preset find_bench_preset(const std::string& name);

/// What a preset finds under a data root.
struct bench_preset_sets {
    std::vector<gradient_set> sets;   ///< one per slot found, labelled from the files'
                                      ///< metadata; a stand-in says what it stands in for
    std::vector<std::string> missing; ///< per slot not found: the folders looked for and the
                                      ///< commands that make them
    std::vector<std::string> notes;   ///< substitutions and metadata disagreements
};
bench_preset_sets resolve_bench_preset(const bench_preset& preset, const std::string& root,
                                       const std::vector<std::string>& prefer = {"npy",
                                                                                 "safetensors"});

/// Test hooks: tests damage images or decoded files through these to check that bench
/// refuses to report a number. Never set outside tests.
struct bench_test_hooks {
    std::function<void(const std::string& codec_label, std::vector<std::uint8_t>& image)>
        after_compress;
    std::function<void(const std::string& codec_label, std::vector<std::uint8_t>& decoded)>
        after_decompress;
};

struct experiment_params {
    std::vector<std::string> codecs;        ///< specs (parse_bench_codec); empty = gzip, lzma,
                                            ///< png, flac, fpzip, cm
    std::vector<std::uint64_t> chunk_bytes; ///< modes of the classical codecs, 0 = unchunked;
                                            ///< empty = {0, 512} (the paper's two)
    int sample;                             ///< files drawn per repeat; 0 = every file
    int repeats;                            ///< draws, >= 1
    std::uint64_t seed;                     ///< repeat r draws (and sparsifies) with seed + r
    std::vector<std::string> preprocess;    ///< "" = lossless; empty = {""}
    std::vector<unsigned> bytes_per_group;  ///< lm ablation: one row per value (1, 2, 4, 8)
    std::vector<unsigned> context;          ///< lm ablation: tokens per window
    int n_threads;                          ///< threads of each compress/decompress; 0 = all
    input_format format;
    bool u2_as_bf16;
    progress_fn progress; ///< (file runs done, file runs in all)
    bench_test_hooks test_hooks;
};
/// Defaults: codecs {} (the paper's five and cm), chunk_bytes {} (0 and 512), sample 10,
/// repeats 3, seed 0, preprocess {}, n_threads 1 (speeds of one core), format auto.
experiment_params default_experiment_params();

/// One file in one configuration: a line of results.csv.
struct experiment_run {
    std::string set;
    int repeat = 0;
    std::uint64_t seed = 0; ///< of the draw and of sparsification
    std::string file;
    std::string codec;               ///< bench_codec::label
    std::string variant;             ///< ablation settings, e.g. "bytes-per-group=2"; "" if none
    std::string preprocess;          ///< "" = lossless
    std::uint64_t chunk_bytes = 0;   ///< of the file's streams, 0 = unchunked
    bool own_chunking = false;       ///< a model prior in its own chunking
    std::string streams;             ///< codec of each stream, e.g. "fpzip+zstd"
    std::uint64_t tensor_bytes = 0;  ///< what rates refer to (the original float data)
    std::uint64_t output_bytes = 0;  ///< the .lmgc image
    std::uint64_t payload_bytes = 0; ///< its coded chunks, without the container
    std::uint64_t preprocessed_bytes = 0; ///< lossy representation + side information
    std::uint64_t side_info_bytes = 0;
    double relative_l2_error = 0;
    double ideal_bits = -1; ///< -sum(log2 p) for model priors; -1 for others
    double compress_seconds = 0, decompress_seconds = 0; ///< wall time of the calls
    /// CPU time of the process during the calls (user + system, all threads): speeds that a
    /// busy machine does not distort.
    double compress_cpu_seconds = 0, decompress_cpu_seconds = 0;
};

struct mean_std {
    double mean = 0, std = 0; ///< std: population (numpy's default), over the repeats
    int n = 0;
};

/// One table row: a set, codec, variant, mode and preprocessing, over the repeats. Per
/// repeat, sizes are summed over the files drawn (rate = 100 * sum output / sum tensor).
struct experiment_row {
    std::string set;
    std::string codec, variant, preprocess;
    std::uint64_t chunk_bytes = 0;
    bool own_chunking = false;
    bool is_model = false;
    std::string streams;
    int repeats = 0, files = 0;    ///< files per repeat
    mean_std rate;                 ///< % of the tensor bytes
    mean_std payload_rate;         ///< the same without the container
    mean_std rate_vs_preprocessed; ///< % of the lossy representation + side information
    mean_std relative_l2_error;    ///< mean over the repeat's files
    mean_std ideal_rate;           ///< model priors: -sum(log2 p) / 8 as % of the tensor bytes
    bool has_ideal = false;
    mean_std compress_mbps, decompress_mbps;         ///< tensor MB (10^6 B) per second (wall)
    mean_std compress_cpu_mbps, decompress_cpu_mbps; ///< tensor MB per CPU second
};

struct experiment_result {
    std::vector<gradient_set> sets;   ///< the sets run (those with files)
    std::vector<experiment_row> rows; ///< by set, codec, variant, preprocessing, mode
    std::vector<experiment_run> runs; ///< every measurement
    std::vector<std::string> notes;   ///< skipped codecs and sets, small samples, ...
    int sample = 0, repeats = 0;
    std::uint64_t seed = 0;
    int n_threads = 0;
};

/// Runs the experiment. Throws lmgc::error: usage (bad params, nothing that can run), io and
/// bad_input (unreadable files), internal (a decoded file that is not what it must be; the
/// message names the file and codec), and whatever a codec throws, with the file and codec
/// prefixed.
experiment_result run_experiment(const std::vector<gradient_set>& sets,
                                 const experiment_params& params);

/// The report: Markdown (the paper's layout, sets by codecs, when there are several sets;
/// then every row with speeds; then notes), results.csv (every run) and summary.csv (every
/// row).
std::string experiment_markdown(const experiment_result& result);
std::string experiment_runs_csv(const experiment_result& result);
std::string experiment_summary_csv(const experiment_result& result);

struct experiment_report_params {
    std::string title;   ///< first line of table.md (e.g. the command line)
    std::string gnuplot; ///< gnuplot's path; "" = look it up in PATH; "none" = no plots
    bool overwrite;      ///< replace an earlier report in the folder
};
/// Writes table.md, results.csv, summary.csv, the plots' data and gnuplot script, and (with
/// gnuplot, run as a separate process) rate.svg and rate-vs-speed.svg, plus .png when
/// gnuplot has pngcairo. Creates the folder. Returns notes (plots not made and why). Throws
/// lmgc::error(io) when the folder cannot be written or (unless overwrite) already holds a
/// report.
std::vector<std::string> write_experiment_report(const experiment_result& result,
                                                 const std::string& dir,
                                                 const experiment_report_params& params);
/// Whether `dir` already holds a report (results.csv).
bool experiment_report_exists(const std::string& dir);

// ---------------------------------------------------------------------------------------
// collect: gradient collection. Trains the paper's networks (convnet, vgg16, resnet18, vit)
// with LibTorch and saves the gradient of every parameter every grad_interval steps, before
// the optimizer step, as grad_<step>.safetensors (and .npy with flat_npy). See
// docs/collect.md. In a build without LibTorch every call but collect_available(),
// default_collect_params() and collect_dataset() throws lmgc::error(errc::unsupported).
// ---------------------------------------------------------------------------------------

/// Whether training is possible here: the LibTorch module is built and loads.
bool collect_available() noexcept;

/// What the progress callback sees after each training step.
struct collect_step_info {
    std::uint64_t step = 0;        ///< steps done, 1-based
    std::uint64_t total_steps = 0; ///< steps of the whole run
    int epoch = 0;                 ///< 1-based
    double loss = 0;               ///< mean training loss of the epoch so far
    double accuracy = 0;           ///< training accuracy of the epoch so far, in %
    double lr = 0;                 ///< learning rate used for this step
    double steps_per_second = 0;   ///< since the start of training
    std::string saved_file;        ///< the gradient file written at this step, or ""
};
using collect_progress_fn = std::function<void(const collect_step_info&)>;

struct collect_params {
    std::string arch;            ///< convnet, vgg16, resnet18, vit
    std::string dataset;         ///< fashion-mnist, mnist, cifar10, tinyimagenet, synthetic
    std::string data_dir;        ///< "" = the dataset's default folder (fashion-mnist only)
    int epochs;                  ///< run length in epochs when steps is 0
    std::uint64_t steps;         ///< run length in steps; 0 = use epochs
    std::uint64_t grad_interval; ///< save gradients every N steps (the paper: 400)
    int batch;                   ///< batch size (the paper: 128)
    std::string optimizer;       ///< "" = the arch's recipe (sgd; vit: adamw), or sgd, adamw
    double lr;                   ///< 0 = the default: sgd 0.1; adamw 1e-3 (one-cycle peak)
    double momentum;             ///< sgd momentum (0.9)
    double weight_decay;         ///< < 0 = default: sgd 5e-4; adamw 0.1 on conv/linear weights
    bool augment;                ///< the paper's data augmentation for the dataset
    std::uint64_t seed;          ///< weights, shuffling, augmentation, dropout
    std::string device;          ///< "cpu", "cuda", "cuda:1"
    int n_threads;               ///< CPU threads for LibTorch; 0 = all cores
    std::string out_dir;         ///< created if missing
    bool flat_npy;               ///< also write grad_<step>.npy, the flat float32 vector
    bool overwrite;              ///< replace gradient files already in out_dir
    bool evaluate;               ///< measure test accuracy at the end (needs the test split)
    // The synthetic dataset: random class templates plus noise, so that it is learnable.
    int synthetic_channels, synthetic_size, synthetic_classes, synthetic_samples;
    collect_progress_fn progress; ///< optional, called after every step
};
collect_params default_collect_params();

/// Input shape and class count of a dataset as the networks see it (no images are read).
struct collect_dataset_info {
    std::string name;
    int channels = 0, height = 0, width = 0, classes = 0;
    std::string default_dir;    ///< "" when the dataset needs --data
    std::string expected_files; ///< what must be in the folder, for messages and docs
};
/// Throws lmgc::error(usage) for an unknown dataset name.
collect_dataset_info collect_dataset(const collect_params& params);

/// One trainable parameter, in the network's parameter order.
struct collect_param_info {
    std::string name;
    std::vector<std::int64_t> shape;
    std::uint64_t numel = 0;
};

/// The network that collect_gradients would train, built but not trained.
struct collect_model_info {
    std::string arch, dataset;
    int channels = 0, height = 0, width = 0, classes = 0; ///< the input the network takes
    std::uint64_t n_params = 0;
    std::vector<collect_param_info> params;
    std::string description; ///< the layers, one per line
};
collect_model_info collect_describe(const collect_params& params);

struct collect_summary {
    std::uint64_t steps = 0;
    int epochs = 0;            ///< epochs started
    double final_loss = 0;     ///< mean loss of the last epoch
    double final_accuracy = 0; ///< training accuracy of the last epoch, %
    double test_accuracy = -1; ///< with evaluate, else -1
    std::uint64_t n_params = 0;
    std::vector<std::string> files; ///< gradient files written, in order
    std::uint64_t bytes_written = 0;
    double seconds = 0;      ///< training time, without loading data
    double load_seconds = 0; ///< loading (and decoding) the dataset
    double steps_per_second = 0;
    std::string device; ///< as used, e.g. "cpu (2 threads)"
};

/// Trains and writes gradient files. Throws lmgc::error: usage for bad parameters, io for a
/// missing dataset (naming the expected files), bad_input for malformed dataset files.
collect_summary collect_gradients(const collect_params& params);

/// Training speed of one architecture on synthetic data of the paper's shape.
struct collect_bench_result {
    std::string arch;
    std::uint64_t n_params = 0;
    int batch = 0;
    double median_steps_per_second = 0;
    double best_steps_per_second = 0;
    int timed_steps = 0;
};
/// Times `steps` training steps per arch after `warmup` untimed ones, with params' batch,
/// device, threads and synthetic shape (arch and dataset are ignored).
std::vector<collect_bench_result> collect_benchmark(const collect_params& params,
                                                    const std::vector<std::string>& archs,
                                                    int warmup, int steps);

// ---------------------------------------------------------------------------------------
// LLM prior (src/model, src/codecs/codec-lm*.cpp): the paper's LM-GC, decodable. Needs
// LibTorch: without it every call below throws lmgc::error(unsupported). docs/llm.md.
// ---------------------------------------------------------------------------------------

/// Settings of the "lm" codec, as the CLI's --model, --serialization, ... options. Zero or
/// empty means the codec's default (docs/llm.md).
struct llm_settings {
    /// Hugging Face checkpoint folder (config.json, safetensors, tokenizer.model)
    std::string model;
    std::string serialization; ///< "hex-space" (default), "hex-none", "hex-comma", ..., "iso"
    int bytes_per_group = 0;   ///< 4 by default
    std::string tokens;        ///< "canonical" (default) or "symbol"
    int context = 0;           ///< tokens per window including BOS; 2048 by default
    int batch = 0;             ///< windows evaluated together; 4 on CPU, 128 on CUDA by default
    std::string device;        ///< "cpu" (default), "cuda", "cuda:N"
    std::string dtype;         ///< "fp32" (CPU default), "bf16" (CUDA default), "fp16"
    int n_threads = 0;         ///< CPU threads; 0 = all cores
};

/// Whether the LLM prior is available here: the LibTorch module is built and loads.
bool llm_available() noexcept;
/// The codec options ({"model", dir}, ...) for the settings that are set.
std::vector<codec_option> llm_codec_options(const llm_settings& s);

/// The model's view of a token sequence.
struct llm_prediction {
    std::vector<int> ids; ///< the sequence evaluated (BOS first when made from text)
    std::vector<std::string> pieces;
    std::vector<double> log2p; ///< log2p[i] = log2 P(ids[i+1] | ids[0..i]), float softmax
    std::vector<double> log2q; ///< the same from the integer table the coder would use
};
/// Runs the model step by step over ids, or over text tokenized with the model's tokenizer
/// (BOS first) when ids is empty.
llm_prediction llm_predict(const llm_settings& s, const std::vector<int>& ids,
                           const std::string& text);

/// What `lmgc analyze` reports: the model's ideal code length next to the real coded size.
struct llm_analysis {
    std::uint64_t tensor_bytes = 0; ///< float tensor bytes coded
    std::uint64_t n_values = 0;     ///< float values
    std::uint64_t n_tokens = 0, n_coded = 0, n_windows = 0;
    double model_bits = 0;           ///< -sum log2 p with the model's float probabilities
    double coded_bits = 0;           ///< -sum log2 p with the integer tables (what the coder pays)
    std::uint64_t payload_bytes = 0; ///< the lm codec's payload (range-coded windows + index)
    bool verified = false;           ///< the payload was decoded back bit-exactly
    double encode_seconds = 0, decode_seconds = 0, tokenize_seconds = 0;
    std::vector<codec_option> params; ///< what the codec records
};
/// Compresses the float tensors of a file with the lm codec in memory (and, with verify,
/// decompresses and compares). Throws lmgc::error.
llm_analysis llm_analyze(const std::string& path, const llm_settings& s, bool verify,
                         input_format format = input_format::auto_detect,
                         progress_fn progress = {});

/// Writes a random-weight LlamaForCausalLM checkpoint with a small synthetic tokenizer into
/// dir: shape "tiny" (hidden 64, 2 layers, GQA) or "tinyllama" (TinyLlama-1.1B's exact
/// shape), dtype "fp32", "bf16" or "fp16". For benchmarks and GPU checks without downloads.
void llm_write_random_model(const std::string& dir, const std::string& shape,
                            const std::string& dtype, std::uint64_t seed = 1);

/// Tokens per second of one whole-sequence (prefill) forward pass of batch x length random
/// tokens, best of `repeats` after one warm-up: what the paper's code ran per window.
double llm_prefill_tokens_per_second(const llm_settings& s, int batch, int length, int repeats = 3);

} // namespace lmgc::experimental
