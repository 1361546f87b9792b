// The LibTorch module's entry points: the tables the loader looks up by name. The only
// exported symbols of liblmgc-torch.so.
#include "module/module-research.hpp"

namespace lmgc {
namespace detail {
std::unique_ptr<codec_i> make_codec_lm(const codec_config& cfg);
}
namespace torch_impl {
experimental::collect_model_info collect_describe(const experimental::collect_params& p);
experimental::collect_summary collect_gradients(const experimental::collect_params& p);
std::vector<experimental::collect_bench_result>
collect_benchmark(const experimental::collect_params& p, const std::vector<std::string>& archs,
                  int warmup, int steps);
experimental::llm_prediction llm_predict(const experimental::llm_settings& s,
                                         const std::vector<int>& ids, const std::string& text);
experimental::llm_analysis llm_analyze(const std::string& path, const experimental::llm_settings& s,
                                       bool verify, input_format format, progress_fn progress);
double llm_prefill_tokens_per_second(const experimental::llm_settings& s, int batch, int length,
                                     int repeats);
} // namespace torch_impl
} // namespace lmgc

using namespace lmgc;

extern "C" __attribute__((visibility("default"))) const detail::torch_codec_api*
lmgc_torch_codec_v1() {
    static const detail::torch_codec_api api{{sizeof(detail::torch_codec_api), LMGC_VERSION},
                                             &detail::make_codec_lm};
    return &api;
}

extern "C" __attribute__((visibility("default"))) const detail::torch_research_api*
lmgc_torch_research_v1() {
    static const detail::torch_research_api api{{sizeof(detail::torch_research_api), LMGC_VERSION},
                                                &torch_impl::collect_describe,
                                                &torch_impl::collect_gradients,
                                                &torch_impl::collect_benchmark,
                                                &torch_impl::llm_predict,
                                                &torch_impl::llm_analyze,
                                                &torch_impl::llm_prefill_tokens_per_second};
    return &api;
}
