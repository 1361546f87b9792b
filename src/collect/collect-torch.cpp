// Gradient collection with LibTorch: the paper's four networks, its training recipe and the
// loop that saves each parameter's gradient before the optimizer step. The only file of the
// collect stage that includes LibTorch (each such file costs ~20 s to compile). Built into
// the LibTorch module (src/module/).
#include "collect/collect-data.hpp"

#include "common/common-error.hpp"

#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <numbers>
#include <optional>
#include <regex>
#include <sstream>
#include <thread>

namespace lmgc {
namespace detail {
namespace {

namespace nn = torch::nn;

// Every network: a module with a forward of images to logits.
struct net_i : nn::Module {
    virtual torch::Tensor forward(torch::Tensor x) = 0;
};

// ---- ConvNet (the dataset-condensation ConvNet the paper uses): 3 x [conv 3x3 -> 128,
// GroupNorm(128, 128) (instance norm), ReLU, AvgPool 2], Linear. The first conv pads by 3
// on one-channel input, which turns 28x28 into 32x32.
struct convnet : net_i {
    nn::Sequential features;
    nn::Linear classifier{nullptr};
    convnet(int channels, int height, int width, int classes) {
        int h = height, w = width, in = channels;
        for (int d = 0; d < 3; ++d) {
            const int pad = (channels == 1 && d == 0) ? 3 : 1;
            features->push_back(nn::Conv2d(nn::Conv2dOptions(in, 128, 3).padding(pad)));
            features->push_back(nn::GroupNorm(nn::GroupNormOptions(128, 128)));
            features->push_back(nn::ReLU());
            features->push_back(nn::AvgPool2d(nn::AvgPool2dOptions(2).stride(2)));
            h = (h + 2 * pad - 2) / 2;
            w = (w + 2 * pad - 2) / 2;
            in = 128;
        }
        register_module("features", features);
        classifier = register_module("classifier", nn::Linear(128 * h * w, classes));
    }
    torch::Tensor forward(torch::Tensor x) override {
        return classifier->forward(features->forward(x).flatten(1));
    }
    void pretty_print(std::ostream& os) const override { os << "ConvNet"; }
};

// ---- VGG16, the CIFAR variant with BatchNorm: 13 conv 3x3 (with bias) + BN + ReLU, five
// max-pools, Linear 512 -> classes. Takes 32x32 images.
struct vgg16 : net_i {
    nn::Sequential features;
    nn::Linear classifier{nullptr};
    vgg16(int channels, int classes) {
        const int cfg[] = {64, 64,  0,   128, 128, 0,   256, 256, 256,
                           0,  512, 512, 512, 0,   512, 512, 512, 0};
        int in = channels;
        for (const int v : cfg) {
            if (v == 0) {
                features->push_back(nn::MaxPool2d(nn::MaxPool2dOptions(2).stride(2)));
                continue;
            }
            features->push_back(nn::Conv2d(nn::Conv2dOptions(in, v, 3).padding(1)));
            features->push_back(nn::BatchNorm2d(v));
            features->push_back(nn::ReLU());
            in = v;
        }
        features->push_back(nn::AvgPool2d(nn::AvgPool2dOptions(1).stride(1)));
        register_module("features", features);
        classifier = register_module("classifier", nn::Linear(512, classes));
    }
    torch::Tensor forward(torch::Tensor x) override {
        return classifier->forward(features->forward(x).flatten(1));
    }
    void pretty_print(std::ostream& os) const override { os << "VGG16"; }
};

// ---- ResNet18 with GroupNorm(planes, planes) and bias-free convolutions (the paper's
// "instancenorm" ResNet), CIFAR stem (3x3 conv, no max-pool), avg-pool 4, Linear.
nn::GroupNorm instance_norm(int c) {
    return nn::GroupNorm(nn::GroupNormOptions(c, c));
}
nn::Conv2d conv_nobias(int in, int out, int k, int stride, int pad) {
    return nn::Conv2d(nn::Conv2dOptions(in, out, k).stride(stride).padding(pad).bias(false));
}

struct basic_block_impl : nn::Module {
    nn::Conv2d conv1{nullptr}, conv2{nullptr};
    nn::GroupNorm bn1{nullptr}, bn2{nullptr};
    nn::Sequential shortcut{nullptr}; // null = identity
    basic_block_impl(int in, int planes, int stride) {
        conv1 = register_module("conv1", conv_nobias(in, planes, 3, stride, 1));
        bn1 = register_module("bn1", instance_norm(planes));
        conv2 = register_module("conv2", conv_nobias(planes, planes, 3, 1, 1));
        bn2 = register_module("bn2", instance_norm(planes));
        if (stride != 1 || in != planes)
            shortcut =
                register_module("shortcut", nn::Sequential(conv_nobias(in, planes, 1, stride, 0),
                                                           instance_norm(planes)));
    }
    torch::Tensor forward(torch::Tensor x) {
        auto out = torch::relu(bn1->forward(conv1->forward(x)));
        out = bn2->forward(conv2->forward(out));
        out = out + (shortcut ? shortcut->forward(x) : x);
        return torch::relu(out);
    }
    void pretty_print(std::ostream& os) const override { os << "BasicBlock"; }
};
TORCH_MODULE_IMPL(basic_block, basic_block_impl);

struct resnet18 : net_i {
    nn::Conv2d conv1{nullptr};
    nn::GroupNorm bn1{nullptr};
    nn::Sequential layers[4];
    nn::Linear classifier{nullptr};
    resnet18(int channels, int classes) {
        conv1 = register_module("conv1", conv_nobias(channels, 64, 3, 1, 1));
        bn1 = register_module("bn1", instance_norm(64));
        int in = 64;
        const int planes[] = {64, 128, 256, 512};
        for (int l = 0; l < 4; ++l) {
            layers[l] = nn::Sequential();
            for (int b = 0; b < 2; ++b) {
                layers[l]->push_back(basic_block(in, planes[l], (b == 0 && l > 0) ? 2 : 1));
                in = planes[l];
            }
            register_module("layer" + std::to_string(l + 1), layers[l]);
        }
        classifier = register_module("classifier", nn::Linear(512, classes));
    }
    torch::Tensor forward(torch::Tensor x) override {
        auto out = torch::relu(bn1->forward(conv1->forward(x)));
        for (auto& l : layers) out = l->forward(out);
        out = torch::avg_pool2d(out, 4);
        return classifier->forward(out.flatten(1));
    }
    void pretty_print(std::ostream& os) const override { os << "ResNet18"; }
};

// nn::Sequential cannot hold another Sequential (its forward is a template); this one can.
struct seq_impl : nn::SequentialImpl {
    using nn::SequentialImpl::SequentialImpl;
    torch::Tensor forward(torch::Tensor x) { return nn::SequentialImpl::forward(x); }
};
TORCH_MODULE_IMPL(seq, seq_impl);

// ---- The paper's ViT: a relative-position ViT for CIFAR (channels 256, head channels 32,
// 8 blocks, patch 2, GELU MLP x4, residual branches scaled by a learnt gamma that starts
// at 0). Module names follow the released PyTorch code so that parameter names match.
struct layernorm_channels_impl : nn::Module {
    nn::LayerNorm norm{nullptr};
    explicit layernorm_channels_impl(int c) {
        norm = register_module("norm", nn::LayerNorm(nn::LayerNormOptions({c})));
    }
    torch::Tensor forward(torch::Tensor x) {
        return norm->forward(x.transpose(1, -1)).transpose(-1, 1);
    }
    void pretty_print(std::ostream& os) const override { os << "LayerNormChannels"; }
};
TORCH_MODULE_IMPL(layernorm_channels, layernorm_channels_impl);

struct self_attention_impl : nn::Module {
    int heads, head_channels;
    double scale;
    torch::Tensor pos_enc, relative_indices;
    nn::Conv2d to_keys{nullptr}, to_queries{nullptr}, to_values{nullptr}, unifyheads{nullptr};
    self_attention_impl(int channels, int head_ch, int h, int w)
        : heads(channels / head_ch), head_channels(head_ch), scale(std::pow(head_ch, -0.5)) {
        to_keys = register_module("to_keys", nn::Conv2d(nn::Conv2dOptions(channels, channels, 1)));
        to_queries =
            register_module("to_queries", nn::Conv2d(nn::Conv2dOptions(channels, channels, 1)));
        to_values =
            register_module("to_values", nn::Conv2d(nn::Conv2dOptions(channels, channels, 1)));
        unifyheads =
            register_module("unifyheads", nn::Conv2d(nn::Conv2dOptions(channels, channels, 1)));
        pos_enc = register_parameter("pos_enc", torch::empty({heads, (2 * h - 1) * (2 * w - 1)}));
        // Index of the relative offset of every (key position, query position) pair.
        auto y = torch::arange(h, torch::kLong), x = torch::arange(w, torch::kLong);
        auto grid = torch::meshgrid({y, x, y, x}, "ij");
        auto idx = (grid[0] - grid[2] + h - 1) * (2 * w - 1) + grid[1] - grid[3] + w - 1;
        relative_indices = register_buffer("relative_indices", idx.flatten());
    }
    torch::Tensor forward(torch::Tensor x) {
        const auto b = x.size(0), h = x.size(2), w = x.size(3);
        auto keys = to_keys->forward(x).view({b, heads, head_channels, -1});
        auto values = to_values->forward(x).view({b, heads, head_channels, -1});
        auto queries = to_queries->forward(x).view({b, heads, head_channels, -1});
        auto att = torch::matmul(keys.transpose(-2, -1), queries);
        auto rel =
            pos_enc.gather(-1, relative_indices.expand({heads, -1})).view({heads, h * w, h * w});
        att = torch::softmax(att * scale + rel, -2);
        auto out = torch::matmul(values, att).view({b, -1, h, w});
        return unifyheads->forward(out);
    }
    void pretty_print(std::ostream& os) const override {
        os << "SelfAttention2d(heads=" << heads << ", head_channels=" << head_channels << ")";
    }
};
TORCH_MODULE_IMPL(self_attention, self_attention_impl);

// x + gamma * branch(x); the branch is LayerNormChannels, then attention or the MLP (a
// dropout of p = 0 follows in the original and is left out: it has no parameters).
struct residual_impl : nn::Module {
    torch::Tensor gamma;
    nn::Sequential residual;
    explicit residual_impl(nn::Sequential branch) : residual(std::move(branch)) {
        gamma = register_parameter("gamma", torch::zeros({1}));
        register_module("residual", residual);
    }
    torch::Tensor forward(torch::Tensor x) { return x + gamma * residual->forward(x); }
    void pretty_print(std::ostream& os) const override { os << "Residual"; }
};
TORCH_MODULE_IMPL(residual, residual_impl);

struct add_position_impl : nn::Module {
    torch::Tensor pos_embedding;
    add_position_impl(int dim, int h, int w) {
        pos_embedding = register_parameter("pos_embedding", torch::empty({dim, h, w}));
    }
    torch::Tensor forward(torch::Tensor x) { return x + pos_embedding; }
    void pretty_print(std::ostream& os) const override { os << "AddPositionEmbedding"; }
};
TORCH_MODULE_IMPL(add_position, add_position_impl);

// ToEmbedding: ToPatches (conv 3x3 -> 32, GELU, conv patch x patch -> dim), position.
struct to_embedding_impl : nn::Module {
    nn::Sequential patches;
    add_position pos{nullptr};
    to_embedding_impl(int channels, int dim, int patch, int h, int w) {
        patches =
            nn::Sequential(nn::Conv2d(nn::Conv2dOptions(channels, 32, 3).padding(1)), nn::GELU(),
                           nn::Conv2d(nn::Conv2dOptions(32, dim, patch).stride(patch)));
        register_module("0", patches);
        pos = register_module("1", add_position(dim, h, w));
    }
    torch::Tensor forward(torch::Tensor x) { return pos->forward(patches->forward(x)); }
    void pretty_print(std::ostream& os) const override { os << "ToEmbedding"; }
};
TORCH_MODULE_IMPL(to_embedding, to_embedding_impl);

// Head: LayerNormChannels, GELU, global average pool, Dropout(0.3), Linear; the children
// keep the indices of the original nn.Sequential (2 and 3 were the pool and Flatten).
struct vit_head_impl : nn::Module {
    layernorm_channels norm{nullptr};
    nn::Dropout dropout{nullptr};
    nn::Linear linear{nullptr};
    vit_head_impl(int dim, int classes) {
        norm = register_module("0", layernorm_channels(dim));
        dropout = register_module("4", nn::Dropout(0.3));
        linear = register_module("5", nn::Linear(dim, classes));
    }
    torch::Tensor forward(torch::Tensor x) {
        x = torch::gelu(norm->forward(x));
        x = x.mean({2, 3}); // AdaptiveAvgPool2d(1) + Flatten; deterministic on CUDA too
        return linear->forward(dropout->forward(x));
    }
    void pretty_print(std::ostream& os) const override { os << "Head"; }
};
TORCH_MODULE_IMPL(vit_head, vit_head_impl);

struct vit : net_i {
    static constexpr int dim = 256, head_channels = 32, blocks = 8, patch = 2;
    to_embedding embedding{nullptr};
    nn::Sequential stack;
    vit_head head{nullptr};
    vit(int channels, int height, int width, int classes) {
        const int h = height / patch, w = width / patch;
        embedding = register_module("0", to_embedding(channels, dim, patch, h, w));
        for (int i = 0; i < blocks; ++i) {
            nn::Sequential attn(layernorm_channels(dim), self_attention(dim, head_channels, h, w));
            nn::Sequential mlp(layernorm_channels(dim),
                               seq(nn::Conv2d(nn::Conv2dOptions(dim, 4 * dim, 1)), nn::GELU(),
                                   nn::Conv2d(nn::Conv2dOptions(4 * dim, dim, 1))));
            stack->push_back(seq(residual(attn), residual(mlp)));
        }
        register_module("1", stack);
        head = register_module("2", vit_head(dim, classes));
        reset_parameters();
    }

    // The released code's reset_parameters: Kaiming-normal conv/linear weights, zero
    // biases, LayerNorm 1/0, position tables N(0, 0.02), residual gammas 0.
    void reset_parameters() {
        torch::NoGradGuard no_grad;
        auto ends_with = [](const std::string& s, const std::string& t) {
            return s.size() >= t.size() && s.compare(s.size() - t.size(), t.size(), t) == 0;
        };
        for (auto& item : named_parameters()) {
            const auto& name = item.key();
            auto& p = item.value();
            if (ends_with(name, "pos_enc") || ends_with(name, "pos_embedding"))
                p.normal_(0.0, 0.02);
            else if (ends_with(name, "gamma"))
                p.zero_();
            else if (ends_with(name, "bias"))
                p.zero_();
            else if (p.dim() == 1)
                p.fill_(1.0); // LayerNorm weights
            else
                nn::init::kaiming_normal_(p);
        }
    }

    torch::Tensor forward(torch::Tensor x) override {
        return head->forward(stack->forward(embedding->forward(x)));
    }
    void pretty_print(std::ostream& os) const override {
        os << "RelViT(channels=" << dim << ", head_channels=" << head_channels
           << ", blocks=" << blocks << ", patch=" << patch << ")";
    }
};

// ---- building, devices, errors ----

std::shared_ptr<net_i> make_net(const std::string& arch, int c, int h, int w, int classes) {
    if (arch == "convnet") return std::make_shared<convnet>(c, h, w, classes);
    if (arch == "vgg16") return std::make_shared<vgg16>(c, classes);
    if (arch == "resnet18") return std::make_shared<resnet18>(c, classes);
    if (arch == "vit") return std::make_shared<vit>(c, h, w, classes);
    LMGC_FAIL(errc::usage, "unknown arch '", arch, "'");
}

struct net_input {
    int channels, height, width, classes;
};

net_input input_of(const experimental::collect_params& p) {
    const auto spec = find_dataset_spec(p);
    const int pad = arch_pad_to(p.arch, spec);
    return {spec.channels, std::max(spec.height, pad), std::max(spec.width, pad), spec.classes};
}

// LibTorch reports failures (CUDA out of memory, shape bugs) as c10::Error; the CLI expects
// lmgc::error.
template <typename Fn> decltype(auto) torch_guard(Fn&& fn) {
    try {
        return fn();
    } catch (const c10::Error& e) {
        throw error(errc::internal, std::string("LibTorch: ") + e.what_without_backtrace());
    }
}

torch::Device parse_device(const std::string& s) {
    std::optional<torch::Device> d;
    try {
        d.emplace(s);
    } catch (const c10::Error&) {
    }
    LMGC_CHECK(d && (d->is_cpu() || d->is_cuda()), errc::usage,
               "--device must be cpu, cuda or cuda:N, not '", s, "'");
    if (d->is_cuda()) {
        LMGC_CHECK(torch::cuda::is_available(), errc::unsupported, "--device ", s,
                   ": no CUDA device is available to this LibTorch");
        LMGC_CHECK(!d->has_index() || d->index() < static_cast<int>(torch::cuda::device_count()),
                   errc::usage, "--device ", s, ": there are only ", torch::cuda::device_count(),
                   " CUDA devices");
    }
    return *d;
}

int setup_threads(int n_threads) {
    const int n = n_threads > 0 ? n_threads : std::max(1u, std::thread::hardware_concurrency());
    torch::set_num_threads(n); // LibTorch starts with 1 thread here
    return n;
}

void setup_determinism(const torch::Device& dev) {
    if (!dev.is_cuda()) return;
    // cuBLAS needs a fixed workspace to be deterministic; it reads this at handle creation.
    ::setenv("CUBLAS_WORKSPACE_CONFIG", ":4096:8", 0);
    at::globalContext().setDeterministicCuDNN(true);
    at::globalContext().setBenchmarkCuDNN(false);
}

// ---- the recipe ----

double cos_anneal(double start, double end, double pct) {
    return end + (start - end) / 2 * (std::cos(std::numbers::pi * pct) + 1);
}

class trainer {
  public:
    trainer(const experimental::collect_params& p, const torch::Device& dev,
            std::uint64_t total_steps)
        : dev_(dev), total_(std::max<std::uint64_t>(total_steps, 1)) {
        const auto in = input_of(p);
        torch::manual_seed(p.seed);
        if (dev.is_cuda()) torch::cuda::manual_seed_all(p.seed);
        net_ = make_net(p.arch, in.channels, in.height, in.width, in.classes);
        net_->to(dev);
        net_->train();
        for (auto& item : net_->named_parameters()) {
            names_.push_back(item.key());
            params_.push_back(item.value());
            n_params_ += static_cast<std::uint64_t>(item.value().numel());
        }
        // The paper trains the ViT as its released code does (AdamW, one-cycle schedule) and
        // every other network with SGD + cosine.
        optimizer_ = p.optimizer.empty() ? (p.arch == "vit" ? "adamw" : "sgd") : p.optimizer;
        if (optimizer_ == "sgd") {
            base_lr_ = p.lr > 0 ? p.lr : 0.1;
            const double wd = p.weight_decay >= 0 ? p.weight_decay : 5e-4;
            opt_ = std::make_unique<torch::optim::SGD>(
                params_, torch::optim::SGDOptions(base_lr_).momentum(p.momentum).weight_decay(wd));
        } else {
            base_lr_ = p.lr > 0 ? p.lr : 1e-3;
            const double wd = p.weight_decay >= 0 ? p.weight_decay : 0.1;
            // Decay only conv and linear weights (every tensor of 2+ dimensions but the
            // ViT's position tables); norms, biases, gammas and positions get none.
            std::vector<torch::Tensor> decay, no_decay;
            for (std::size_t i = 0; i < params_.size(); ++i) {
                const auto& n = names_[i];
                const bool pos = n.find("pos_enc") != std::string::npos ||
                                 n.find("pos_embedding") != std::string::npos;
                (params_[i].dim() >= 2 && !pos ? decay : no_decay).push_back(params_[i]);
            }
            std::vector<torch::optim::OptimizerParamGroup> groups;
            groups.emplace_back(decay, std::make_unique<torch::optim::AdamWOptions>(
                                           torch::optim::AdamWOptions(base_lr_).weight_decay(wd)));
            groups.emplace_back(no_decay,
                                std::make_unique<torch::optim::AdamWOptions>(
                                    torch::optim::AdamWOptions(base_lr_).weight_decay(0)));
            opt_ = std::make_unique<torch::optim::AdamW>(std::move(groups),
                                                         torch::optim::AdamWOptions(base_lr_));
        }
    }

    const std::string& optimizer() const { return optimizer_; }
    std::uint64_t n_params() const { return n_params_; }
    const std::vector<std::string>& names() const { return names_; }
    const std::vector<torch::Tensor>& params() const { return params_; }
    net_i& net() { return *net_; }

    // Sets the learning rate (and AdamW's beta1) for 0-based step t: cosine annealing to 0
    // over the run for SGD, PyTorch's OneCycleLR defaults for AdamW.
    double schedule(std::uint64_t t) {
        const double T = static_cast<double>(total_);
        const double x = static_cast<double>(t);
        if (optimizer_ == "sgd") {
            const double lr = base_lr_ * 0.5 * (1 + std::cos(std::numbers::pi * x / T));
            for (auto& g : opt_->param_groups())
                static_cast<torch::optim::SGDOptions&>(g.options()).lr(lr);
            return lr;
        }
        const double initial = base_lr_ / 25, final_lr = initial / 1e4;
        const double end1 = 0.3 * T - 1, end2 = T - 1;
        double lr, beta1;
        if (x <= end1) {
            const double pct = end1 > 0 ? x / end1 : 1;
            lr = cos_anneal(initial, base_lr_, pct);
            beta1 = cos_anneal(0.95, 0.85, pct);
        } else {
            const double pct = end2 > end1 ? (x - end1) / (end2 - end1) : 1;
            lr = cos_anneal(base_lr_, final_lr, pct);
            beta1 = cos_anneal(0.85, 0.95, pct);
        }
        for (auto& g : opt_->param_groups()) {
            auto& o = static_cast<torch::optim::AdamWOptions&>(g.options());
            o.lr(lr);
            o.betas({beta1, 0.999});
        }
        return lr;
    }

    struct step_result {
        double loss;
        std::int64_t correct;
    };
    // One training step on a batch already on the device; before_update runs between
    // backward and the optimizer step, with the batch loss.
    template <typename Fn>
    step_result step(const torch::Tensor& x, const torch::Tensor& y, Fn&& before_update) {
        opt_->zero_grad();
        auto out = net_->forward(x);
        auto loss = torch::nn::functional::cross_entropy(out, y);
        loss.backward();
        const double l = loss.item<double>();
        before_update(l);
        opt_->step();
        const auto correct = out.detach().argmax(1).eq(y).sum().item<std::int64_t>();
        return {l, correct};
    }

    // Every parameter's gradient, flattened in parameter order (zeros for a parameter that
    // got none).
    std::vector<float> flat_gradients() {
        std::vector<float> flat(n_params_);
        std::size_t off = 0;
        for (auto& p : params_) {
            const auto n = static_cast<std::size_t>(p.numel());
            const auto& g = p.grad();
            if (g.defined()) {
                const auto c = g.detach().to(torch::kCPU, torch::kFloat).contiguous();
                std::memcpy(flat.data() + off, c.data_ptr<float>(), n * sizeof(float));
            }
            off += n;
        }
        return flat;
    }

    double accuracy(const image_set& set, const augment_spec& aug) {
        torch::NoGradGuard no_grad;
        net_->eval();
        collect_rng rng(0);
        const int H = batch_height(set, aug), W = batch_width(set, aug);
        const std::size_t bs = 500;
        std::vector<float> xb(bs * static_cast<std::size_t>(set.channels * H * W));
        std::vector<std::int64_t> yb(bs);
        std::vector<std::uint32_t> idx;
        std::int64_t correct = 0;
        for (std::size_t i = 0; i < set.size(); i += bs) {
            const std::size_t n = std::min(bs, set.size() - i);
            idx.resize(n);
            for (std::size_t k = 0; k < n; ++k) idx[k] = static_cast<std::uint32_t>(i + k);
            make_batch(set, idx, aug, rng, xb.data(), yb.data());
            const auto n64 = static_cast<std::int64_t>(n);
            auto x = torch::from_blob(xb.data(), {n64, set.channels, H, W}).to(dev_);
            auto y = torch::from_blob(yb.data(), {n64}, torch::kLong).to(dev_);
            correct += net_->forward(x).argmax(1).eq(y).sum().item<std::int64_t>();
        }
        net_->train();
        return set.size() ? 100.0 * static_cast<double>(correct) / static_cast<double>(set.size())
                          : 0;
    }

  private:
    torch::Device dev_;
    std::uint64_t total_;
    std::shared_ptr<net_i> net_;
    std::unique_ptr<torch::optim::Optimizer> opt_;
    std::string optimizer_;
    double base_lr_ = 0;
    std::vector<std::string> names_;
    std::vector<torch::Tensor> params_;
    std::uint64_t n_params_ = 0;
};

// Host batch buffers and their transfer to the device.
struct batch_buffers {
    std::vector<float> x;
    std::vector<std::int64_t> y;
    int channels, height, width;
    batch_buffers(const image_set& set, const augment_spec& aug, int batch)
        : channels(set.channels), height(batch_height(set, aug)), width(batch_width(set, aug)) {
        x.resize(static_cast<std::size_t>(batch) *
                 static_cast<std::size_t>(channels * height * width));
        y.resize(static_cast<std::size_t>(batch));
    }
    std::pair<torch::Tensor, torch::Tensor> to(const torch::Device& dev, std::size_t n) {
        const auto n64 = static_cast<std::int64_t>(n);
        // clone: the buffers are refilled for the next step while autograd may still hold
        // the input.
        auto xt = torch::from_blob(x.data(), {n64, channels, height, width}).to(dev).clone();
        auto yt = torch::from_blob(y.data(), {n64}, torch::kLong).to(dev).clone();
        return {xt, yt};
    }
};

std::string device_label(const torch::Device& dev, int threads) {
    if (dev.is_cuda()) return dev.str();
    return "cpu (" + std::to_string(threads) + " thread" + (threads == 1 ? "" : "s") + ")";
}

std::string format_g(double v) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.9g", v);
    return buf;
}

// Gradient files of an earlier run in dir: grad_<8 digits>.safetensors / .npy.
std::vector<std::string> existing_gradient_files(const std::string& dir) {
    static const std::regex re("grad_[0-9]{8}\\.(safetensors|npy)");
    std::vector<std::string> out;
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(dir, ec))
        if (std::regex_match(e.path().filename().string(), re)) out.push_back(e.path().string());
    std::sort(out.begin(), out.end());
    return out;
}

} // namespace
} // namespace detail

// The module's implementations of the collect calls (the research library forwards to them).
namespace torch_impl {

using namespace experimental;

collect_model_info collect_describe(const collect_params& params) {
    using namespace detail;
    check_collect_params(params);
    return torch_guard([&] {
        const auto in = input_of(params);
        torch::manual_seed(params.seed);
        auto net = make_net(params.arch, in.channels, in.height, in.width, in.classes);
        collect_model_info m;
        m.arch = params.arch;
        m.dataset = params.dataset;
        m.channels = in.channels;
        m.height = in.height;
        m.width = in.width;
        m.classes = in.classes;
        for (const auto& item : net->named_parameters()) {
            collect_param_info pi;
            pi.name = item.key();
            pi.shape = item.value().sizes().vec();
            pi.numel = static_cast<std::uint64_t>(item.value().numel());
            m.n_params += pi.numel;
            m.params.push_back(std::move(pi));
        }
        std::ostringstream os;
        os << *net;
        m.description = os.str();
        return m;
    });
}

collect_summary collect_gradients(const collect_params& params) {
    using namespace detail;
    namespace fs = std::filesystem;
    check_collect_params(params);
    LMGC_CHECK(!params.out_dir.empty(), errc::usage, "--out DIR is required");
    const auto dev = parse_device(params.device);
    const int threads = setup_threads(params.n_threads);
    setup_determinism(dev);

    // Old gradient files are refused before the (slow) dataset load; the folder is only
    // created once the data is there, so a failed start leaves nothing behind.
    std::error_code ec;
    const auto old = existing_gradient_files(params.out_dir);
    LMGC_CHECK(old.empty() || params.overwrite, errc::io, "'", params.out_dir, "' already holds ",
               old.size(), " gradient files (",
               old.empty() ? "" : fs::path(old.front()).filename().string(),
               ", ...); use --force to replace them");

    LMGC_CHECK(params.steps == 0 || params.steps >= params.grad_interval, errc::usage, "--steps ",
               params.steps, " is fewer than --grad-interval ", params.grad_interval,
               ": the run would save no gradient");

    collect_summary sum;
    const auto t_load = std::chrono::steady_clock::now();
    const auto train_set = load_dataset(params, split::train);
    image_set test_set;
    if (params.evaluate) test_set = load_dataset(params, split::test);
    LMGC_CHECK(train_set.size() > 0, errc::bad_input, params.dataset, ": no training images");
    sum.load_seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t_load).count();

    const auto spec = find_dataset_spec(params);
    const auto aug = augment_for(spec.name, params.augment, arch_pad_to(params.arch, spec));
    const auto test_aug = augment_for(spec.name, false, arch_pad_to(params.arch, spec));
    const std::uint64_t n = train_set.size();
    const std::uint64_t batch = static_cast<std::uint64_t>(params.batch);
    const std::uint64_t per_epoch = (n + batch - 1) / batch;
    const std::uint64_t total =
        params.steps ? params.steps : per_epoch * static_cast<std::uint64_t>(params.epochs);
    LMGC_CHECK(total >= params.grad_interval, errc::usage, "the run has ", total,
               " steps, fewer than --grad-interval ", params.grad_interval,
               ", so it would save no gradient");

    fs::create_directories(params.out_dir, ec);
    LMGC_CHECK(fs::is_directory(params.out_dir), errc::io, "cannot create folder '", params.out_dir,
               "'", ec ? ": " + ec.message() : "");
    for (const auto& f : old) fs::remove(f, ec);

    return torch_guard([&] {
        trainer tr(params, dev, total);
        sum.n_params = tr.n_params();
        sum.device = device_label(dev, threads);
        batch_buffers buf(train_set, aug, params.batch);
        // Data order and augmentation draw from their own generator, so they are the same on
        // every device.
        collect_rng rng(params.seed ^ 0x6c6d67632d646174ULL);
        std::vector<std::uint32_t> order(n);
        const auto t0 = std::chrono::steady_clock::now();
        std::uint64_t step = 0;
        int epoch = 0;
        double epoch_loss = 0;
        std::int64_t epoch_correct = 0, epoch_seen = 0;
        std::uint64_t epoch_steps = 0;
        while (step < total) {
            ++epoch;
            for (std::uint64_t i = 0; i < n; ++i) order[i] = static_cast<std::uint32_t>(i);
            shuffle_indices(order, rng);
            epoch_loss = 0;
            epoch_correct = epoch_seen = 0;
            epoch_steps = 0;
            for (std::uint64_t b = 0; b < n && step < total; b += batch) {
                const std::size_t bs = static_cast<std::size_t>(std::min(batch, n - b));
                make_batch(train_set, std::span(order).subspan(b, bs), aug, rng, buf.x.data(),
                           buf.y.data());
                auto [x, y] = buf.to(dev, bs);
                const double lr = tr.schedule(step);
                ++step;
                std::string saved;
                auto save = [&](double loss) {
                    if (step % params.grad_interval != 0) return;
                    const auto flat = tr.flat_gradients();
                    std::vector<named_f32> tensors;
                    std::size_t off = 0;
                    for (std::size_t k = 0; k < tr.params().size(); ++k) {
                        const auto numel = static_cast<std::size_t>(tr.params()[k].numel());
                        tensors.push_back({tr.names()[k], tr.params()[k].sizes().vec(),
                                           std::span<const float>(flat).subspan(off, numel)});
                        off += numel;
                    }
                    const std::vector<std::pair<std::string, std::string>> meta = {
                        {"step", std::to_string(step)},
                        {"epoch", std::to_string(epoch)},
                        {"loss", format_g(loss)},
                        {"arch", params.arch},
                        {"dataset", params.dataset},
                        {"seed", std::to_string(params.seed)},
                        {"lr", format_g(lr)},
                        {"batch", std::to_string(bs)},
                        {"optimizer", tr.optimizer()},
                        {"producer", std::string("lmgc collect ") + version()},
                    };
                    char name[64];
                    std::snprintf(name, sizeof name, "grad_%08llu",
                                  static_cast<unsigned long long>(step));
                    const auto st = make_safetensors_f32(tensors, meta);
                    const auto path =
                        (fs::path(params.out_dir) / (std::string(name) + ".safetensors")).string();
                    write_file_atomic(path, st, true);
                    sum.files.push_back(path);
                    sum.bytes_written += st.size();
                    saved = path;
                    if (params.flat_npy) {
                        const auto npy =
                            make_npy_f32(flat, {static_cast<std::int64_t>(flat.size())});
                        const auto npath =
                            (fs::path(params.out_dir) / (std::string(name) + ".npy")).string();
                        write_file_atomic(npath, npy, true);
                        sum.files.push_back(npath);
                        sum.bytes_written += npy.size();
                    }
                };
                const auto r = tr.step(x, y, save);
                LMGC_CHECK(std::isfinite(r.loss), errc::bad_input, "training diverged at step ",
                           step, " (loss ", r.loss, "); try a smaller --lr");
                epoch_loss += r.loss;
                epoch_correct += r.correct;
                epoch_seen += static_cast<std::int64_t>(bs);
                ++epoch_steps;
                if (params.progress) {
                    experimental::collect_step_info info;
                    info.step = step;
                    info.total_steps = total;
                    info.epoch = epoch;
                    info.loss = epoch_loss / static_cast<double>(epoch_steps);
                    info.accuracy = 100.0 * static_cast<double>(epoch_correct) /
                                    static_cast<double>(epoch_seen);
                    info.lr = lr;
                    const double secs =
                        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
                            .count();
                    info.steps_per_second = secs > 0 ? static_cast<double>(step) / secs : 0;
                    info.saved_file = saved;
                    params.progress(info);
                }
            }
        }
        sum.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        sum.steps = step;
        sum.epochs = epoch;
        sum.final_loss = epoch_steps ? epoch_loss / static_cast<double>(epoch_steps) : 0;
        sum.final_accuracy = epoch_seen ? 100.0 * static_cast<double>(epoch_correct) /
                                              static_cast<double>(epoch_seen)
                                        : 0;
        sum.steps_per_second = sum.seconds > 0 ? static_cast<double>(step) / sum.seconds : 0;
        if (params.evaluate) sum.test_accuracy = tr.accuracy(test_set, test_aug);
        return sum;
    });
}

std::vector<collect_bench_result> collect_benchmark(const collect_params& params,
                                                    const std::vector<std::string>& archs,
                                                    int warmup, int steps) {
    using namespace detail;
    LMGC_CHECK(warmup >= 0 && steps >= 1, errc::usage, "benchmark needs at least 1 timed step");
    const auto dev = parse_device(params.device);
    setup_threads(params.n_threads);
    setup_determinism(dev);
    std::vector<collect_bench_result> out;
    for (const auto& arch : archs) {
        auto p = params;
        p.arch = arch;
        p.dataset = "synthetic";
        p.synthetic_samples = std::max(p.batch * 2, 2);
        check_collect_params(p);
        const auto set = load_dataset(p, split::train);
        const auto aug = augment_for("synthetic", false, 0);
        out.push_back(torch_guard([&] {
            trainer tr(p, dev, static_cast<std::uint64_t>(warmup + steps));
            batch_buffers buf(set, aug, p.batch);
            collect_rng rng(p.seed);
            std::vector<std::uint32_t> idx(static_cast<std::size_t>(p.batch));
            std::vector<double> rates;
            for (int s = 0; s < warmup + steps; ++s) {
                for (auto& i : idx) i = static_cast<std::uint32_t>(rng.below(set.size()));
                const auto t0 = std::chrono::steady_clock::now();
                // Batch assembly is part of a training step, so it is timed too.
                make_batch(set, idx, aug, rng, buf.x.data(), buf.y.data());
                auto [x, y] = buf.to(dev, idx.size());
                tr.schedule(static_cast<std::uint64_t>(s));
                tr.step(x, y, [](double) {}); // .item() in step waits for the device
                const double secs =
                    std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
                if (s >= warmup) rates.push_back(secs > 0 ? 1 / secs : 0);
            }
            std::sort(rates.begin(), rates.end());
            collect_bench_result r;
            r.arch = arch;
            r.n_params = tr.n_params();
            r.batch = p.batch;
            r.timed_steps = steps;
            r.median_steps_per_second =
                rates.size() % 2 ? rates[rates.size() / 2]
                                 : (rates[rates.size() / 2 - 1] + rates[rates.size() / 2]) / 2;
            r.best_steps_per_second = rates.back();
            return r;
        }));
    }
    return out;
}

} // namespace torch_impl
} // namespace lmgc
