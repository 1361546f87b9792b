// LLM prior benchmark over the public API: tokens/s of the lm codec's encoder and decoder
// (step by step with a KV cache, every stream decoded back and compared), for a sweep of
// batch sizes, next to one whole-sequence prefill forward pass of the same model (what the
// paper's code ran). Runs on CPU or CUDA; without --model it writes a random-weight model.
//
//   lmgc-bench-llm [--model DIR | --shape tiny|tinyllama] [--device cpu|cuda] [--dtype T]
//                  [--batches 1,4,16] [--floats N] [--context N] [--tokens canonical|symbol]
//                  [--prefill-batch N] [--threads N] [--keep DIR]
//   lmgc-bench-llm --write-npy PATH --floats N     (gradient-like test data, then exit)
#include "lmgc/lmgc.hpp"
#include "lmgc/research.hpp"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <unistd.h>
#include <vector>

namespace {

std::vector<int> parse_list(const std::string& s) {
    std::vector<int> out;
    std::size_t b = 0;
    while (b <= s.size()) {
        const auto e = s.find(',', b);
        out.push_back(
            std::atoi(s.substr(b, e == std::string::npos ? std::string::npos : e - b).c_str()));
        if (e == std::string::npos) break;
        b = e + 1;
    }
    return out;
}

// Gradient-like float32 values: a third exact zeros, the rest Gaussian with a scale that
// changes every 1024 values (as layers do).
std::vector<std::uint8_t> gradient_npy(std::size_t n, std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    std::uniform_real_distribution<float> uni(0.0f, 1.0f);
    std::string header =
        "{'descr': '<f4', 'fortran_order': False, 'shape': (" + std::to_string(n) + ",), }";
    while ((10 + header.size() + 1) % 64) header += ' ';
    header += '\n';
    std::vector<std::uint8_t> out = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0};
    out.push_back(static_cast<std::uint8_t>(header.size() & 0xff));
    out.push_back(static_cast<std::uint8_t>(header.size() >> 8));
    out.insert(out.end(), header.begin(), header.end());
    float scale = 1e-3f;
    for (std::size_t i = 0; i < n; ++i) {
        if (i % 1024 == 0) scale = std::pow(10.0f, -2.0f - 3.0f * uni(rng));
        const float v = uni(rng) < 0.33f ? 0.0f : normal(rng) * scale;
        std::uint8_t b[4];
        std::memcpy(b, &v, 4);
        out.insert(out.end(), b, b + 4);
    }
    return out;
}

} // namespace

int main(int argc, char** argv) {
    using namespace lmgc;
    std::string model, shape = "tiny", device = "cpu", dtype, tokens = "canonical", keep, write_npy;
    std::vector<int> batches;
    std::size_t floats = 0;
    int context = 0, prefill_batch = 0, threads = 0;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto val = [&]() -> std::string {
            if (i + 1 >= argc) {
                std::fprintf(stderr, "lmgc-bench-llm: %s needs a value\n", a.c_str());
                std::exit(2);
            }
            return argv[++i];
        };
        if (a == "--model")
            model = val();
        else if (a == "--shape")
            shape = val();
        else if (a == "--device")
            device = val();
        else if (a == "--dtype")
            dtype = val();
        else if (a == "--tokens")
            tokens = val();
        else if (a == "--batches")
            batches = parse_list(val());
        else if (a == "--floats")
            floats = static_cast<std::size_t>(std::atoll(val().c_str()));
        else if (a == "--context")
            context = std::atoi(val().c_str());
        else if (a == "--prefill-batch")
            prefill_batch = std::atoi(val().c_str());
        else if (a == "--threads")
            threads = std::atoi(val().c_str());
        else if (a == "--keep")
            keep = val();
        else if (a == "--write-npy")
            write_npy = val();
        else {
            std::fprintf(stderr,
                         "lmgc-bench-llm: unknown argument '%s' (see the comment at the top of "
                         "bench-llm.cpp)\n",
                         a.c_str());
            return 2;
        }
    }
    try {
        if (!write_npy.empty()) {
            write_file_atomic(write_npy, gradient_npy(floats ? floats : 100000, 7), true);
            return 0;
        }
        if (!experimental::llm_available()) {
            std::fprintf(stderr, "lmgc-bench-llm: built without LibTorch\n");
            return 1;
        }
        const bool cuda = device.rfind("cuda", 0) == 0;
        const bool big = shape == "tinyllama";
        if (batches.empty())
            batches = cuda  ? std::vector<int>{16, 64, 256}
                      : big ? std::vector<int>{1, 4}
                            : std::vector<int>{1, 4, 16};
        if (!floats) floats = cuda ? (big ? 262144 : 65536) : (big ? 128 : 8192);
        if (!context) context = cuda || !big ? 2048 : 256;
        const auto tmp = std::filesystem::temp_directory_path() /
                         ("lmgc-bench-llm-" + std::to_string(::getpid()));
        std::filesystem::create_directories(tmp);
        if (model.empty()) {
            model = keep.empty() ? (tmp / "model").string() : keep;
            if (!std::filesystem::exists(model + "/config.json")) {
                const auto t0 = std::chrono::steady_clock::now();
                experimental::llm_write_random_model(model, shape, big ? "bf16" : "fp32", 1);
                std::printf(
                    "wrote a random %s model to %s in %.1f s\n", shape.c_str(), model.c_str(),
                    std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
            }
        }
        const std::string data = (tmp / "grad.npy").string();
        write_file_atomic(data, gradient_npy(floats, 7), true);

        experimental::llm_settings s;
        s.model = model;
        s.device = device;
        s.dtype = dtype;
        s.tokens = tokens;
        s.context = context;
        s.n_threads = threads;
        std::printf("model %s (%s), device %s, dtype %s, tokens %s, context %d, %zu floats\n\n",
                    model.c_str(), shape.c_str(), device.c_str(),
                    dtype.empty() ? "default" : dtype.c_str(), tokens.c_str(), context, floats);
        std::printf("| batch | tokens | windows | encode tok/s | decode tok/s | rate %% | "
                    "bits/float | verified |\n");
        std::printf("|------:|-------:|--------:|-------------:|-------------:|-------:|-----------"
                    ":|:--------:|\n");
        double best_step = 0;
        for (const int b : batches) {
            s.batch = b;
            const auto a = experimental::llm_analyze(data, s, true);
            const double tok = static_cast<double>(a.n_tokens);
            const double enc = tok / a.encode_seconds, dec = tok / a.decode_seconds;
            best_step = std::max(best_step, std::min(enc, dec));
            std::printf(
                "| %d | %llu | %llu | %.0f | %.0f | %.3f | %.3f | %s |\n", b,
                static_cast<unsigned long long>(a.n_tokens),
                static_cast<unsigned long long>(a.n_windows), enc, dec,
                100.0 * static_cast<double>(a.payload_bytes) / static_cast<double>(a.tensor_bytes),
                8.0 * static_cast<double>(a.payload_bytes) / static_cast<double>(a.n_values),
                a.verified ? "yes" : "no");
            std::fflush(stdout);
        }
        s.batch = 0;
        const int pb = prefill_batch ? prefill_batch : (cuda ? 8 : 1);
        const double prefill = experimental::llm_prefill_tokens_per_second(s, pb, context, 2);
        std::printf("\nprefill forward pass (batch %d x %d tokens, logits not copied): %.0f tok/s; "
                    "step-by-step coding at its best batch: %.0f tok/s (%.2fx the prefill)\n",
                    pb, context, prefill, best_step, best_step / prefill);
        std::filesystem::remove_all(tmp);
    } catch (const lmgc::error& e) {
        std::fprintf(stderr, "lmgc-bench-llm: %s\n", e.what());
        return 1;
    }
    return 0;
}
