// Gradient collection with LibTorch, kept tiny (synthetic data, a few steps, small batches):
// the paper's parameter counts, the files a run writes (names, shapes, metadata, the flat
// .npy), determinism with a fixed seed, and the CLI's errors.
#include "common/common-json.hpp"
#include "io/io-tensor-file.hpp"
#include "lmgc/research.hpp"
#include "testutil.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>

using namespace lmgc;
using namespace lmgc::test;
namespace ex = lmgc::experimental;

namespace {

ex::collect_params synthetic(const std::string& arch, int channels, int size, int batch) {
    auto p = ex::default_collect_params();
    p.arch = arch;
    p.dataset = "synthetic";
    p.synthetic_channels = channels;
    p.synthetic_size = size;
    p.synthetic_samples = 64;
    p.batch = batch;
    p.n_threads = 2;
    return p;
}

std::uint64_t count(const std::string& arch, const std::string& dataset) {
    auto p = ex::default_collect_params();
    p.arch = arch;
    p.dataset = dataset;
    return ex::collect_describe(p).n_params;
}

struct safetensors_file {
    bytes data;
    detail::parsed_file parsed;
    detail::json_value header;
    std::string meta(const std::string& k) const {
        return header.at("__metadata__").at(k).as_string();
    }
};

safetensors_file load(const std::string& path) {
    safetensors_file f;
    f.data = read_bytes(path);
    f.parsed = detail::parse_safetensors(f.data);
    const auto n = detail::load_le<std::uint64_t>(f.data.data());
    f.header =
        detail::json_parse(std::string_view(reinterpret_cast<const char*>(f.data.data() + 8), n));
    return f;
}

} // namespace

TEST(collect_train, parameter_counts_match_the_paper) {
    EXPECT_EQ(count("convnet", "mnist"), 317706u);
    EXPECT_EQ(count("convnet", "fashion-mnist"), 317706u);
    EXPECT_EQ(count("convnet", "cifar10"), 320010u);
    EXPECT_EQ(count("convnet", "tinyimagenet"), 709320u);
    EXPECT_EQ(count("vgg16", "cifar10"), 14728266u);
    EXPECT_EQ(count("resnet18", "cifar10"), 11173962u);
    // The released code's RelViT (channels 256, head channels 32, 8 blocks, patch 2): the
    // paper's "about 6.5 M".
    EXPECT_EQ(count("vit", "cifar10"), 6482138u);
    // One input channel changes only the first convolution.
    EXPECT_EQ(count("vgg16", "fashion-mnist"), 14728266u - 2 * 64 * 9);

    auto p = ex::default_collect_params();
    p.arch = "resnet18";
    p.dataset = "cifar10";
    const auto m = ex::collect_describe(p);
    std::uint64_t total = 0;
    for (const auto& q : m.params) total += q.numel;
    EXPECT_EQ(total, m.n_params);
    EXPECT_EQ(m.params.front().name, "conv1.weight");
    EXPECT_EQ(m.params.front().shape, (std::vector<std::int64_t>{64, 3, 3, 3}));
    EXPECT_EQ(m.params.back().name, "classifier.bias");
    for (const auto& q : m.params)
        EXPECT_EQ(q.name.find("conv2.bias"), std::string::npos) << "bias-free convs";
    EXPECT_NE(m.description.find("GroupNorm"), std::string::npos);
    EXPECT_EQ(m.height, 32);
}

TEST(collect_train, synthetic_steps_write_the_expected_files) {
    temp_dir dir;
    auto p = synthetic("convnet", 1, 28, 8);
    p.steps = 4;
    p.grad_interval = 2;
    p.flat_npy = true;
    p.seed = 3;
    p.out_dir = dir.file("out");
    std::vector<ex::collect_step_info> steps;
    p.progress = [&](const ex::collect_step_info& s) { steps.push_back(s); };
    const auto sum = ex::collect_gradients(p);
    EXPECT_EQ(sum.steps, 4u);
    EXPECT_EQ(sum.n_params, 317706u);
    ASSERT_EQ(steps.size(), 4u);
    EXPECT_EQ(steps[1].saved_file, dir.file("out/grad_00000002.safetensors"));
    EXPECT_EQ(steps[0].saved_file, "");
    EXPECT_EQ(steps[3].total_steps, 4u);
    EXPECT_GT(steps[0].lr, steps[3].lr); // cosine schedule
    EXPECT_DOUBLE_EQ(steps[0].lr, 0.1);
    const std::vector<std::string> want = {"grad_00000002.npy", "grad_00000002.safetensors",
                                           "grad_00000004.npy", "grad_00000004.safetensors"};
    std::vector<std::string> got;
    for (const auto& e : std::filesystem::directory_iterator(p.out_dir))
        got.push_back(e.path().filename());
    std::sort(got.begin(), got.end());
    EXPECT_EQ(got, want);
    EXPECT_EQ(sum.files.size(), 4u);

    const auto model = ex::collect_describe(p);
    const auto f = load(dir.file("out/grad_00000004.safetensors"));
    ASSERT_EQ(f.parsed.tensors.size(), model.params.size());
    std::uint64_t off = f.parsed.tensors.front().offset;
    for (std::size_t i = 0; i < model.params.size(); ++i) {
        const auto& t = f.parsed.tensors[i];
        EXPECT_EQ(t.name, model.params[i].name);
        EXPECT_EQ(t.shape, model.params[i].shape);
        EXPECT_EQ(t.type, detail::dtype::f32);
        EXPECT_EQ(t.offset, off); // contiguous, in parameter order
        off += t.nbytes;
    }
    EXPECT_EQ(f.meta("step"), "4");
    EXPECT_EQ(f.meta("epoch"), "1");
    EXPECT_EQ(f.meta("arch"), "convnet");
    EXPECT_EQ(f.meta("dataset"), "synthetic");
    EXPECT_EQ(f.meta("seed"), "3");
    const double loss = std::stod(f.meta("loss"));
    EXPECT_TRUE(std::isfinite(loss));
    EXPECT_GT(loss, 0);

    // The .npy holds the same floats, concatenated in parameter order.
    const auto npy = read_bytes(dir.file("out/grad_00000004.npy"));
    const auto np = detail::parse_npy(npy);
    ASSERT_EQ(np.tensors.size(), 1u);
    EXPECT_EQ(np.tensors[0].shape, (std::vector<std::int64_t>{317706}));
    const std::uint64_t begin = f.parsed.tensors.front().offset;
    ASSERT_EQ(np.tensors[0].nbytes, f.data.size() - begin);
    EXPECT_EQ(
        std::memcmp(npy.data() + np.tensors[0].offset, f.data.data() + begin, np.tensors[0].nbytes),
        0);

    // Real gradients: finite, mostly non-zero, every parameter touched.
    std::vector<float> g(317706);
    std::memcpy(g.data(), f.data.data() + begin, g.size() * 4);
    std::size_t zeros = 0;
    for (const float v : g) {
        ASSERT_TRUE(std::isfinite(v));
        zeros += v == 0;
    }
    EXPECT_LT(zeros, g.size() / 10);

    // A second run into the same folder needs --force, and then replaces the old files.
    EXPECT_THROW(ex::collect_gradients(p), error);
    p.overwrite = true;
    p.steps = 2;
    p.flat_npy = false;
    ex::collect_gradients(p);
    EXPECT_TRUE(std::filesystem::exists(dir.file("out/grad_00000002.safetensors")));
    EXPECT_FALSE(std::filesystem::exists(dir.file("out/grad_00000004.safetensors")));
    EXPECT_FALSE(std::filesystem::exists(dir.file("out/grad_00000002.npy")));
}

TEST(collect_train, same_seed_same_gradients) {
    temp_dir dir;
    auto run = [&](std::uint64_t seed, const std::string& name) {
        auto p = synthetic("convnet", 3, 16, 8);
        p.steps = 3;
        p.grad_interval = 3;
        p.seed = seed;
        p.dataset = "synthetic";
        p.out_dir = dir.file(name);
        ex::collect_gradients(p);
        return read_bytes(dir.file(name + "/grad_00000003.safetensors"));
    };
    const auto a = run(7, "a"), b = run(7, "b"), c = run(8, "c");
    EXPECT_EQ(a, b);
    EXPECT_NE(a, c);
}

TEST(collect_train, every_arch_trains_on_synthetic_data) {
    temp_dir dir;
    for (const std::string arch : {"vgg16", "resnet18", "vit"}) {
        // vgg16 and resnet18 take 32x32 only; the ViT runs on 16x16 to keep the test short.
        auto p = synthetic(arch, 3, arch == "vit" ? 16 : 32, 2);
        p.steps = 1;
        p.grad_interval = 1;
        p.out_dir = dir.file(arch);
        const auto sum = ex::collect_gradients(p);
        ASSERT_EQ(sum.files.size(), 1u);
        const auto f = load(sum.files[0]);
        const auto m = ex::collect_describe(p);
        EXPECT_EQ(f.parsed.tensors.size(), m.params.size()) << arch;
        std::uint64_t bytes_total = 0;
        for (const auto& t : f.parsed.tensors) bytes_total += t.nbytes;
        EXPECT_EQ(bytes_total, 4 * m.n_params) << arch;
        EXPECT_EQ(f.meta("arch"), arch);
        EXPECT_EQ(f.meta("optimizer"), arch == "vit" ? "adamw" : "sgd");
        EXPECT_TRUE(std::isfinite(std::stod(f.meta("loss")))) << arch;
    }
}

TEST(collect_train, evaluation_and_epochs) {
    temp_dir dir;
    auto p = synthetic("convnet", 1, 12, 16);
    p.synthetic_samples = 40; // 3 steps per epoch, the last one of 8 images
    p.epochs = 2;
    p.grad_interval = 5;
    p.evaluate = true;
    p.lr = 0.01;
    p.out_dir = dir.path();
    std::vector<int> epochs;
    p.progress = [&](const ex::collect_step_info& s) { epochs.push_back(s.epoch); };
    const auto s = ex::collect_gradients(p);
    EXPECT_EQ(s.steps, 6u);
    EXPECT_EQ(s.epochs, 2);
    EXPECT_EQ(epochs, (std::vector<int>{1, 1, 1, 2, 2, 2}));
    ASSERT_EQ(s.files.size(), 1u);
    EXPECT_EQ(load(s.files[0]).meta("epoch"), "2");
    // A run shorter than the interval would save nothing: refused before training.
    p.grad_interval = 7;
    p.overwrite = true;
    EXPECT_THROW(ex::collect_gradients(p), error);
    EXPECT_GE(s.test_accuracy, 0);
    EXPECT_LE(s.test_accuracy, 100);
}

TEST(collect_train, benchmark_reports_rates) {
    auto p = synthetic("convnet", 3, 16, 4);
    const auto r = ex::collect_benchmark(p, {"convnet"}, 1, 2);
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(r[0].arch, "convnet");
    EXPECT_GT(r[0].median_steps_per_second, 0);
    EXPECT_GE(r[0].best_steps_per_second, r[0].median_steps_per_second);
}

TEST(collect_cli, describe_errors_and_a_short_run) {
    temp_dir dir;
    std::string out;
    ASSERT_EQ(run(lmgc_bin() + " collect --arch convnet --describe", &out), 0) << out;
    EXPECT_NE(out.find("parameters: 317706"), std::string::npos) << out;
    EXPECT_NE(out.find("features.0.weight"), std::string::npos) << out;

    // A missing dataset names the expected files; exit 1.
    EXPECT_EQ(
        run(lmgc_bin() + " collect -d mnist --data " + dir.file("none") + " -o " + dir.file("o"),
            &out),
        1);
    EXPECT_NE(out.find("train-images-idx3-ubyte[.gz]"), std::string::npos) << out;
    EXPECT_EQ(
        run(lmgc_bin() + " collect -d fashion-mnist --data " + dir.path() + " -o " + dir.file("o"),
            &out),
        1);
    EXPECT_NE(out.find("has no train-images-idx3-ubyte[.gz]"), std::string::npos) << out;
    // Usage mistakes: exit 2.
    EXPECT_EQ(run(lmgc_bin() + " collect -a lenet -o " + dir.file("o"), &out), 2);
    EXPECT_NE(out.find("unknown arch 'lenet'"), std::string::npos) << out;
    EXPECT_EQ(run(lmgc_bin() + " collect -d mnist -o " + dir.file("o"), &out), 2);
    EXPECT_NE(out.find("--data"), std::string::npos) << out;
    EXPECT_EQ(run(lmgc_bin() + " collect --epochs 1 --steps 2 -o " + dir.file("o"), &out), 2);
    EXPECT_EQ(run(lmgc_bin() + " collect --device tpu -d synthetic -o " + dir.file("o"), &out), 2);
    EXPECT_EQ(run(lmgc_bin() + " collect -d synthetic", &out), 2);
    EXPECT_NE(out.find("--out"), std::string::npos) << out;

    ASSERT_EQ(
        run(lmgc_bin() +
                " collect -d synthetic --image-size 16 --samples 32 -b 8 --steps 2 -g 1 -t 2 -o " +
                dir.file("run"),
            &out),
        0)
        << out;
    EXPECT_NE(out.find("2 steps"), std::string::npos) << out;
    EXPECT_NE(out.find("2 files"), std::string::npos) << out;
    EXPECT_TRUE(std::filesystem::exists(dir.file("run/grad_00000001.safetensors")));
    // The gradient files are what `lmgc compress` takes.
    ASSERT_EQ(run(lmgc_bin() + " compress -q " + dir.file("run/grad_00000002.safetensors") +
                      " -o " + dir.file("g.lmgc") + " && " + lmgc_bin() + " decompress -q " +
                      dir.file("g.lmgc") + " -o " + dir.file("g.back") + " && cmp " +
                      dir.file("g.back") + " " + dir.file("run/grad_00000002.safetensors"),
                  &out),
              0)
        << out;
}
