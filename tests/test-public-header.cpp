// The public header compiles on its own and declares a usable API.
#include "lmgc/lmgc.hpp"

#include <gtest/gtest.h>

TEST(public_header, defaults_and_codecs) {
    const auto p = lmgc::default_compress_params();
    EXPECT_EQ(p.n_threads, 0);
    EXPECT_EQ(p.format, lmgc::input_format::auto_detect);
    bool has_default = false;
    for (const auto& c : lmgc::list_codecs()) has_default |= c.is_default && c.available;
    EXPECT_TRUE(has_default);
    EXPECT_STRNE(lmgc::version(), "");
}
