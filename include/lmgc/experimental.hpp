// lmgc experimental API: calls for the CLI's research subcommands (serialization, tokens,
// model inspection, gradient collection, experiments). May change between versions.
// Each section belongs to one pipeline stage.
#pragma once

#include "lmgc/lmgc.hpp"

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace lmgc::experimental {

// ---------------------------------------------------------------------------------------
// collect: gradient collection. Trains the paper's networks (convnet, vgg16, resnet18, vit)
// with LibTorch and saves the gradient of every parameter every grad_interval steps, before
// the optimizer step, as grad_<step>.safetensors (and .npy with flat_npy). See
// docs/collect.md. In a build without LibTorch every call but collect_available(),
// default_collect_params() and collect_dataset() throws lmgc::error(errc::unsupported).
// ---------------------------------------------------------------------------------------

/// Whether this build can train (was built with LibTorch).
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

} // namespace lmgc::experimental
