// Label `gpu`: collection on CUDA (when LibTorch sees a device): every arch trains, and the
// same seed gives bit-identical gradients on the same device. Skipped elsewhere.
#include "lmgc/research.hpp"
#include "testutil.hpp"

#include <gtest/gtest.h>

using namespace lmgc;
using namespace lmgc::test;
namespace ex = lmgc::experimental;

namespace {
bool have_cuda() {
    auto p = ex::default_collect_params();
    p.device = "cuda";
    p.dataset = "synthetic";
    p.out_dir = "/nonexistent/never-created";
    try {
        ex::collect_benchmark(p, {"convnet"}, 0, 1);
        return true;
    } catch (const error&) {
        return false;
    }
}
} // namespace

TEST(collect_gpu, same_seed_same_gradients_on_cuda) {
    if (!have_cuda()) GTEST_SKIP() << "no CUDA device";
    temp_dir dir;
    for (const std::string arch : {"convnet", "vgg16", "resnet18", "vit"}) {
        auto run = [&](const std::string& name) {
            auto p = ex::default_collect_params();
            p.arch = arch;
            p.dataset = "synthetic";
            p.device = "cuda";
            p.batch = 32;
            p.synthetic_samples = 128;
            p.steps = 3;
            p.grad_interval = 3;
            p.out_dir = dir.file(arch + name);
            ex::collect_gradients(p);
            return read_bytes(dir.file(arch + name + "/grad_00000003.safetensors"));
        };
        const auto a = run("a");
        const auto b = run("b");
        EXPECT_EQ(a, b) << arch << ": gradients differ between two runs with the same seed";
    }
}
