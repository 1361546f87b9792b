// The paper's tables as presets of `lmgc bench`: which gradient folders each expects under
// the data root, how `lmgc collect` makes them (and stand-ins where the dataset is not at
// hand), and the codecs each table compares. Sets are labelled from the files' own metadata,
// so a stand-in is never shown as the real dataset.
#include "bench/bench-internal.hpp"

#include "common/common-error.hpp"

#include <filesystem>

namespace lmgc::experimental {

namespace fs = std::filesystem;
using namespace lmgc::detail;

namespace {

// Where each dataset lives is up to the user; the commands name it with a placeholder.
std::string dataset_dir_placeholder(const std::string& dataset) {
    if (dataset == "mnist") return "MNIST_DIR";
    if (dataset == "cifar10") return "CIFAR10_DIR";
    return "TINYIMAGENET_DIR";
}

// A slot for ARCH trained on DATASET. The real run is the paper's: 200 epochs, a gradient
// file every 400 steps. Stand-ins are short runs on what lmgc can make without downloads:
// Fashion-MNIST (Debian's dataset-fashion-mnist) for MNIST, synthetic images of the same
// shape and class count for CIFAR-10 and TinyImageNet.
bench_preset_slot slot(const std::string& arch, const std::string& dataset) {
    bench_preset_slot s;
    s.arch = arch;
    s.dataset = dataset;
    s.label = bench_arch_label(arch) + " / " + bench_dataset_label(dataset);
    const std::string real = arch + "-" + dataset;
    s.folders.push_back(real);
    s.collect_command = "lmgc collect -a " + arch + " -d " + dataset + " --data " +
                        dataset_dir_placeholder(dataset) + " --epochs 200 --flat-npy -o DATA/" +
                        real;
    // Stand-ins: short runs a 2-core machine finishes in minutes: 10 gradient files of ConvNet
    // (as many as the paper draws per repeat), 3 of the large networks.
    const std::string steps =
        arch == "convnet" ? "--steps 200 --grad-interval 20" : "--steps 30 --grad-interval 10";
    if (dataset == "mnist") {
        s.folders.push_back(arch + "-fashion-mnist");
        s.folders.push_back(arch + "-fmnist");
        s.standin_command = "lmgc collect -a " + arch + " -d fashion-mnist " + steps +
                            " --flat-npy -o DATA/" + arch + "-fashion-mnist";
    } else {
        const std::string classes = dataset == "tinyimagenet" ? "200" : "10";
        s.folders.push_back(real + "-synthetic");
        s.standin_command = "lmgc collect -a " + arch +
                            " -d synthetic --channels 3 --image-size 32 --classes " + classes +
                            " " + steps + " --flat-npy -o DATA/" + real + "-synthetic";
    }
    return s;
}

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
    for (std::size_t p = s.find(from); p != std::string::npos; p = s.find(from, p + to.size()))
        s.replace(p, from.size(), to);
    return s;
}

} // namespace

std::vector<bench_preset> bench_presets() {
    const std::vector<std::string> classical = {"png", "flac", "gzip", "lzma", "fpzip", "cm"};
    std::vector<bench_preset> out;
    {
        bench_preset p;
        p.name = "table1";
        p.title = "Table 1: ConvNet on CIFAR-10; classical codecs unchunked and in 512-byte "
                  "chunks; LM-GC per serialization and model";
        p.slots = {slot("convnet", "cifar10")};
        p.codecs = classical;
        p.chunk_bytes = {0, 512};
        p.lm_serializations = {"iso",       "hex-none",        "hex-space",
                               "hex-comma", "hex-comma+space", "hex-semicolon"};
        out.push_back(std::move(p));
    }
    {
        bench_preset p;
        p.name = "table2";
        p.title = "Table 2: ConvNet, VGG16, ResNet18 and ViT trained on CIFAR-10";
        for (const auto* a : {"convnet", "vgg16", "resnet18", "vit"})
            p.slots.push_back(slot(a, "cifar10"));
        p.codecs = classical;
        p.chunk_bytes = {0};
        p.lm_serializations = {"hex-none", "hex-space", "hex-comma", "hex-comma+space"};
        out.push_back(std::move(p));
    }
    {
        bench_preset p;
        p.name = "table3";
        p.title = "Table 3: ConvNet trained on MNIST, CIFAR-10 and TinyImageNet";
        for (const auto* d : {"mnist", "cifar10", "tinyimagenet"})
            p.slots.push_back(slot("convnet", d));
        p.codecs = classical;
        p.chunk_bytes = {0};
        p.lm_serializations = {"hex-space"};
        out.push_back(std::move(p));
    }
    return out;
}

bench_preset find_bench_preset(const std::string& name) {
    std::string names;
    for (auto& p : bench_presets()) {
        if (p.name == name) return p;
        names += (names.empty() ? "" : ", ") + p.name;
    }
    LMGC_FAIL(errc::usage, "unknown preset '", name, "' (presets: ", names, ")");
}

bench_preset_sets resolve_bench_preset(const bench_preset& preset, const std::string& root,
                                       const std::vector<std::string>& prefer) {
    std::error_code ec;
    LMGC_CHECK(fs::is_directory(root, ec), errc::io, "data root '", root, "' is not a folder");
    bench_preset_sets out;
    for (const auto& s : preset.slots) {
        bool found = false;
        for (std::size_t i = 0; i < s.folders.size() && !found; ++i) {
            const auto dir = (fs::path(root) / s.folders[i]).string();
            if (!fs::is_directory(dir, ec)) continue;
            auto set = gradient_set_from_folder(dir, prefer);
            if (set.files.empty()) {
                out.notes.push_back(s.label + ": '" + dir + "' holds no gradient files");
                continue;
            }
            if (!set.arch.empty() && set.arch != s.arch) {
                out.notes.push_back(s.label + ": '" + dir + "' holds " + set.arch +
                                    " gradients (metadata), not " + s.arch + "; not used");
                continue;
            }
            const std::string arch = bench_arch_label(s.arch);
            const std::string wanted = bench_dataset_label(s.dataset);
            if (set.dataset == s.dataset) {
                set.label = s.label;
            } else if (set.dataset == "synthetic" ||
                       (s.dataset == "mnist" && set.dataset == "fashion-mnist")) {
                set.label = arch + " / " + bench_dataset_label(set.dataset) + " (stand-in for " +
                            wanted + ")";
                out.notes.push_back(s.label + ": no " + wanted + " gradients; '" + dir +
                                    "' holds " + bench_dataset_label(set.dataset) +
                                    " gradients, shown as a stand-in, not as " + wanted);
            } else if (set.dataset.empty()) {
                set.label = i == 0 ? s.label + " (no metadata: unverified)"
                                   : arch + " / " + s.folders[i] + " (stand-in for " + wanted +
                                         "; no metadata)";
                out.notes.push_back(s.label + ": the files in '" + dir +
                                    "' carry no metadata saying what they are");
            } else {
                out.notes.push_back(s.label + ": '" + dir + "' holds " +
                                    bench_dataset_label(set.dataset) +
                                    " gradients (metadata), not " + wanted + "; not used");
                continue;
            }
            out.sets.push_back(std::move(set));
            found = true;
        }
        if (found) continue;
        std::string looked;
        for (const auto& f : s.folders) looked += (looked.empty() ? "" : ", ") + f;
        out.missing.push_back(s.label + ": none of " + looked + " under " + root +
                              ". Make it with:\n    " +
                              replace_all(s.collect_command, "DATA/", root + "/") +
                              "\n  or, without the dataset, a stand-in:\n    " +
                              replace_all(s.standin_command, "DATA/", root + "/"));
    }
    return out;
}

} // namespace lmgc::experimental
