// lmgc experimental API: calls for the CLI's research subcommands (serialization, tokens,
// model inspection, gradient collection, experiments). May change between versions.
// Each section belongs to one pipeline stage.
#pragma once

#include "lmgc/lmgc.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace lmgc::experimental {

} // namespace lmgc::experimental
