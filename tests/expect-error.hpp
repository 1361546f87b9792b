// A gtest check that a call throws lmgc::error with a given code and a message naming the
// problem. Header-only: testutil.cpp is also linked into the fuzz targets, which have no gtest.
#pragma once

#include "lmgc/lmgc.hpp"

#include <gtest/gtest.h>

#include <functional>
#include <string>

namespace lmgc::test {

inline void expect_error(const std::function<void()>& fn, errc code, const std::string& needle) {
    try {
        fn();
        ADD_FAILURE() << "no error; wanted one mentioning '" << needle << "'";
    } catch (const error& e) {
        EXPECT_EQ(e.code(), code) << e.what();
        EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
}

} // namespace lmgc::test
