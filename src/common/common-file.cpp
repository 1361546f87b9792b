// Sources read at offsets, output files written through a locked temporary, lazily backed
// buffers, and the whole-file helpers of the public API.
#include "common/common-file.hpp"

#include "common/common-error.hpp"
#include "common/common-parallel.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <new>
#include <pthread.h>
#include <stdexcept>
#include <string>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace lmgc {
namespace detail {
namespace {

// Temporary outputs alive now, for a signal handler to remove. Fixed storage and atomics
// only: remove_temporary_files() must be async-signal-safe. More outputs than slots at once
// simply go unregistered (their temporaries are still removed by the next run).
constexpr int temp_slots = 64;
constexpr std::size_t temp_path_max = 4096;
struct temp_registry {
    std::atomic<int> state[temp_slots]; // 0 free, 1 being written, 2 registered
    char path[temp_slots][temp_path_max];
};
temp_registry& temporaries() {
    static temp_registry r{};
    return r;
}

int register_temporary(const std::string& path) {
    if (path.size() >= temp_path_max) return -1;
    auto& r = temporaries();
    for (int i = 0; i < temp_slots; ++i) {
        int expected = 0;
        if (r.state[i].compare_exchange_strong(expected, 1)) {
            std::memcpy(r.path[i], path.c_str(), path.size() + 1);
            r.state[i].store(2);
            return i;
        }
    }
    return -1;
}

void unregister_temporary(int slot) {
    if (slot >= 0) temporaries().state[slot].store(0);
}

std::string errno_text(int e) {
    return std::strerror(e);
}

} // namespace

bytes byte_source::read(std::uint64_t offset, std::uint64_t n) const {
    bytes out(n);
    read_at(offset, out);
    return out;
}

void memory_source::read_at(std::uint64_t offset, std::span<std::uint8_t> out) const {
    LMGC_CHECK(offset <= data_.size() && out.size() <= data_.size() - offset, errc::corrupt,
               "read past the end of the data (", out.size(), " bytes at offset ", offset, " of ",
               data_.size(), ")");
    if (!out.empty()) std::memcpy(out.data(), data_.data() + offset, out.size());
}

file_source::file_source(const std::string& path, std::uint64_t stream_limit,
                         const prefix_check_fn& prefix_check)
    : path_(path) {
    fd_ = path == "-" ? ::dup(0) : ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    LMGC_CHECK(fd_ >= 0, errc::io, "cannot open '", path, "': ", errno_text(errno));
    struct stat st {};
    if (::fstat(fd_, &st) != 0) {
        const int e = errno;
        ::close(fd_);
        LMGC_FAIL(errc::io, "cannot read '", path, "': ", errno_text(e));
    }
    if (S_ISDIR(st.st_mode)) {
        ::close(fd_);
        LMGC_FAIL(errc::io, "cannot read '", path, "': ", errno_text(EISDIR));
    }
    if (S_ISREG(st.st_mode)) {
        size_ = static_cast<std::uint64_t>(st.st_size);
        return;
    }
    // A pipe or device: into memory, with a bound; the prefix is checked first.
    constexpr std::size_t prefix_bytes = 4096;
    std::uint8_t buf[1 << 16];
    bool checked = !prefix_check;
    for (;;) {
        const std::size_t want = checked ? sizeof buf : prefix_bytes - buffer_.size();
        const ssize_t n = ::read(fd_, buf, want);
        if (n < 0) {
            if (errno == EINTR) continue;
            const int e = errno;
            ::close(fd_);
            LMGC_FAIL(errc::io, "cannot read '", path, "': ", errno_text(e));
        }
        if (buffer_.size() + static_cast<std::size_t>(n) > stream_limit) {
            ::close(fd_);
            LMGC_FAIL(errc::bad_input, "'", path, "' is not a regular file and holds more than ",
                      stream_limit,
                      " bytes (a pipe or device is read into memory; write it to a "
                      "file first)");
        }
        buffer_.insert(buffer_.end(), buf, buf + n);
        if (!checked && (n == 0 || buffer_.size() >= prefix_bytes)) {
            checked = true;
            try {
                prefix_check(buffer_);
            } catch (...) {
                ::close(fd_);
                throw;
            }
        }
        if (n == 0) break;
    }
    size_ = buffer_.size();
    ::close(fd_);
    fd_ = -1;
}

file_source::~file_source() {
    if (map_) ::munmap(map_, static_cast<std::size_t>(size_));
    if (fd_ >= 0) ::close(fd_);
}

void file_source::read_at(std::uint64_t offset, std::span<std::uint8_t> out) const {
    LMGC_CHECK(offset <= size_ && out.size() <= size_ - offset, errc::corrupt, "'", path_,
               "': read past the end of the file (", out.size(), " bytes at offset ", offset, ")");
    if (fd_ < 0) {
        if (!out.empty()) std::memcpy(out.data(), buffer_.data() + offset, out.size());
        return;
    }
    std::size_t done = 0;
    while (done < out.size()) {
        const ssize_t n =
            ::pread(fd_, out.data() + done, out.size() - done, static_cast<off_t>(offset + done));
        if (n < 0 && errno == EINTR) continue;
        LMGC_CHECK(n >= 0, errc::io, "cannot read '", path_, "': ", errno_text(errno));
        LMGC_CHECK(n > 0, errc::io, "'", path_, "' became shorter while it was read");
        done += static_cast<std::size_t>(n);
    }
}

byte_span file_source::map() const {
    if (fd_ < 0 || size_ == 0) return buffer_;
    if (!map_) {
        void* p = ::mmap(nullptr, static_cast<std::size_t>(size_), PROT_READ, MAP_PRIVATE, fd_, 0);
        LMGC_CHECK(p != MAP_FAILED, errc::io, "cannot map '", path_, "': ", errno_text(errno));
        map_ = p;
    }
    return {static_cast<const std::uint8_t*>(map_), static_cast<std::size_t>(size_)};
}

output_file::output_file(const std::string& path, bool overwrite)
    : path_(path), overwrite_(overwrite) {
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode))
        LMGC_FAIL(errc::io, "'", path, "' is a directory");
    LMGC_CHECK(overwrite || ::lstat(path.c_str(), &st) != 0, errc::io, "'", path,
               "' already exists (use --force to overwrite)");
    LMGC_CHECK(!path.empty() && path.back() != '/', errc::io, "'", path, "' is not a file name");
    const auto slash = path.find_last_of('/');
    const std::string dir = slash == std::string::npos ? "" : path.substr(0, slash + 1);
    tmp_ = dir + "." + (slash == std::string::npos ? path : path.substr(slash + 1)) + ".lmgc-tmp";
    // Until the temporary is registered, a SIGINT/SIGTERM handler could not remove it: hold
    // those signals back (in this thread) while it is made.
    sigset_t hold, old_mask;
    sigemptyset(&hold);
    for (const int sig : {SIGINT, SIGTERM, SIGHUP}) sigaddset(&hold, sig);
    ::pthread_sigmask(SIG_BLOCK, &hold, &old_mask);
    struct restore_mask {
        sigset_t mask;
        ~restore_mask() { ::pthread_sigmask(SIG_SETMASK, &mask, nullptr); }
    } restore{old_mask};
    // The temporary is locked while written; one whose lock is free was left by a run that
    // died (locks die with their process): take it over.
    for (int attempt = 0; attempt < 3; ++attempt) {
        fd_ = ::open(tmp_.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd_ < 0 && errno == EEXIST) {
            const int old = ::open(tmp_.c_str(), O_RDWR | O_CLOEXEC);
            if (old >= 0) {
                const bool busy = ::flock(old, LOCK_EX | LOCK_NB) != 0;
                if (!busy) ::unlink(tmp_.c_str());
                ::close(old);
                LMGC_CHECK(!busy, errc::io, "another process is writing '", path, "' (", tmp_,
                           " is in use)");
            }
            continue;
        }
        LMGC_CHECK(fd_ >= 0, errc::io, "cannot create a file in '", dir.empty() ? "." : dir,
                   "': ", errno_text(errno));
        struct stat a {
        }, b{};
        if (::flock(fd_, LOCK_EX | LOCK_NB) == 0 && ::fstat(fd_, &a) == 0 &&
            ::stat(tmp_.c_str(), &b) == 0 && a.st_ino == b.st_ino && a.st_dev == b.st_dev)
            break; // ours, locked, and still the file of that name
        ::close(fd_);
        fd_ = -1;
    }
    LMGC_CHECK(fd_ >= 0, errc::io, "cannot create '", tmp_, "' (another process keeps taking it)");
    slot_ = register_temporary(tmp_);
}

output_file::~output_file() {
    if (fd_ >= 0) {
        ::unlink(tmp_.c_str());
        ::close(fd_);
    }
    unregister_temporary(slot_);
}

void output_file::fail(const char* what, int err) {
    LMGC_FAIL(errc::io, what, " '", path_, "': ", errno_text(err));
}

void output_file::write(byte_span data) {
    write_at(pos_, data);
    pos_ += data.size();
}

void output_file::write_at(std::uint64_t offset, byte_span data) {
    LMGC_ASSERT(fd_ >= 0);
    std::size_t done = 0;
    while (done < data.size()) {
        const ssize_t n = ::pwrite(fd_, data.data() + done, data.size() - done,
                                   static_cast<off_t>(offset + done));
        if (n < 0) {
            if (errno == EINTR) continue;
            fail("cannot write", errno);
        }
        done += static_cast<std::size_t>(n);
    }
}

void output_file::commit() {
    LMGC_ASSERT(fd_ >= 0);
    if (::fchmod(fd_, 0644) != 0) fail("cannot set permissions of", errno);
    if (overwrite_) {
        if (::rename(tmp_.c_str(), path_.c_str()) != 0) fail("cannot create", errno);
    } else {
        // link() fails if the target appeared meanwhile: never clobber without --force.
        if (::link(tmp_.c_str(), path_.c_str()) != 0) {
            const int e = errno;
            LMGC_CHECK(e != EEXIST, errc::io, "'", path_,
                       "' already exists (use --force to overwrite)");
            fail("cannot create", e);
        }
        ::unlink(tmp_.c_str());
    }
    const int fd = fd_;
    fd_ = -1; // committed: the destructor leaves the file alone
    unregister_temporary(slot_);
    slot_ = -1;
    if (::close(fd) != 0) fail("cannot write", errno);
}

namespace {
// The whole pages inside [p, p + n): [first, end), none (end <= first) when the range is
// shorter than a page or runs past the end of the address space.
struct page_range {
    std::uintptr_t page, first, end;
};
[[maybe_unused]] page_range whole_pages(const void* p, std::size_t n) noexcept {
    const std::uintptr_t page = static_cast<std::uintptr_t>(::sysconf(_SC_PAGESIZE));
    const auto b = reinterpret_cast<std::uintptr_t>(p);
    if (b > UINTPTR_MAX - n) return {page, 0, 0};
    return {page, (b + page - 1) & ~(page - 1), (b + n) & ~(page - 1)};
}
} // namespace

void advise_huge_pages(void* p, std::size_t n) noexcept {
#ifdef MADV_HUGEPAGE
    constexpr std::uintptr_t huge = std::uintptr_t{2} << 20;
    if (n < 2 * huge) return;
    // A huge page needs 2 MiB of the whole pages inside the range, aligned; the kernel finds
    // those.
    const page_range r = whole_pages(p, n);
    if (r.end > r.first)
        (void)::madvise(reinterpret_cast<void*>(r.first), r.end - r.first, MADV_HUGEPAGE);
#else
    (void)p, (void)n;
#endif
}

void reserve_large(bytes& b, std::size_t n) {
    if (n < (std::size_t{4} << 20) || n <= b.capacity()) return;
    try {
        b.reserve(n);
    } catch (const std::bad_alloc&) {
        return; // room is an optimization: without it the buffer grows as it is written
    } catch (const std::length_error&) {
        return;
    }
    advise_huge_pages(b.data() + b.size(), b.capacity() - b.size());
}

void populate_parallel(void* p, std::size_t n, int n_threads) noexcept {
#ifdef MADV_POPULATE_WRITE
    constexpr std::size_t min_part = std::size_t{8} << 20;
    const page_range r = whole_pages(p, n);
    const std::uintptr_t page = r.page, first = r.first, end = r.end;
    if (end <= first || n_threads < 2) return;
    const std::size_t parts =
        std::min<std::size_t>(static_cast<std::size_t>(n_threads), (end - first) / min_part);
    if (parts < 2) return;
    // Parts of whole pages; a kernel without the advice answers EINVAL, and the pages fault
    // as they are first written (an error here is never the caller's).
    const std::uintptr_t step = ((end - first) / parts + page - 1) & ~(page - 1);
    try {
        parallel_for(parts, static_cast<int>(parts), [&](std::size_t i) {
            const std::uintptr_t a = first + i * step, z = std::min(end, a + step);
            if (z > a) (void)::madvise(reinterpret_cast<void*>(a), z - a, MADV_POPULATE_WRITE);
        });
    } catch (...) {
        // no threads to be had: the pages fault as they are written
    }
#else
    (void)p, (void)n, (void)n_threads;
#endif
}

namespace {
constexpr std::size_t lazy_map_min = std::size_t{1} << 20;
}

lazy_buffer::lazy_buffer(std::size_t n) : size_(n) {
    if (n == 0) return;
    if (n >= lazy_map_min) {
        void* p = ::mmap(nullptr, n, PROT_READ | PROT_WRITE,
                         MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        LMGC_CHECK(p != MAP_FAILED, errc::unsupported, "cannot reserve ", n,
                   " bytes of memory for a chunk");
        data_ = static_cast<std::uint8_t*>(p);
        mapped_ = true;
        advise_huge_pages(p, n); // still taken as written, 2 MiB at a time where granted
    } else {
        data_ = new std::uint8_t[n]();
    }
}

lazy_buffer::~lazy_buffer() {
    if (mapped_)
        ::munmap(data_, size_);
    else
        delete[] data_;
}

lazy_buffer::lazy_buffer(lazy_buffer&& o) noexcept
    : data_(o.data_), size_(o.size_), mapped_(o.mapped_) {
    o.data_ = nullptr;
    o.size_ = 0;
    o.mapped_ = false;
}

lazy_buffer& lazy_buffer::operator=(lazy_buffer&& o) noexcept {
    if (this != &o) {
        this->~lazy_buffer();
        new (this) lazy_buffer(std::move(o));
    }
    return *this;
}

} // namespace detail

void remove_temporary_files() noexcept {
    auto& r = detail::temporaries();
    for (int i = 0; i < detail::temp_slots; ++i)
        if (r.state[i].load() == 2) ::unlink(r.path[i]);
}

std::vector<std::uint8_t> read_file(const std::string& path) {
    const detail::file_source f(path);
    if (!f.memory().empty() || f.size() == 0) return {f.memory().begin(), f.memory().end()};
    std::vector<std::uint8_t> data;
    try {
        data.resize(static_cast<std::size_t>(f.size()));
    } catch (const std::bad_alloc&) {
        LMGC_FAIL(errc::io, "not enough memory to read '", path, "' (", f.size(), " bytes)");
    }
    f.read_at(0, data);
    return data;
}

void write_file_atomic(const std::string& path, std::span<const std::uint8_t> data,
                       bool overwrite) {
    detail::output_file out(path, overwrite);
    out.write(data);
    out.commit();
}

} // namespace lmgc
