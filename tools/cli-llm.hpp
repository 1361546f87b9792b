// The LLM options shared by compress/decompress (cli-compress.cpp) and the llm subcommands.
#pragma once

#include "cli-args.hpp"
#include "lmgc/research.hpp"

namespace lmgc::cli {

// Adds --model, --serialization, --bytes-per-group, --tokens, --context, --batch, --device,
// --dtype to p (decoding: only --model, --device, and the rest to be refused on mismatch).
void add_llm_options(arg_parser& p, experimental::llm_settings& s, bool decoding);
// Tokens per byte of the symbol scheme (an estimate for canonical tokens), for the progress bar.
double llm_tokens_per_byte(const experimental::llm_settings& s);

} // namespace lmgc::cli
