// Error helpers shared by all stages.
#include "common/common-error.hpp"

#include <cstdlib>

namespace lmgc {

const char* errc_name(errc code) noexcept {
    switch (code) {
    case errc::ok:
        return "ok";
    case errc::io:
        return "i/o error";
    case errc::bad_input:
        return "bad input";
    case errc::corrupt:
        return "corrupt file";
    case errc::unsupported:
        return "unsupported";
    case errc::usage:
        return "usage";
    case errc::mismatch:
        return "mismatch";
    case errc::internal:
        return "internal error";
    }
    return "unknown error";
}

namespace detail {

void throw_error(errc code, const std::string& msg, const char* file, int line) {
    // file:line is only useful for internal errors; users get the message alone unless
    // LMGC_DEBUG is set.
    if (code == errc::internal || std::getenv("LMGC_DEBUG") != nullptr)
        throw error(code, msg + " [" + file + ":" + std::to_string(line) + "]");
    throw error(code, msg);
}

} // namespace detail
} // namespace lmgc
