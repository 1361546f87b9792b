// The lmgc subcommands, one function each: argv (after the subcommand) -> exit code.
#pragma once

#include "cli-common.hpp"

namespace lmgc::cli {

int cmd_compress(const args_t& args);
int cmd_decompress(const args_t& args);
int cmd_info(const args_t& args);
int cmd_codecs(const args_t& args);
int cmd_collect(const args_t& args);

} // namespace lmgc::cli
