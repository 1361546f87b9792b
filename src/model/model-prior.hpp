// The prior interface: a model that, given the symbols seen so far, yields an integer
// frequency table for the next one (DESIGN.md's "prior"). The LLM prior (symbols = tokens)
// and the context-mixing prior (symbols = binary decisions) implement it; a generic driver
// codes any prior with the range coder. Included by model/ and by the codecs that drive one.
#pragma once

#include "common/common-cdf.hpp"

#include <cstddef>

namespace lmgc::detail {

// Coding with a prior, encoder and decoder alike:
//   for each symbol: cdf = predict(); code symbol s against cdf; update(s);
// Both sides must see bit-identical tables, so implementations compute them with integer
// arithmetic (or with a deterministic evaluation the header pins down).
class model_prior_i {
  public:
    virtual ~model_prior_i() = default;
    // Frequency table of the next symbol, given every symbol fed to update() since the last
    // reset(). Every symbol that may occur has frequency >= 1. The view stays valid until
    // the next call on this object. The alphabet may change from one step to the next.
    virtual cdf_view predict() = 0;
    // Feeds the symbol that occurred; it must be < predict().n_symbols().
    virtual void update(std::size_t symbol) = 0;
    // Back to the state before the first symbol.
    virtual void reset() = 0;
};

} // namespace lmgc::detail
