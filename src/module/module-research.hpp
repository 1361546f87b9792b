// The research half of the LibTorch module's exports (see module-loader.hpp): training for
// `lmgc collect` and the LLM tools. Included by the research library's forwarders and the
// module's entry point.
#pragma once

#include "lmgc/research.hpp"
#include "module/module-loader.hpp"

#include <string>
#include <vector>

namespace lmgc::detail {

struct torch_research_api {
    torch_module_stamp stamp;
    experimental::collect_model_info (*collect_describe)(const experimental::collect_params& p);
    experimental::collect_summary (*collect_gradients)(const experimental::collect_params& p);
    std::vector<experimental::collect_bench_result> (*collect_benchmark)(
        const experimental::collect_params& p, const std::vector<std::string>& archs, int warmup,
        int steps);
    experimental::llm_prediction (*llm_predict)(const experimental::llm_settings& s,
                                                const std::vector<int>& ids,
                                                const std::string& text);
    experimental::llm_analysis (*llm_analyze)(const std::string& path,
                                              const experimental::llm_settings& s, bool verify,
                                              input_format format, progress_fn progress);
    double (*llm_prefill_tokens_per_second)(const experimental::llm_settings& s, int batch,
                                            int length, int repeats);
};
constexpr const char* torch_research_symbol = "lmgc_torch_research_v1";

// The module's research table (loads the module); throws as torch_module_entry does.
const torch_research_api& torch_research();

} // namespace lmgc::detail
