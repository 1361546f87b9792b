// fuzz_seeds OUT: writes each fuzz target's seeds to OUT/<target>/seed-<n> (for scripts/fuzz).
#include "fuzz-common.hpp"
#include "testutil.hpp"

#include <filesystem>
#include <string>

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: fuzz_seeds OUT_FOLDER\n");
        return 2;
    }
    for (const char* t : lmgc::fuzz::targets) {
        const std::filesystem::path dir = std::filesystem::path(argv[1]) / t;
        std::filesystem::create_directories(dir);
        const auto seeds = lmgc::fuzz::make_seeds(t);
        for (std::size_t i = 0; i < seeds.size(); ++i)
            lmgc::test::write_bytes((dir / ("seed-" + std::to_string(i))).string(), seeds[i]);
    }
    return 0;
}
