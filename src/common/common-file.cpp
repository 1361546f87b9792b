// Whole-file reads and atomic writes (temporary file in the same folder, then rename or link),
// so an interrupted or failed run never leaves a partial output behind.
#include "common/common-error.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <string>
#include <sys/stat.h>
#include <unistd.h>

namespace lmgc {

std::vector<std::uint8_t> read_file(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    LMGC_CHECK(fd >= 0, errc::io, "cannot open '", path, "': ", std::strerror(errno));
    struct stat st {};
    if (::fstat(fd, &st) != 0 || S_ISDIR(st.st_mode)) {
        const int e = S_ISDIR(st.st_mode) ? EISDIR : errno;
        ::close(fd);
        LMGC_FAIL(errc::io, "cannot read '", path, "': ", std::strerror(e));
    }
    std::vector<std::uint8_t> data;
    try {
        data.reserve(static_cast<std::size_t>(st.st_size));
    } catch (const std::bad_alloc&) {
        ::close(fd);
        LMGC_FAIL(errc::io, "not enough memory to read '", path, "' (", st.st_size, " bytes)");
    }
    std::uint8_t buf[1 << 16];
    for (;;) {
        const ssize_t n = ::read(fd, buf, sizeof buf);
        if (n == 0) break;
        if (n < 0) {
            if (errno == EINTR) continue;
            const int e = errno;
            ::close(fd);
            LMGC_FAIL(errc::io, "cannot read '", path, "': ", std::strerror(e));
        }
        data.insert(data.end(), buf, buf + n);
    }
    ::close(fd);
    return data;
}

void write_file_atomic(const std::string& path, std::span<const std::uint8_t> data,
                       bool overwrite) {
    struct stat st {};
    LMGC_CHECK(overwrite || ::lstat(path.c_str(), &st) != 0, errc::io, "'", path,
               "' already exists (use --force to overwrite)");
    const auto slash = path.find_last_of('/');
    const std::string dir = slash == std::string::npos ? "." : path.substr(0, slash + 1);
    const std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
    std::string tmp =
        (slash == std::string::npos ? std::string() : dir) + "." + base + ".tmp.XXXXXX";
    const int fd = ::mkstemp(tmp.data());
    LMGC_CHECK(fd >= 0, errc::io, "cannot create a file in '", dir, "': ", std::strerror(errno));
    auto fail = [&](const char* what) {
        const int e = errno;
        ::close(fd);
        ::unlink(tmp.c_str());
        LMGC_FAIL(errc::io, what, " '", path, "': ", std::strerror(e));
    };
    std::size_t done = 0;
    while (done < data.size()) {
        const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
        if (n < 0) {
            if (errno == EINTR) continue;
            fail("cannot write");
        }
        done += static_cast<std::size_t>(n);
    }
    if (::fchmod(fd, 0644) != 0) fail("cannot set permissions of");
    if (::close(fd) != 0) {
        const int e = errno;
        ::unlink(tmp.c_str());
        LMGC_FAIL(errc::io, "cannot write '", path, "': ", std::strerror(e));
    }
    if (overwrite) {
        if (::rename(tmp.c_str(), path.c_str()) != 0) {
            const int e = errno;
            ::unlink(tmp.c_str());
            LMGC_FAIL(errc::io, "cannot create '", path, "': ", std::strerror(e));
        }
        return;
    }
    // link() fails if the target appeared meanwhile: never clobber without --force.
    if (::link(tmp.c_str(), path.c_str()) != 0) {
        const int e = errno;
        ::unlink(tmp.c_str());
        LMGC_CHECK(e != EEXIST, errc::io, "'", path, "' already exists (use --force to overwrite)");
        LMGC_FAIL(errc::io, "cannot create '", path, "': ", std::strerror(e));
    }
    ::unlink(tmp.c_str());
}

} // namespace lmgc
