// The LibTorch module (liblmgc-torch.so): what needs LibTorch — the lm codec (the LLM prior),
// predict, analyze, the prefill benchmark and gradient collection — lives in a shared module
// loaded at run time, the first time a command needs it, so nothing else pays LibTorch's
// start-up (~290 shared libraries, ~0.9 s of CPU). This is the loader (core) and the codec
// table the module exports; module-research.hpp has the research table. Included by the codec
// registry, the research forwarders and the module's entry point.
#pragma once

#include "codecs/codec.hpp"

#include <memory>
#include <string>

namespace lmgc::detail {

constexpr const char* torch_module_file = "liblmgc-torch.so";

// Loads the module once per process and returns the address of one of its exported
// functions. Looks in $LMGC_TORCH_MODULE (a file), then beside the binary that holds this
// code, then in ../lib/lmgc/ from there. Throws lmgc::error(unsupported) saying what is
// missing and how to get it: the build has no module, the file is not there, it does not
// load (the message has dlerror's reason), or it comes from another lmgc build.
void* torch_module_entry(const char* symbol);
// Whether this build made the module at all (LibTorch was found at build time).
bool torch_module_built() noexcept;
// Whether the module loads (loads it if it can); never throws.
bool torch_module_available() noexcept;

// Every table the module exports starts with this, checked by the loader's users.
struct torch_module_stamp {
    std::uint32_t table_size; // sizeof the table in the module's build
    const char* lmgc_version; // LMGC_VERSION of the module's build
};
// Throws unsupported when a table was built by another lmgc.
void check_torch_module_stamp(const torch_module_stamp& s, std::uint32_t expected_size);

// The codec half, exported as "lmgc_torch_codec_v1" (returns a pointer to this).
struct torch_codec_api {
    torch_module_stamp stamp;
    std::unique_ptr<codec_i> (*make_codec_lm)(const codec_config& cfg);
};
constexpr const char* torch_codec_symbol = "lmgc_torch_codec_v1";

// The lm codec's factory in the codec table: the module's, loaded on first use.
std::unique_ptr<codec_i> make_codec_lm_from_module(const codec_config& cfg);

} // namespace lmgc::detail
