// The collect API in a build without LibTorch: training calls report errc::unsupported.
#include "collect/collect-data.hpp"

#include "common/common-error.hpp"

namespace lmgc::experimental {

namespace {
[[noreturn]] void no_torch() {
    LMGC_FAIL(errc::unsupported, "gradient collection needs LibTorch, and this lmgc was built "
                                 "without it (install libtorch-dev and rebuild)");
}
} // namespace

bool collect_available() noexcept {
    return false;
}
collect_model_info collect_describe(const collect_params&) {
    no_torch();
}
collect_summary collect_gradients(const collect_params&) {
    no_torch();
}
std::vector<collect_bench_result> collect_benchmark(const collect_params&,
                                                    const std::vector<std::string>&, int, int) {
    no_torch();
}

} // namespace lmgc::experimental
