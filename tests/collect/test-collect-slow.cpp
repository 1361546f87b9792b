// Label `slow`: a real run on Fashion-MNIST (Debian's dataset-fashion-mnist), 20 steps of
// the paper's recipe at batch 64; skipped when the dataset is not installed.
#include "io/io-tensor-file.hpp"
#include "lmgc/research.hpp"
#include "testutil.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

using namespace lmgc;
using namespace lmgc::test;
namespace ex = lmgc::experimental;

TEST(collect_slow, fashion_mnist_convnet_learns) {
    const std::string dir = "/usr/share/datasets/fashion-mnist";
    if (!std::filesystem::exists(dir + "/train-images-idx3-ubyte.gz"))
        GTEST_SKIP() << "dataset-fashion-mnist is not installed";
    temp_dir out;
    auto p = ex::default_collect_params();
    p.steps = 20;
    p.batch = 64;
    p.lr = 0.01; // a gentler start than the paper's 0.1, so 20 steps show learning
    p.grad_interval = 10;
    p.flat_npy = true;
    p.evaluate = true;
    p.out_dir = out.path();
    std::vector<double> losses;
    p.progress = [&](const ex::collect_step_info& s) { losses.push_back(s.loss); };
    const auto s = ex::collect_gradients(p);
    ASSERT_EQ(losses.size(), 20u);
    EXPECT_LT(losses.back(), losses.front()); // the running mean falls
    EXPECT_GT(s.final_accuracy, 30);          // 10 classes: chance is 10%
    EXPECT_GT(s.test_accuracy, 40);
    EXPECT_EQ(s.files.size(), 4u);
    const auto npy = read_bytes(out.file("grad_00000020.npy"));
    EXPECT_EQ(detail::parse_npy(npy).tensors[0].shape, (std::vector<std::int64_t>{317706}));
}
