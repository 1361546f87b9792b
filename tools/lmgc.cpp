// lmgc: the command-line tool. Dispatches to a subcommand and maps library errors to one
// line on stderr and an exit code: 0 success, 1 bad input or failure, 2 usage.
#include "cli-args.hpp"
#include "cli-commands.hpp"

#include <csignal>
#include <cstdio>
#include <cstring>
#include <new>

namespace {

using namespace lmgc::cli;

struct command {
    const char* name;
    const char* summary;
    int (*run)(const args_t&);
};

const command commands[] = {
    {"compress", "compress a tensor file (.npy, .safetensors, .pt, raw) into .lmgc", cmd_compress},
    {"decompress", "restore the original file from a .lmgc file", cmd_decompress},
    {"info", "show the header, tensors and chunks of a .lmgc file", cmd_info},
    {"codecs", "list the codecs built into this lmgc", cmd_codecs},
    {"bench",
     "the paper's tables: 'lmgc bench --data DIR' or '--preset table3'; 'lmgc bench codecs "
     "FILES...' compares codecs",
     cmd_bench},
    {"serialize", "write a tensor file as the paper's text (hex, iso)", cmd_serialize},
    {"deserialize", "parse that text back into the tensor file", cmd_deserialize},
    {"tokenize", "token ids of a text under a model's tokenizer", cmd_tokenize},
    {"tokens", "characters and tokens of a file's serializations", cmd_tokens},
    {"collect", "train a network of the paper (LibTorch) and save its gradients", cmd_collect},
    {"predict", "log2 probability the LLM gives each next token (--model DIR)", cmd_predict},
    {"analyze", "LLM ideal code length vs real coded size of a tensor file", cmd_analyze},
    {"random-model", "write a random-weight Llama checkpoint (tests, benchmarks)",
     cmd_random_model},
};

void print_usage(std::FILE* f) {
    std::fprintf(f, "lmgc %s: lossless compression of neural-network gradients\n\n",
                 lmgc::version());
    std::fprintf(f, "Usage: lmgc <command> [arguments] [options]\n\nCommands:\n");
    for (const auto& c : commands) std::fprintf(f, "  %-12s %s\n", c.name, c.summary);
    std::fprintf(f, "\nRun 'lmgc <command> --help' for a command's options.\n");
}

// SIGINT, SIGTERM, SIGHUP: remove the temporary output being written, then die of the
// signal as if unhandled (the shell sees the usual status). Async-signal-safe throughout.
extern "C" void on_fatal_signal(int sig) {
    lmgc::remove_temporary_files();
    std::signal(sig, SIG_DFL);
    std::raise(sig);
}

void install_signal_handlers() {
    struct sigaction sa {};
    sa.sa_handler = on_fatal_signal;
    sigemptyset(&sa.sa_mask);
    for (const int sig : {SIGINT, SIGTERM, SIGHUP}) ::sigaction(sig, &sa, nullptr);
}

} // namespace

int main(int argc, char** argv) {
    install_signal_handlers();
    if (argc < 2) {
        print_usage(stderr);
        return 2;
    }
    const std::string name = argv[1];
    if (name == "-h" || name == "--help" || name == "help") {
        print_usage(stdout);
        return 0;
    }
    if (name == "--version" || name == "version") {
        std::printf("lmgc %s\n", lmgc::version());
        return 0;
    }
    const command* cmd = nullptr;
    for (const auto& c : commands)
        if (name == c.name) cmd = &c;
    if (!cmd) {
        std::fprintf(stderr, "lmgc: unknown command '%s' (see 'lmgc --help')\n", name.c_str());
        return 2;
    }
    const args_t args(argv + 2, argv + argc);
    try {
        return cmd->run(args);
    } catch (const help_shown&) {
        return 0;
    } catch (const usage_error& e) {
        std::fprintf(stderr, "lmgc %s: %s (see 'lmgc %s --help')\n", cmd->name, e.what(),
                     cmd->name);
        return 2;
    } catch (const lmgc::error& e) {
        std::fprintf(stderr, "lmgc %s: %s\n", cmd->name, e.what());
        return e.code() == lmgc::errc::usage ? 2 : 1;
    } catch (const std::bad_alloc&) {
        std::fprintf(stderr, "lmgc %s: out of memory\n", cmd->name);
        return 1;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "lmgc %s: %s\n", cmd->name, e.what());
        return 1;
    }
}
