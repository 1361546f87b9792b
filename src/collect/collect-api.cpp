// The parts of the collect API that need no LibTorch: defaults, parameter checks, the
// dataset table and loading by name.
#include "collect/collect-data.hpp"

#include "common/common-error.hpp"

#include <filesystem>

namespace lmgc {
namespace experimental {

collect_params default_collect_params() {
    collect_params p;
    p.arch = "convnet";
    p.dataset = "fashion-mnist";
    p.epochs = 1;
    p.steps = 0;
    p.grad_interval = 400;
    p.batch = 128;
    p.lr = 0;
    p.momentum = 0.9;
    p.weight_decay = -1;
    p.augment = true;
    p.seed = 0;
    p.device = "cpu";
    p.n_threads = 0;
    p.flat_npy = false;
    p.overwrite = false;
    p.evaluate = false;
    p.synthetic_channels = 3;
    p.synthetic_size = 32;
    p.synthetic_classes = 10;
    p.synthetic_samples = 1024;
    return p;
}

collect_dataset_info collect_dataset(const collect_params& params) {
    const auto s = detail::find_dataset_spec(params);
    collect_dataset_info d;
    d.name = s.name;
    d.channels = s.channels;
    d.height = s.height;
    d.width = s.width;
    d.classes = s.classes;
    d.default_dir = s.default_dir;
    d.expected_files = s.expected;
    return d;
}

} // namespace experimental

namespace detail {

namespace {
constexpr const char* known_archs[] = {"convnet", "vgg16", "resnet18", "vit"};
constexpr const char* known_datasets = "fashion-mnist, mnist, cifar10, tinyimagenet, synthetic";
} // namespace

dataset_spec find_dataset_spec(const experimental::collect_params& params) {
    dataset_spec s;
    s.name = params.dataset;
    if (s.name == "fashion-mnist" || s.name == "mnist") {
        s.channels = 1;
        s.height = s.width = 28;
        s.classes = 10;
        s.expected = "train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz] (and t10k-* "
                     "for --eval)";
        if (s.name == "fashion-mnist") s.default_dir = "/usr/share/datasets/fashion-mnist";
    } else if (s.name == "cifar10") {
        s.channels = 3;
        s.height = s.width = 32;
        s.classes = 10;
        s.expected = "data_batch_1.bin ... data_batch_5.bin, test_batch.bin (the binary version)";
    } else if (s.name == "tinyimagenet") {
        s.channels = 3;
        s.height = s.width = 32; // resized from 64x64 at load time, as the paper
        s.classes = 200;
        s.expected = "wnids.txt, train/<wnid>/images/*.JPEG, val/images/*.JPEG, "
                     "val/val_annotations.txt";
    } else if (s.name == "synthetic") {
        s.channels = params.synthetic_channels;
        s.height = s.width = params.synthetic_size;
        s.classes = params.synthetic_classes;
        s.expected = "nothing (generated)";
    } else {
        LMGC_FAIL(errc::usage, "unknown dataset '", params.dataset, "' (known: ", known_datasets,
                  ")");
    }
    return s;
}

std::string dataset_dir(const experimental::collect_params& params) {
    const auto spec = find_dataset_spec(params);
    if (!params.data_dir.empty()) return params.data_dir;
    LMGC_CHECK(!spec.default_dir.empty() || spec.name == "synthetic", errc::usage, spec.name,
               " needs --data DIR, a folder with ", spec.expected);
    return spec.default_dir;
}

image_set load_dataset(const experimental::collect_params& params, split which) {
    const auto spec = find_dataset_spec(params);
    if (spec.name == "synthetic") {
        const int n = which == split::train ? params.synthetic_samples
                                            : std::max(params.synthetic_samples / 4, 1);
        return make_synthetic(spec.channels, spec.height, spec.classes, n,
                              params.seed * 2 + (which == split::test ? 1 : 0));
    }
    const auto dir = dataset_dir(params);
    std::string hint;
    if (spec.name == "fashion-mnist" && params.data_dir.empty())
        hint = "install Debian's dataset-fashion-mnist, or pass --data DIR";
    LMGC_CHECK(std::filesystem::is_directory(dir), errc::io, spec.name, ": no folder '", dir,
               "' (expected ", spec.expected, " there", hint.empty() ? "" : "; ", hint, ")");
    image_set s;
    if (spec.name == "fashion-mnist" || spec.name == "mnist") {
        s = load_idx_dataset(dir, which, spec.name, hint);
        // Per-dataset statistics of pixel / 255 over the training set.
        const float mean = spec.name == "mnist" ? 0.1307f : 0.2860f;
        const float sd = spec.name == "mnist" ? 0.3081f : 0.3530f;
        s.mean = {mean};
        s.stddev = {sd};
    } else if (spec.name == "cifar10") {
        s = load_cifar10(dir, which);
        s.mean = {0.4914f, 0.4822f, 0.4465f};
        s.stddev = {0.2023f, 0.1994f, 0.2010f};
    } else {
        s = load_tinyimagenet(dir, which);
        s.mean = {0.4802f, 0.4481f, 0.3975f};
        s.stddev = {0.2302f, 0.2265f, 0.2262f};
    }
    return s;
}

int arch_pad_to(const std::string& arch, const dataset_spec& spec) {
    if (arch != "convnet" && spec.height == 28 && spec.width == 28) return 32;
    return 0;
}

void check_collect_params(const experimental::collect_params& p) {
    bool arch_ok = false;
    for (const auto* a : known_archs) arch_ok = arch_ok || p.arch == a;
    LMGC_CHECK(arch_ok, errc::usage, "unknown arch '", p.arch,
               "' (known: convnet, vgg16, resnet18, vit)");
    const auto spec = find_dataset_spec(p);
    if (spec.name == "synthetic")
        LMGC_CHECK(p.synthetic_channels >= 1 && p.synthetic_channels <= 16 &&
                       p.synthetic_size >= 8 && p.synthetic_size <= 512 &&
                       p.synthetic_classes >= 2 && p.synthetic_classes <= 100000 &&
                       p.synthetic_samples >= 1 && p.synthetic_samples <= 10000000,
                   errc::usage,
                   "synthetic data needs 1-16 channels, size 8-512, 2-100000 classes and "
                   "1-10000000 samples");
    LMGC_CHECK(p.epochs >= 1 || p.steps >= 1, errc::usage, "--epochs or --steps must be >= 1");
    LMGC_CHECK(p.epochs <= 100000 && p.steps <= (std::uint64_t{1} << 40), errc::usage,
               "run too long");
    LMGC_CHECK(p.grad_interval >= 1, errc::usage, "--grad-interval must be >= 1");
    LMGC_CHECK(p.batch >= 1 && p.batch <= 65536, errc::usage, "--batch must be in [1, 65536]");
    LMGC_CHECK(p.lr >= 0 && p.lr < 1e3, errc::usage, "--lr must be in [0, 1000)");
    LMGC_CHECK(p.momentum >= 0 && p.momentum < 1, errc::usage, "--momentum must be in [0, 1)");
    LMGC_CHECK(p.weight_decay < 1e3, errc::usage, "--weight-decay too large");
    LMGC_CHECK(p.optimizer.empty() || p.optimizer == "sgd" || p.optimizer == "adamw", errc::usage,
               "--optimizer must be sgd or adamw, not '", p.optimizer, "'");
    LMGC_CHECK(p.n_threads >= 0 && p.n_threads <= 1024, errc::usage,
               "--threads must be in [0, 1024]");
    const int H = std::max(spec.height, arch_pad_to(p.arch, spec));
    if (p.arch == "vgg16" || p.arch == "resnet18")
        LMGC_CHECK(H == 32 && std::max(spec.width, arch_pad_to(p.arch, spec)) == 32, errc::usage,
                   p.arch, " takes 32x32 images (28x28 ones are padded), not ", spec.height, "x",
                   spec.width);
    if (p.arch == "vit")
        LMGC_CHECK(spec.height % 2 == 0 && spec.width % 2 == 0, errc::usage,
                   "vit takes images of even size (patches of 2x2), not ", spec.height, "x",
                   spec.width);
    if (p.arch == "convnet")
        LMGC_CHECK(spec.height >= 8 && spec.width >= 8, errc::usage,
                   "convnet takes images of at least 8x8");
}

} // namespace detail
} // namespace lmgc
