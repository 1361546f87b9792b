// lmgc collect: trains one of the paper's networks with LibTorch and saves its gradients,
// or describes a network (--describe), or times training steps (--benchmark).
#include "cli-args.hpp"
#include "cli-commands.hpp"

#include "lmgc/research.hpp"

#include <chrono>
#include <cstdio>
#include <unistd.h>

namespace lmgc::cli {
namespace {

namespace ex = lmgc::experimental;

std::string shape_text(const std::vector<std::int64_t>& shape) {
    std::string s = "[";
    for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
    return s + "]";
}

std::string duration_text(double secs) {
    char buf[32];
    const long s = static_cast<long>(secs + 0.5);
    if (s >= 3600)
        std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
    else
        std::snprintf(buf, sizeof buf, "%ld:%02ld", s / 60, s % 60);
    return buf;
}

std::vector<std::string> split_list(const std::string& s) {
    std::vector<std::string> out;
    std::size_t start = 0;
    while (start <= s.size()) {
        const auto comma = s.find(',', start);
        const auto item =
            s.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
        if (!item.empty()) out.push_back(item);
        if (comma == std::string::npos) break;
        start = comma + 1;
    }
    return out;
}

// The training progress: a redrawn line on a terminal; otherwise one line per saved file
// and per tenth of the run, so that logs stay short.
class train_progress {
  public:
    explicit train_progress(bool quiet) : quiet_(quiet), tty_(::isatty(2) == 1) {}
    ~train_progress() { clear(); }

    void operator()(const ex::collect_step_info& s) {
        if (quiet_) return;
        const auto now = std::chrono::steady_clock::now();
        const std::uint64_t tenth = s.total_steps >= 10 ? s.step * 10 / s.total_steps : s.step;
        const bool milestone = tenth != last_tenth_;
        last_tenth_ = tenth;
        const std::string line = text(s);
        if (tty_) {
            if (!s.saved_file.empty()) {
                std::fprintf(stderr, "\r\033[K%s -> %s\n", line.c_str(), s.saved_file.c_str());
                last_ = now;
            } else if (now - last_ >= std::chrono::milliseconds(100) || s.step == s.total_steps) {
                std::fprintf(stderr, "\r\033[K%s", line.c_str());
                drawn_ = true;
                last_ = now;
            }
            std::fflush(stderr);
        } else if (!s.saved_file.empty() || milestone) {
            std::fprintf(stderr, "%s%s%s\n", line.c_str(), s.saved_file.empty() ? "" : " -> ",
                         s.saved_file.c_str());
        }
    }
    void clear() {
        if (drawn_) std::fprintf(stderr, "\r\033[K");
        drawn_ = false;
    }

  private:
    static std::string text(const ex::collect_step_info& s) {
        constexpr int width = 20;
        const double frac =
            s.total_steps ? static_cast<double>(s.step) / static_cast<double>(s.total_steps) : 0;
        std::string bar(static_cast<std::size_t>(frac * width), '#');
        bar.resize(width, '.');
        const double left = s.steps_per_second > 0
                                ? static_cast<double>(s.total_steps - s.step) / s.steps_per_second
                                : 0;
        char buf[256];
        std::snprintf(
            buf, sizeof buf,
            "collect [%s] step %llu/%llu epoch %d loss %.4f acc %.1f%% lr %.3g %.2f steps/s ETA %s",
            bar.c_str(), static_cast<unsigned long long>(s.step),
            static_cast<unsigned long long>(s.total_steps), s.epoch, s.loss, s.accuracy, s.lr,
            s.steps_per_second, duration_text(left).c_str());
        return buf;
    }
    bool quiet_, tty_;
    bool drawn_ = false;
    std::uint64_t last_tenth_ = 0;
    std::chrono::steady_clock::time_point last_{};
};

} // namespace

int cmd_collect(const args_t& args) {
    auto p = ex::default_collect_params();
    std::string out, bench_archs = "convnet,vgg16,resnet18,vit";
    bool describe = false, benchmark = false, quiet = false, no_augment = false;
    int bench_steps = 5, bench_warmup = 2;
    arg_parser ap(
        "collect",
        "Trains one of the LM-GC paper's networks with LibTorch and saves the gradient of "
        "every parameter every --grad-interval steps, before the optimizer step, as "
        "OUT/grad_<step>.safetensors.");
    ap.option("-a,--arch", "A", "convnet (default), vgg16, resnet18, vit", &p.arch)
        .option("-d,--dataset", "D",
                "fashion-mnist (default), mnist, cifar10, tinyimagenet, synthetic", &p.dataset)
        .option("--data", "DIR",
                "dataset folder (default for fashion-mnist: /usr/share/datasets/fashion-mnist)",
                &p.data_dir)
        .option("-o,--out", "DIR", "output folder for the gradient files (created if missing)",
                &out)
        .option("--epochs", "N", "run length in epochs (default 1; the paper: 200)", &p.epochs)
        .option("--steps", "N", "run length in steps (instead of --epochs)", &p.steps)
        .option("-g,--grad-interval", "N",
                "save gradients every N steps (default 400, as the paper)", &p.grad_interval)
        .option("-b,--batch", "N", "batch size (default 128)", &p.batch)
        .option("--optimizer", "O", "sgd or adamw (default: the paper's: adamw for vit, else sgd)",
                &p.optimizer)
        .option("--lr", "X", "learning rate (default: 0.1 for sgd, 1e-3 (peak) for adamw)", &p.lr)
        .option("--momentum", "X", "sgd momentum (default 0.9)", &p.momentum)
        .option("--weight-decay", "X", "weight decay (default: 5e-4 for sgd, 0.1 for adamw)",
                &p.weight_decay)
        .flag("--no-augment", "turn off the paper's data augmentation", &no_augment)
        .option("-s,--seed", "S", "seed of weights, data order, augmentation (default 0)", &p.seed)
        .option("--device", "DEV", "cpu (default), cuda, cuda:N", &p.device)
        .option("-t,--threads", "N", "CPU threads for LibTorch (default: all cores)", &p.n_threads)
        .flag("--flat-npy",
              "also write grad_<step>.npy: the flat float32 vector, the paper's layout",
              &p.flat_npy)
        .flag("--eval", "measure test accuracy at the end (needs the test split)", &p.evaluate)
        .flag("-f,--force", "replace gradient files already in OUT", &p.overwrite)
        .option("--channels", "C", "synthetic: image channels (default 3)", &p.synthetic_channels)
        .option("--image-size", "S", "synthetic: image height and width (default 32)",
                &p.synthetic_size)
        .option("--classes", "K", "synthetic: classes (default 10)", &p.synthetic_classes)
        .option("--samples", "N", "synthetic: training images (default 1024)", &p.synthetic_samples)
        .flag("--describe", "print the network and its parameter count, and exit", &describe)
        .flag("--benchmark", "time training steps per arch on synthetic data, and exit", &benchmark)
        .option("--bench-archs", "LIST", "archs for --benchmark (default: all four)", &bench_archs)
        .option("--bench-steps", "N", "timed steps per arch for --benchmark (default 5)",
                &bench_steps)
        .option("--bench-warmup", "N", "untimed steps first (default 2)", &bench_warmup)
        .flag("-q,--quiet", "print only errors", &quiet)
        .epilog("Examples:\n"
                "  lmgc collect --steps 300 --grad-interval 50 --flat-npy -o grads/convnet-fmnist\n"
                "  lmgc collect -a vgg16 -d cifar10 --data ~/cifar-10-batches-bin --epochs 200 -o "
                "grads/vgg16\n"
                "  lmgc collect -a vit -d cifar10 --describe\n"
                "  lmgc collect --benchmark --batch 32 --bench-archs convnet,resnet18\n");
    ap.parse(args);
    if (ap.given("--epochs") && ap.given("--steps"))
        throw usage_error("give --epochs or --steps, not both");
    if (ap.given("--steps") && p.steps == 0) throw usage_error("--steps must be >= 1");
    p.augment = !no_augment;
    p.out_dir = out;

    if (describe) {
        const auto d = ex::collect_dataset(p);
        const auto m = ex::collect_describe(p);
        std::printf("%s on %s: input %dx%dx%d, %d classes\n", m.arch.c_str(), d.name.c_str(),
                    m.channels, m.height, m.width, m.classes);
        std::printf("%s\n", m.description.c_str());
        std::vector<std::vector<std::string>> rows{{"#", "parameter", "shape", "numel"}};
        for (std::size_t i = 0; i < m.params.size(); ++i)
            rows.push_back({std::to_string(i), m.params[i].name, shape_text(m.params[i].shape),
                            std::to_string(m.params[i].numel)});
        std::fputs(markdown_table(rows).c_str(), stdout);
        std::printf("parameters: %llu (%s of float32 gradient per step)\n",
                    static_cast<unsigned long long>(m.n_params),
                    format_bytes(4.0 * static_cast<double>(m.n_params)).c_str());
        return 0;
    }

    if (benchmark) {
        if (!ap.given("--batch")) p.batch = 128;
        const auto archs = split_list(bench_archs);
        if (archs.empty()) throw usage_error("--bench-archs lists no arch");
        if (!quiet)
            std::fprintf(stderr,
                         "timing %d steps (after %d warm-up) per arch, batch %d, %dx%dx%d "
                         "synthetic images, device %s...\n",
                         bench_steps, bench_warmup, p.batch, p.synthetic_channels, p.synthetic_size,
                         p.synthetic_size, p.device.c_str());
        const auto rows_in = ex::collect_benchmark(p, archs, bench_warmup, bench_steps);
        std::vector<std::vector<std::string>> rows{{"arch", "parameters", "batch", "device",
                                                    "median steps/s", "best steps/s",
                                                    "median images/s"}};
        for (const auto& r : rows_in)
            rows.push_back({r.arch, std::to_string(r.n_params), std::to_string(r.batch), p.device,
                            format_fixed(r.median_steps_per_second, 3),
                            format_fixed(r.best_steps_per_second, 3),
                            format_fixed(r.median_steps_per_second * r.batch, 1)});
        std::fputs(markdown_table(rows).c_str(), stdout);
        return 0;
    }

    if (out.empty()) throw usage_error("-o/--out DIR is required (or --describe, --benchmark)");
    train_progress progress(quiet);
    p.progress = [&progress](const ex::collect_step_info& s) { progress(s); };
    const auto s = ex::collect_gradients(p);
    progress.clear();
    if (!quiet) {
        std::printf("%s: %s on %s, %llu steps (%d epoch%s) in %s on %s, %.2f steps/s (data loaded "
                    "in %.1f s); final loss %.4f, train acc %.2f%%",
                    out.c_str(), p.arch.c_str(), p.dataset.c_str(),
                    static_cast<unsigned long long>(s.steps), s.epochs, s.epochs == 1 ? "" : "s",
                    duration_text(s.seconds).c_str(), s.device.c_str(), s.steps_per_second,
                    s.load_seconds, s.final_loss, s.final_accuracy);
        if (s.test_accuracy >= 0) std::printf(", test acc %.2f%%", s.test_accuracy);
        std::printf("; %zu files, %s, %llu parameters each\n", s.files.size(),
                    format_bytes(static_cast<double>(s.bytes_written)).c_str(),
                    static_cast<unsigned long long>(s.n_params));
    }
    return 0;
}

} // namespace lmgc::cli
