// Error raising for every stage: LMGC_CHECK throws lmgc::error with a message; the
// CLI boundary turns it into one line and an exit code. Any file may include this.
#pragma once

#include "lmgc/lmgc.hpp"

#include <sstream>
#include <string>

namespace lmgc::detail {

[[noreturn]] void throw_error(errc code, const std::string& msg, const char* file, int line);

// Joins the arguments with operator<< into one string.
template <typename... Args> std::string concat(const Args&... args) {
    std::ostringstream os;
    (os << ... << args);
    return os.str();
}

// Runs fn and, if it throws lmgc::error, rethrows with "stage: " prefixed to the message,
// the way a loader says which part failed.
template <typename Fn> decltype(auto) with_context(const std::string& stage, Fn&& fn) {
    try {
        return fn();
    } catch (const error& e) {
        throw error(e.code(), stage + ": " + e.what());
    }
}

} // namespace lmgc::detail

// Throws lmgc::error(code, message) when cond is false. The message arguments are only
// evaluated on failure and are joined with operator<<.
#define LMGC_CHECK(cond, code, ...)                                                                \
    do {                                                                                           \
        if (!(cond)) [[unlikely]]                                                                  \
            ::lmgc::detail::throw_error((code), ::lmgc::detail::concat(__VA_ARGS__), __FILE__,     \
                                        __LINE__);                                                 \
    } while (0)

#define LMGC_FAIL(code, ...)                                                                       \
    ::lmgc::detail::throw_error((code), ::lmgc::detail::concat(__VA_ARGS__), __FILE__, __LINE__)

// Internal invariants; compiled out in release builds (NDEBUG).
#ifdef NDEBUG
#define LMGC_ASSERT(cond) ((void)0)
#else
#define LMGC_ASSERT(cond) LMGC_CHECK(cond, ::lmgc::errc::internal, "assertion failed: " #cond)
#endif
