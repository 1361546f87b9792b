// main() for the fuzz targets when built without libFuzzer (LMGC_FUZZ off): runs the target
// on its seeds, on about 2400 deterministic mutations of the seeds (bit flips, truncations, byte
// runs), and on every file in the folders or files given as arguments (saved crash inputs,
// tests/fuzz/corpus/<target>/). CTest runs this in every build, the sanitizer one included.
#include "fuzz-common.hpp"
#include "testutil.hpp"

#include <algorithm>
#include <filesystem>
#include <random>

namespace {

void run_one(const lmgc::detail::bytes& b) {
    LLVMFuzzerTestOneInput(b.data(), b.size());
}

} // namespace

int main(int argc, char** argv) {
    std::size_t n = 0;
    std::mt19937_64 rng(42);
    const auto seeds = lmgc::fuzz::make_seeds(LMGC_FUZZ_TARGET);
    // About 2400 mutated inputs per target, however many seeds it has.
    const std::size_t per_seed =
        std::max<std::size_t>(12, 2400 / std::max<std::size_t>(1, seeds.size()));
    for (const auto& seed : seeds) {
        run_one(seed);
        ++n;
        for (std::size_t m = 0; m < per_seed && !seed.empty(); ++m) {
            auto b = seed;
            switch (m % 3) {
            case 0:
                for (std::size_t k = 0; k < 1 + m % 4; ++k)
                    b[rng() % b.size()] ^= static_cast<std::uint8_t>(1u << (rng() % 8));
                break;
            case 1:
                b.resize(rng() % b.size());
                break;
            default: {
                const auto at = rng() % b.size();
                const auto len = std::min<std::size_t>(b.size() - at, 1 + rng() % 16);
                const auto v = static_cast<std::uint8_t>(rng() % 2 ? 0xFF : rng());
                std::fill_n(b.begin() + static_cast<std::ptrdiff_t>(at), len, v);
            }
            }
            run_one(b);
            ++n;
        }
    }
    for (int i = 1; i < argc; ++i) {
        const std::filesystem::path p(argv[i]);
        if (!std::filesystem::exists(p)) continue;
        if (std::filesystem::is_directory(p)) {
            for (const auto& e : std::filesystem::recursive_directory_iterator(p))
                if (e.is_regular_file()) run_one(lmgc::test::read_bytes(e.path().string())), ++n;
        } else {
            run_one(lmgc::test::read_bytes(p.string()));
            ++n;
        }
    }
    std::printf("%s: %zu inputs, no failure\n", LMGC_FUZZ_TARGET, n);
    return 0;
}
