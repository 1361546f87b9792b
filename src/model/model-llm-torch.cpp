// The LibTorch half of the LLM prior: memory-mapped safetensors weights, the Llama forward
// pass (one token per row per step against a static KV cache, or a whole-sequence prefill),
// and the integer frequency tables computed on the device with exact integer ops.
// The only file of src/ besides model-llm-ops.cpp that includes LibTorch.
#include "model/model-llm.hpp"

#include "common/common-error.hpp"
#include "common/common-parallel.hpp"
#include "io/io-tensor-file.hpp"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <ATen/detail/CUDAHooksInterface.h>
#include <c10/core/InferenceMode.h>
#include <torch/cuda.h>
#include <torch/version.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <dlfcn.h>
#include <fcntl.h>
#include <filesystem>
#include <map>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace lmgc::detail {
namespace {

// A read-only private mapping of a whole file.
class mapped_file {
  public:
    explicit mapped_file(const std::string& path) : path_(path) {
        const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
        LMGC_CHECK(fd >= 0, errc::io, "cannot open '", path, "': ", std::strerror(errno));
        struct stat st {};
        if (::fstat(fd, &st) != 0) {
            const int e = errno;
            ::close(fd);
            LMGC_FAIL(errc::io, "cannot read '", path, "': ", std::strerror(e));
        }
        size_ = static_cast<std::size_t>(st.st_size);
        if (size_ > 0) {
            void* p = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
            const int e = errno;
            ::close(fd);
            LMGC_CHECK(p != MAP_FAILED, errc::io, "cannot map '", path, "': ", std::strerror(e));
            data_ = static_cast<std::uint8_t*>(p);
        } else {
            ::close(fd);
        }
    }
    ~mapped_file() {
        if (data_) ::munmap(data_, size_);
    }
    mapped_file(const mapped_file&) = delete;
    mapped_file& operator=(const mapped_file&) = delete;
    byte_span bytes() const { return {data_, size_}; }
    std::uint8_t* data() const { return data_; }
    const std::string& path() const { return path_; }

  private:
    std::string path_;
    std::uint8_t* data_ = nullptr;
    std::size_t size_ = 0;
};

at::ScalarType scalar_type(llm_dtype t) {
    switch (t) {
    case llm_dtype::f32:
        return at::kFloat;
    case llm_dtype::bf16:
        return at::kBFloat16;
    case llm_dtype::f16:
        return at::kHalf;
    }
    return at::kFloat;
}

std::string shape_str(at::IntArrayRef s) {
    std::string r = "[";
    for (std::size_t i = 0; i < s.size(); ++i) r += (i ? ", " : "") + std::to_string(s[i]);
    return r + "]";
}

std::string shape_str(const std::vector<std::int64_t>& s) {
    return shape_str(at::IntArrayRef(s));
}

// The CUDA driver API, looked up at run time so that a CPU-only LibTorch build needs no CUDA
// headers: the device name and compute capability go into the device class.
std::string cuda_device_description(int index) {
    void* lib = ::dlopen("libcuda.so.1", RTLD_NOW | RTLD_NOLOAD);
    if (!lib) lib = ::dlopen("libcuda.so.1", RTLD_NOW);
    if (!lib) return "unknown";
    using init_fn = int (*)(unsigned);
    using get_fn = int (*)(int*, int);
    using name_fn = int (*)(char*, int, int);
    using attr_fn = int (*)(int*, int, int);
    const auto init = reinterpret_cast<init_fn>(::dlsym(lib, "cuInit"));
    const auto get = reinterpret_cast<get_fn>(::dlsym(lib, "cuDeviceGet"));
    const auto name = reinterpret_cast<name_fn>(::dlsym(lib, "cuDeviceGetName"));
    const auto attr = reinterpret_cast<attr_fn>(::dlsym(lib, "cuDeviceGetAttribute"));
    if (!init || !get || !name || !attr || init(0) != 0) return "unknown";
    int dev = 0;
    if (get(&dev, index) != 0) return "unknown";
    char buf[256] = {};
    if (name(buf, sizeof buf - 1, dev) != 0) return "unknown";
    int major = 0, minor = 0;
    attr(&major, 75, dev); // CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR
    attr(&minor, 76, dev); // CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR
    return std::string(buf) + ":sm_" + std::to_string(major) + std::to_string(minor);
}

std::string cpu_class() {
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) return "cpu:x86_64-avx512";
    if (__builtin_cpu_supports("avx2")) return "cpu:x86_64-avx2";
    return "cpu:x86_64";
#elif defined(__aarch64__)
    return "cpu:aarch64";
#else
    return "cpu:other";
#endif
}

struct layer_weights {
    at::Tensor in_norm, post_norm;
    at::Tensor q, k, v, o, q_b, k_b, v_b, o_b;
    at::Tensor gate, up, down, gate_b, up_b, down_b;
};

} // namespace

struct llm_model::impl {
    llm_config cfg;
    llm_files files;
    std::string fingerprint;
    llm_dtype dtype = llm_dtype::f32;
    at::Device device = at::kCPU;
    std::string device_class;
    std::vector<std::unique_ptr<mapped_file>> maps; // kept while tensors point into them
    at::Tensor embed, norm, lm_head;
    std::vector<layer_weights> layers;
    at::Tensor inv_freq; // float32 [head_dim / 2] on the device
    std::uint64_t n_params = 0;

    at::TensorOptions opts() const {
        return at::TensorOptions().dtype(scalar_type(dtype)).device(device);
    }

    // x [.., H] -> RMS-normalized in float32, scaled by w in the model dtype (as HF does).
    at::Tensor rms_norm(const at::Tensor& x, const at::Tensor& w) const {
        auto xf = x.to(at::kFloat);
        xf = xf * at::rsqrt(xf.pow(2).mean(-1, true) + cfg.rms_norm_eps);
        return w * xf.to(x.scalar_type());
    }
    static at::Tensor linear(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b) {
        return b.defined() ? at::linear(x, w, b) : at::linear(x, w);
    }
    static at::Tensor rotate(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin) {
        const auto half = x.size(-1) / 2;
        const auto x1 = x.narrow(-1, 0, half), x2 = x.narrow(-1, half, half);
        return x * cos + at::cat({-x2, x1}, -1) * sin;
    }
    at::Tensor mlp(const layer_weights& w, const at::Tensor& x) const {
        return linear(at::silu(linear(x, w.gate, w.gate_b)) * linear(x, w.up, w.up_b), w.down,
                      w.down_b);
    }
    // cos/sin tables [n_pos, head_dim] in the model dtype (computed in float32 as HF does).
    std::pair<at::Tensor, at::Tensor> rope_tables(std::int64_t n_pos) const {
        const auto pos = at::arange(n_pos, at::TensorOptions().dtype(at::kFloat).device(device));
        const auto freqs = at::outer(pos, inv_freq);
        const auto emb = at::cat({freqs, freqs}, -1);
        return {emb.cos().to(scalar_type(dtype)), emb.sin().to(scalar_type(dtype))};
    }
};

namespace {

void load_weights(llm_model::impl& m) {
    const auto& c = m.cfg;
    const auto st = scalar_type(m.dtype);
    struct found {
        const mapped_file* file;
        tensor_region region;
    };
    std::map<std::string, found> all;
    for (const auto& path : m.files.weights) {
        m.maps.push_back(std::make_unique<mapped_file>(path));
        const auto& mf = *m.maps.back();
        const auto pf = with_context(path, [&] { return parse_safetensors(mf.bytes()); });
        for (const auto& r : pf.tensors) all[r.name] = {&mf, r};
    }
    bool any_in_place = false;
    auto take = [&](const std::string& name, std::vector<std::int64_t> shape) -> at::Tensor {
        const auto it = all.find(name);
        LMGC_CHECK(it != all.end(), errc::bad_input, "model folder '", m.files.dir,
                   "': no tensor '", name, "' in the weights");
        const auto& r = it->second.region;
        LMGC_CHECK(r.shape == shape, errc::bad_input, "tensor '", name, "' has shape ",
                   shape_str(r.shape), ", config.json implies ", shape_str(shape));
        at::ScalarType ft;
        switch (r.type) {
        case dtype::f32:
            ft = at::kFloat;
            break;
        case dtype::bf16:
            ft = at::kBFloat16;
            break;
        case dtype::f16:
            ft = at::kHalf;
            break;
        default:
            LMGC_FAIL(errc::bad_input, "tensor '", name, "' has dtype ", dtype_name(r.type),
                      "; expected F32, BF16 or F16");
        }
        void* p = it->second.file->data() + r.offset;
        const auto esize = dtype_size(r.type);
        auto t = at::from_blob(p, shape, at::TensorOptions().dtype(ft));
        m.n_params += static_cast<std::uint64_t>(t.numel());
        // In place only when nothing is converted: CPU, same dtype, aligned.
        if (m.device.is_cpu() && ft == st && reinterpret_cast<std::uintptr_t>(p) % esize == 0) {
            any_in_place = true;
            return t;
        }
        return t.to(m.device, st, /*non_blocking=*/false, /*copy=*/true);
    };
    const auto H = c.hidden_size, I = c.intermediate_size, hd = c.head_dim;
    m.embed = take("model.embed_tokens.weight", {c.vocab_size, H});
    for (std::int64_t l = 0; l < c.n_layers; ++l) {
        const std::string p = "model.layers." + std::to_string(l) + ".";
        layer_weights w;
        w.in_norm = take(p + "input_layernorm.weight", {H});
        w.post_norm = take(p + "post_attention_layernorm.weight", {H});
        w.q = take(p + "self_attn.q_proj.weight", {c.n_heads * hd, H});
        w.k = take(p + "self_attn.k_proj.weight", {c.n_kv_heads * hd, H});
        w.v = take(p + "self_attn.v_proj.weight", {c.n_kv_heads * hd, H});
        w.o = take(p + "self_attn.o_proj.weight", {H, c.n_heads * hd});
        if (c.attention_bias) {
            w.q_b = take(p + "self_attn.q_proj.bias", {c.n_heads * hd});
            w.k_b = take(p + "self_attn.k_proj.bias", {c.n_kv_heads * hd});
            w.v_b = take(p + "self_attn.v_proj.bias", {c.n_kv_heads * hd});
            w.o_b = take(p + "self_attn.o_proj.bias", {H});
        }
        w.gate = take(p + "mlp.gate_proj.weight", {I, H});
        w.up = take(p + "mlp.up_proj.weight", {I, H});
        w.down = take(p + "mlp.down_proj.weight", {H, I});
        if (c.mlp_bias) {
            w.gate_b = take(p + "mlp.gate_proj.bias", {I});
            w.up_b = take(p + "mlp.up_proj.bias", {I});
            w.down_b = take(p + "mlp.down_proj.bias", {H});
        }
        m.layers.push_back(std::move(w));
    }
    m.norm = take("model.norm.weight", {H});
    if (c.tie_word_embeddings) {
        m.lm_head = m.embed;
    } else {
        LMGC_CHECK(all.count("lm_head.weight"), errc::bad_input, "model folder '", m.files.dir,
                   "': no tensor 'lm_head.weight' (config.json has tie_word_embeddings false)");
        m.lm_head = take("lm_head.weight", {c.vocab_size, H});
    }
    // Converted weights no longer need the file pages: one copy in memory, not two.
    if (!any_in_place) m.maps.clear();
}

at::Device parse_device(const std::string& s) {
    if (s == "cpu") return at::kCPU;
    if (s == "cuda" || s.rfind("cuda:", 0) == 0) {
        const int n = at::hasCUDA() ? static_cast<int>(torch::cuda::device_count()) : 0;
        LMGC_CHECK(n > 0, errc::unsupported, "device '", s,
                   "' requested, but LibTorch sees no CUDA device",
                   at::hasCUDA() ? "" : " (this LibTorch is built without CUDA)");
        int index = 0;
        if (s.size() > 5) {
            const auto idx = s.substr(5);
            LMGC_CHECK(!idx.empty() && idx.size() < 4 &&
                           idx.find_first_not_of("0123456789") == std::string::npos,
                       errc::usage, "bad device '", s, "'");
            index = std::stoi(idx);
        }
        LMGC_CHECK(index < n, errc::unsupported, "device '", s, "' does not exist (", n,
                   " CUDA devices)");
        return at::Device(at::kCUDA, static_cast<c10::DeviceIndex>(index));
    }
    LMGC_FAIL(errc::usage, "device must be cpu, cuda or cuda:N, not '", s, "'");
}

} // namespace

llm_model::llm_model() : p_(std::make_unique<impl>()) {}
llm_model::~llm_model() = default;

std::shared_ptr<llm_model> llm_model::load(const std::string& dir, const llm_load_params& params) {
    return with_context("model '" + dir + "'", [&] {
        c10::InferenceMode guard;
        std::shared_ptr<llm_model> model(new llm_model());
        auto& m = *model->p_;
        m.files = llm_find_files(dir);
        {
            const auto text = read_file(m.files.config);
            m.cfg = llm_parse_config(
                std::string_view(reinterpret_cast<const char*>(text.data()), text.size()));
        }
        m.device = parse_device(params.device);
        m.dtype = params.dtype.empty() ? (m.device.is_cuda() ? llm_dtype::bf16 : llm_dtype::f32)
                                       : llm_dtype_from_name(params.dtype);
        // Small models gain nothing from intra-op threads and lose much to thread wake-ups
        // (worse on a busy machine): one thread unless asked. Results do not depend on it.
        {
            const auto text_size = std::filesystem::file_size(m.files.weights[0]);
            const int threads = params.n_threads > 0 ? params.n_threads
                                : text_size * m.files.weights.size() < (std::uintmax_t{64} << 20)
                                    ? 1
                                    : resolve_threads(0);
            at::set_num_threads(threads);
        }
        // Refuse a dtype the device cannot multiply in (LibTorch 1.13 has no fp16 matmul on CPU).
        try {
            const auto a = at::ones({2, 2}, m.opts());
            (void)at::linear(a, a).sum().item<float>();
        } catch (const c10::Error&) {
            LMGC_FAIL(errc::unsupported, "dtype ", llm_dtype_name(m.dtype), " is not supported on ",
                      params.device, " by LibTorch ", TORCH_VERSION);
        }
        m.device_class =
            m.device.is_cuda()
                ? "cuda:" + cuda_device_description(m.device.index() < 0 ? 0 : m.device.index()) +
                      ":cudart-" + std::to_string(at::detail::getCUDAHooks().versionCUDART())
                : cpu_class();
        if (params.fingerprint) m.fingerprint = llm_fingerprint(m.files, params.n_threads);
        load_weights(m);
        const auto hd = m.cfg.head_dim;
        // HF: inv_freq = 1 / theta^(arange(0, hd, 2) / hd), in float32.
        m.inv_freq =
            (1.0 /
             at::pow(m.cfg.rope_theta,
                     at::arange(0, hd, 2, at::TensorOptions().dtype(at::kLong)).to(at::kFloat) /
                         static_cast<double>(hd)))
                .to(at::kFloat)
                .to(m.device);
        return model;
    });
}

const llm_config& llm_model::config() const {
    return p_->cfg;
}
const llm_files& llm_model::files() const {
    return p_->files;
}
const std::string& llm_model::fingerprint() const {
    return p_->fingerprint;
}
llm_dtype llm_model::dtype() const {
    return p_->dtype;
}
std::string llm_model::device() const {
    return p_->device.str();
}
std::string llm_model::device_class() const {
    return p_->device_class;
}
std::uint64_t llm_model::n_params() const {
    return p_->n_params;
}

std::string llm_torch_version() {
    return TORCH_VERSION;
}
bool llm_cuda_available() {
    return at::hasCUDA() && torch::cuda::is_available();
}

// ---- the batch evaluator ----

struct llm_batch::impl {
    std::shared_ptr<llm_model> model;
    llm_model::impl* m = nullptr;
    int batch = 0, context = 0;
    std::int64_t n = 0;  // alphabet size
    at::Tensor alphabet; // int64 token ids on the device, undefined for the whole vocabulary
    std::vector<at::Tensor> k_cache, v_cache; // [batch * n_kv, context, head_dim] per layer
    at::Tensor cos, sin;                      // [context, head_dim]
    at::Tensor exp_table;                     // int64 on the device
    at::Tensor logits;                        // [batch, vocab] of the last step, model dtype
    at::Tensor cum;                           // [batch, n + 1] int64, made lazily from logits
    int pos = 0;

    at::TensorOptions long_opts() const {
        return at::TensorOptions().dtype(at::kLong).device(m->device);
    }

    // One step for every row: ids int64 [batch] on the device, at position pos.
    void forward(const at::Tensor& ids) {
        const auto& c = m->cfg;
        const std::int64_t B = batch, hd = c.head_dim, nkv = c.n_kv_heads,
                           G = c.n_heads / c.n_kv_heads;
        const std::int64_t L = pos + 1;
        const double scale = 1.0 / std::sqrt(static_cast<double>(hd));
        const auto cs = cos[pos], sn = sin[pos];
        auto h = at::embedding(m->embed, ids); // [B, H]
        for (std::size_t l = 0; l < m->layers.size(); ++l) {
            const auto& w = m->layers[l];
            const auto x = m->rms_norm(h, w.in_norm);
            auto q = impl_rotate(llm_model::impl::linear(x, w.q, w.q_b).view({B, c.n_heads, hd}),
                                 cs, sn);
            auto k =
                impl_rotate(llm_model::impl::linear(x, w.k, w.k_b).view({B * nkv, hd}), cs, sn);
            const auto v = llm_model::impl::linear(x, w.v, w.v_b).view({B * nkv, hd});
            k_cache[l].select(1, pos).copy_(k);
            v_cache[l].select(1, pos).copy_(v);
            const auto keys = k_cache[l].narrow(1, 0, L);   // [B*nkv, L, hd]
            const auto values = v_cache[l].narrow(1, 0, L); // [B*nkv, L, hd]
            const auto q3 = q.view({B * nkv, G, hd});
            const auto scores = at::bmm(q3, keys.transpose(1, 2)) * scale; // [B*nkv, G, L]
            const auto p = at::softmax(scores, -1, at::kFloat).to(scores.scalar_type());
            const auto a = at::bmm(p, values).view({B, c.n_heads * hd});
            h = h + llm_model::impl::linear(a, w.o, w.o_b);
            h = h + m->mlp(w, m->rms_norm(h, w.post_norm));
        }
        logits = at::linear(m->rms_norm(h, m->norm), m->lm_head); // [B, vocab]
        cum = at::Tensor();
        ++pos;
    }
    static at::Tensor impl_rotate(const at::Tensor& x, const at::Tensor& cs, const at::Tensor& sn) {
        return llm_model::impl::rotate(x, cs, sn);
    }

    at::Tensor alphabet_logits() const {
        return alphabet.defined() ? logits.index_select(1, alphabet) : logits;
    }

    // The integer procedure of model-llm.hpp with exact integer tensor ops.
    const at::Tensor& cum_table() {
        if (cum.defined()) return cum;
        constexpr double lim = 1048576.0;
        const auto x =
            at::clamp(at::nan_to_num(alphabet_logits().to(at::kFloat), -lim, lim, -lim), -lim, lim);
        const auto q = at::round(x * 256.0).to(at::kLong); // exact
        const auto d = at::clamp_max(std::get<0>(q.max(1, true)) - q, llm_freq_d_max);
        const auto w = exp_table.index_select(0, d.reshape({-1})).view_as(d); // [B, n]
        const auto c = at::cumsum(w, 1);                                      // inclusive
        const auto total_w = c.narrow(1, n - 1, 1);                           // [B, 1]
        const std::int64_t numer =
            static_cast<std::int64_t>(llm_freq_total - static_cast<std::uint64_t>(n)) << 32;
        const auto k = at::div(at::full_like(total_w, numer), total_w, "floor");
        const auto excl = c - w;
        auto low = at::arange(n, long_opts()).unsqueeze(0) + at::__rshift__(excl * k, 32);
        cum = at::cat(
            {low, at::full({batch, 1}, static_cast<std::int64_t>(llm_freq_total), long_opts())}, 1);
        return cum;
    }

    at::Tensor upload_long(const std::int32_t* p, std::int64_t count) const {
        auto t = at::from_blob(const_cast<std::int32_t*>(p), {count},
                               at::TensorOptions().dtype(at::kInt));
        return t.to(m->device, at::kLong, false, true);
    }
};

llm_batch::llm_batch(std::shared_ptr<llm_model> model, int batch, int context,
                     llm_alphabet alphabet)
    : p_(std::make_unique<impl>()) {
    c10::InferenceMode guard;
    auto& b = *p_;
    b.model = std::move(model);
    b.m = &b.model->get();
    const auto& c = b.m->cfg;
    LMGC_CHECK(batch >= 1 && batch <= 65536, errc::usage, "batch ", batch,
               " is outside [1, 65536]");
    LMGC_CHECK(context >= 2, errc::usage, "context ", context, " is below 2");
    LMGC_CHECK(context <= c.max_position_embeddings, errc::usage, "context ", context,
               " exceeds the model's max_position_embeddings (", c.max_position_embeddings, ")");
    b.batch = batch;
    b.context = context;
    if (alphabet.token_ids.empty()) {
        b.n = c.vocab_size;
    } else {
        for (const auto id : alphabet.token_ids)
            LMGC_CHECK(id >= 0 && id < c.vocab_size, errc::bad_input, "alphabet token ", id,
                       " is outside the vocabulary (", c.vocab_size, ")");
        b.n = static_cast<std::int64_t>(alphabet.token_ids.size());
        b.alphabet = b.upload_long(alphabet.token_ids.data(), b.n);
    }
    LMGC_CHECK(b.n >= 1 && static_cast<std::size_t>(b.n) <= llm_freq_max_symbols, errc::unsupported,
               "alphabet of ", b.n, " symbols (at most ", llm_freq_max_symbols, ")");
    try {
        for (std::int64_t l = 0; l < c.n_layers; ++l) {
            b.k_cache.push_back(
                at::empty({batch * c.n_kv_heads, context, c.head_dim}, b.m->opts()));
            b.v_cache.push_back(
                at::empty({batch * c.n_kv_heads, context, c.head_dim}, b.m->opts()));
        }
    } catch (const c10::Error& e) {
        LMGC_FAIL(errc::unsupported, "not enough memory on ", b.m->device.str(),
                  " for the KV cache of ", batch, " windows of ", context,
                  " tokens (lower --batch)");
    }
    std::tie(b.cos, b.sin) = b.m->rope_tables(context);
    const auto table = llm_exp_table();
    b.exp_table = at::from_blob(const_cast<std::int64_t*>(table.data()),
                                {static_cast<std::int64_t>(table.size())},
                                at::TensorOptions().dtype(at::kLong))
                      .to(b.m->device, at::kLong, false, true);
}

llm_batch::~llm_batch() = default;

int llm_batch::batch() const {
    return p_->batch;
}
int llm_batch::context() const {
    return p_->context;
}
std::size_t llm_batch::n_symbols() const {
    return static_cast<std::size_t>(p_->n);
}
int llm_batch::position() const {
    return p_->pos;
}

void llm_batch::reset() {
    p_->pos = 0;
    p_->logits = at::Tensor();
    p_->cum = at::Tensor();
}

void llm_batch::step(std::span<const std::int32_t> tokens) {
    c10::InferenceMode guard;
    auto& b = *p_;
    LMGC_CHECK(tokens.size() == static_cast<std::size_t>(b.batch), errc::internal,
               "llm_batch::step: ", tokens.size(), " tokens for ", b.batch, " rows");
    LMGC_CHECK(b.pos < b.context, errc::internal, "llm_batch::step past the context");
    for (const auto t : tokens)
        LMGC_CHECK(t >= 0 && t < b.m->cfg.vocab_size, errc::internal, "token ", t,
                   " outside the vocabulary");
    b.forward(b.upload_long(tokens.data(), b.batch));
}

void llm_batch::code(std::span<const std::int32_t> symbols, std::span<std::uint64_t> low,
                     std::span<std::uint64_t> freq) {
    c10::InferenceMode guard;
    auto& b = *p_;
    LMGC_CHECK(b.logits.defined(), errc::internal, "llm_batch::code before a step");
    const auto B = static_cast<std::size_t>(b.batch);
    LMGC_CHECK(symbols.size() == B && low.size() == B && freq.size() == B, errc::internal,
               "llm_batch::code: sizes");
    for (const auto s : symbols)
        LMGC_CHECK(s >= 0 && s < b.n, errc::internal, "symbol ", s, " outside the alphabet");
    const auto s = b.upload_long(symbols.data(), b.batch).unsqueeze(1);
    const auto& cum = b.cum_table();
    const auto r = at::cat({cum.gather(1, s), cum.gather(1, s + 1)}, 1).to(at::kCPU).contiguous();
    const auto* p = r.data_ptr<std::int64_t>();
    for (std::size_t i = 0; i < B; ++i) {
        low[i] = static_cast<std::uint64_t>(p[2 * i]);
        freq[i] = static_cast<std::uint64_t>(p[2 * i + 1] - p[2 * i]);
    }
}

void llm_batch::find(std::span<const std::uint64_t> targets, std::span<std::int32_t> symbols,
                     std::span<std::uint64_t> low, std::span<std::uint64_t> freq) {
    c10::InferenceMode guard;
    auto& b = *p_;
    LMGC_CHECK(b.logits.defined(), errc::internal, "llm_batch::find before a step");
    const auto B = static_cast<std::size_t>(b.batch);
    LMGC_CHECK(targets.size() == B && symbols.size() == B && low.size() == B && freq.size() == B,
               errc::internal, "llm_batch::find: sizes");
    std::vector<std::int64_t> tv(B);
    for (std::size_t i = 0; i < B; ++i)
        tv[i] = static_cast<std::int64_t>(std::min(targets[i], llm_freq_total - 1));
    const auto t = at::from_blob(tv.data(), {b.batch, 1}, at::TensorOptions().dtype(at::kLong))
                       .to(b.m->device);
    const auto& cum = b.cum_table();
    const auto s = at::clamp(at::searchsorted(cum, t, false, true) - 1, 0, b.n - 1);
    const auto r =
        at::cat({s, cum.gather(1, s), cum.gather(1, s + 1)}, 1).to(at::kCPU).contiguous();
    const auto* p = r.data_ptr<std::int64_t>();
    for (std::size_t i = 0; i < B; ++i) {
        symbols[i] = static_cast<std::int32_t>(p[3 * i]);
        low[i] = static_cast<std::uint64_t>(p[3 * i + 1]);
        freq[i] = static_cast<std::uint64_t>(p[3 * i + 2] - p[3 * i + 1]);
    }
}

void llm_batch::encode_steps(std::span<const std::int32_t> tokens,
                             std::span<const std::int32_t> symbols, int n_steps,
                             std::span<std::uint64_t> low, std::span<std::uint64_t> freq,
                             std::span<double> log2p) {
    c10::InferenceMode guard;
    auto& b = *p_;
    const auto count = static_cast<std::size_t>(b.batch) * static_cast<std::size_t>(n_steps);
    LMGC_CHECK(n_steps >= 0 && b.pos + n_steps <= b.context, errc::internal,
               "encode_steps past the context");
    LMGC_CHECK(tokens.size() == count && symbols.size() == count && low.size() == count &&
                   freq.size() == count && (log2p.empty() || log2p.size() == count),
               errc::internal, "encode_steps: sizes");
    for (const auto t : tokens)
        LMGC_CHECK(t >= 0 && t < b.m->cfg.vocab_size, errc::internal, "token ", t,
                   " outside the vocabulary");
    for (const auto s : symbols)
        LMGC_CHECK(s >= 0 && s < b.n, errc::internal, "symbol ", s, " outside the alphabet");
    if (n_steps == 0) return;
    const auto tok =
        b.upload_long(tokens.data(), static_cast<std::int64_t>(count)).view({b.batch, n_steps});
    const auto sym =
        b.upload_long(symbols.data(), static_cast<std::int64_t>(count)).view({b.batch, n_steps});
    auto out = at::empty({b.batch, n_steps, 2}, b.long_opts());
    at::Tensor lp;
    if (!log2p.empty())
        lp = at::empty({b.batch, n_steps},
                       at::TensorOptions().dtype(at::kDouble).device(b.m->device));
    for (int t = 0; t < n_steps; ++t) {
        // The same forward() and cum_table() that step() and find() run for the decoder.
        b.forward(tok.select(1, t).contiguous());
        const auto s = sym.select(1, t).unsqueeze(1).contiguous();
        const auto& cum = b.cum_table();
        out.select(1, t).copy_(at::cat({cum.gather(1, s), cum.gather(1, s + 1)}, 1));
        if (lp.defined()) {
            const auto ls = at::log_softmax(b.alphabet_logits().to(at::kFloat), 1);
            lp.select(1, t).copy_(ls.gather(1, s).squeeze(1).to(at::kDouble) / std::log(2.0));
        }
    }
    const auto r = out.to(at::kCPU).contiguous();
    const auto* p = r.data_ptr<std::int64_t>();
    for (std::size_t i = 0; i < count; ++i) {
        low[i] = static_cast<std::uint64_t>(p[2 * i]);
        freq[i] = static_cast<std::uint64_t>(p[2 * i + 1] - p[2 * i]);
    }
    if (lp.defined()) {
        const auto r2 = lp.to(at::kCPU).contiguous();
        std::memcpy(log2p.data(), r2.data_ptr<double>(), count * sizeof(double));
    }
}

std::vector<float> llm_batch::logits(int row) const {
    c10::InferenceMode guard;
    LMGC_CHECK(p_->logits.defined() && row >= 0 && row < p_->batch, errc::internal,
               "llm_batch::logits");
    const auto r = p_->alphabet_logits()[row].to(at::kCPU, at::kFloat).contiguous();
    return {r.data_ptr<float>(), r.data_ptr<float>() + r.numel()};
}

std::vector<std::uint64_t> llm_batch::cdf(int row) const {
    c10::InferenceMode guard;
    LMGC_CHECK(p_->logits.defined() && row >= 0 && row < p_->batch, errc::internal,
               "llm_batch::cdf");
    const auto r = p_->cum_table()[row].to(at::kCPU).contiguous();
    const auto* p = r.data_ptr<std::int64_t>();
    return {p, p + r.numel()};
}

std::vector<double> llm_batch::log2_softmax(int row) const {
    const auto lg = logits(row);
    double mx = -INFINITY;
    for (const auto v : lg) mx = std::max(mx, static_cast<double>(v));
    double z = 0;
    for (const auto v : lg) z += std::exp(static_cast<double>(v) - mx);
    const double lz = mx + std::log(z);
    std::vector<double> out(lg.size());
    for (std::size_t i = 0; i < lg.size(); ++i)
        out[i] = (static_cast<double>(lg[i]) - lz) / std::log(2.0);
    return out;
}

// ---- the prior interface over a batch of one ----

llm_prior::llm_prior(std::shared_ptr<llm_model> model, int context, llm_alphabet alphabet,
                     int bos_id)
    : batch_(std::move(model), 1, context, alphabet), token_of_(std::move(alphabet.token_ids)),
      bos_(bos_id), pending_(bos_id) {}

cdf_view llm_prior::predict() {
    if (!evaluated_) {
        LMGC_CHECK(batch_.position() < batch_.context(), errc::usage, "llm_prior: the window of ",
                   batch_.context(), " tokens is full");
        batch_.step(std::span<const std::int32_t>(&pending_, 1));
        cum_ = batch_.cdf(0);
        evaluated_ = true;
    }
    return {cum_};
}

void llm_prior::update(std::size_t symbol) {
    LMGC_CHECK(symbol < batch_.n_symbols(), errc::internal, "llm_prior: symbol ", symbol,
               " outside the alphabet");
    if (!evaluated_) (void)predict(); // the step for the previous token must happen first
    pending_ = token_of_.empty() ? static_cast<std::int32_t>(symbol) : token_of_[symbol];
    evaluated_ = false;
}

void llm_prior::reset() {
    batch_.reset();
    pending_ = bos_;
    evaluated_ = false;
}

std::vector<float> llm_prefill_logits(llm_model& model, std::span<const std::int32_t> tokens,
                                      int batch, int length, bool keep_logits) {
    c10::InferenceMode guard;
    auto& m = model.get();
    const auto& c = m.cfg;
    LMGC_CHECK(batch >= 1 && length >= 1 &&
                   tokens.size() ==
                       static_cast<std::size_t>(batch) * static_cast<std::size_t>(length),
               errc::internal, "llm_prefill_logits: sizes");
    const std::int64_t B = batch, L = length, hd = c.head_dim, nkv = c.n_kv_heads,
                       G = c.n_heads / nkv;
    auto ids = at::from_blob(const_cast<std::int32_t*>(tokens.data()), {B, L},
                             at::TensorOptions().dtype(at::kInt))
                   .to(m.device, at::kLong, false, true);
    const auto [cos, sin] = m.rope_tables(L);
    const auto cs = cos.view({1, L, 1, hd}), sn = sin.view({1, L, 1, hd});
    const auto mask =
        at::full({L, L}, -INFINITY, at::TensorOptions().dtype(at::kFloat).device(m.device)).triu(1);
    const double scale = 1.0 / std::sqrt(static_cast<double>(hd));
    auto h = at::embedding(m.embed, ids); // [B, L, H]
    for (const auto& w : m.layers) {
        const auto x = m.rms_norm(h, w.in_norm);
        const auto q = llm_model::impl::rotate(
            llm_model::impl::linear(x, w.q, w.q_b).view({B, L, c.n_heads, hd}), cs, sn);
        const auto k = llm_model::impl::rotate(
            llm_model::impl::linear(x, w.k, w.k_b).view({B, L, nkv, hd}), cs, sn);
        const auto v = llm_model::impl::linear(x, w.v, w.v_b).view({B, L, nkv, hd});
        // [B, nkv, G*L, hd] queries against [B, nkv, L, hd] keys.
        const auto q4 =
            q.view({B, L, nkv, G, hd}).permute({0, 2, 3, 1, 4}).reshape({B * nkv, G * L, hd});
        const auto k3 = k.permute({0, 2, 1, 3}).reshape({B * nkv, L, hd});
        const auto v3 = v.permute({0, 2, 1, 3}).reshape({B * nkv, L, hd});
        auto scores = (at::bmm(q4, k3.transpose(1, 2)) * scale).view({B * nkv, G, L, L});
        const auto p = at::softmax(scores.to(at::kFloat) + mask, -1).to(scores.scalar_type());
        const auto a = at::bmm(p.view({B * nkv, G * L, L}), v3)
                           .view({B, nkv, G, L, hd})
                           .permute({0, 3, 1, 2, 4})
                           .reshape({B, L, c.n_heads * hd});
        h = h + llm_model::impl::linear(a, w.o, w.o_b);
        h = h + m.mlp(w, m.rms_norm(h, w.post_norm));
    }
    const auto logits = at::linear(m.rms_norm(h, m.norm), m.lm_head);
    if (!keep_logits) {
        (void)logits.sum().item<float>(); // waits for the device
        return {};
    }
    const auto r = logits.to(at::kCPU, at::kFloat).contiguous();
    return {r.data_ptr<float>(), r.data_ptr<float>() + r.numel()};
}

} // namespace lmgc::detail
