// The lmgc subcommands, one function each: argv (after the subcommand) -> exit code.
#pragma once

#include "cli-common.hpp"

namespace lmgc::cli {

int cmd_compress(const args_t& args);
int cmd_decompress(const args_t& args);
int cmd_info(const args_t& args);
int cmd_codecs(const args_t& args);
int cmd_bench(const args_t& args); // tools/cli-bench.cpp
int cmd_serialize(const args_t& args);
int cmd_deserialize(const args_t& args);
int cmd_tokenize(const args_t& args);
int cmd_tokens(const args_t& args);
int cmd_collect(const args_t& args);
int cmd_predict(const args_t& args);
int cmd_analyze(const args_t& args);
int cmd_random_model(const args_t& args);

} // namespace lmgc::cli
