// The research library's calls that need LibTorch: forwarded to the module's table.
#include "module/module-research.hpp"

#include "common/common-error.hpp"

namespace lmgc {
namespace detail {

const torch_research_api& torch_research() {
    using entry_fn = const torch_research_api* (*)();
    const auto* api = reinterpret_cast<entry_fn>(torch_module_entry(torch_research_symbol))();
    check_torch_module_stamp(api->stamp, sizeof(torch_research_api));
    return *api;
}

} // namespace detail

namespace experimental {

using detail::torch_research;

bool collect_available() noexcept {
    return detail::torch_module_available();
}
bool llm_available() noexcept {
    return detail::torch_module_available();
}
collect_model_info collect_describe(const collect_params& params) {
    return torch_research().collect_describe(params);
}
collect_summary collect_gradients(const collect_params& params) {
    return torch_research().collect_gradients(params);
}
std::vector<collect_bench_result> collect_benchmark(const collect_params& params,
                                                    const std::vector<std::string>& archs,
                                                    int warmup, int steps) {
    return torch_research().collect_benchmark(params, archs, warmup, steps);
}
llm_prediction llm_predict(const llm_settings& s, const std::vector<int>& ids,
                           const std::string& text) {
    return torch_research().llm_predict(s, ids, text);
}
llm_analysis llm_analyze(const std::string& path, const llm_settings& s, bool verify,
                         input_format format, progress_fn progress) {
    return torch_research().llm_analyze(path, s, verify, format, std::move(progress));
}
double llm_prefill_tokens_per_second(const llm_settings& s, int batch, int length, int repeats) {
    return torch_research().llm_prefill_tokens_per_second(s, batch, length, repeats);
}

} // namespace experimental
} // namespace lmgc
