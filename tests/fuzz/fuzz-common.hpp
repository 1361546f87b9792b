// Shared by the fuzz targets: the libFuzzer entry point's signature, a check that aborts
// (so libFuzzer and the replay driver report it), the rule for which exceptions count as
// clean failures, and the seed inputs of each target.
#pragma once

#include "common/common-bytes.hpp"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace lmgc::fuzz {

// A property that must hold for every input.
#define LMGC_FUZZ_REQUIRE(cond)                                                                    \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            std::fprintf(stderr, "fuzz: %s:%d: %s failed\n", __FILE__, __LINE__, #cond);           \
            std::abort();                                                                          \
        }                                                                                          \
    } while (0)

// Runs fn; an lmgc::error of any category but `internal` is a clean refusal of bad input.
// Anything else (an internal error, a std:: exception) aborts: it is a bug.
template <typename Fn> void expect_clean(Fn&& fn);

// Seeds of a target ("container_decode", ...), built from small valid inputs.
std::vector<detail::bytes> make_seeds(std::string_view target);
// The targets, in the order scripts/fuzz runs them.
extern const char* const targets[7];

} // namespace lmgc::fuzz

#include "lmgc/lmgc.hpp"

#include <exception>

template <typename Fn> void lmgc::fuzz::expect_clean(Fn&& fn) {
    try {
        fn();
    } catch (const lmgc::error& e) {
        if (e.code() == lmgc::errc::internal) {
            std::fprintf(stderr, "fuzz: internal error: %s\n", e.what());
            std::abort();
        }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "fuzz: unexpected exception: %s\n", e.what());
        std::abort();
    }
}
