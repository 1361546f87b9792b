// Files in pieces: sources read at offsets (memory or a file, never the whole file at
// once), output files written through a temporary that only a commit puts in place, and
// buffers whose memory is taken only as they are written. Any file may include this.
#pragma once

#include "common/common-bytes.hpp"

#include <cstdint>
#include <functional>
#include <span>
#include <string>

namespace lmgc::detail {

// Bytes that can be read at any offset.
class byte_source {
  public:
    virtual ~byte_source() = default;
    virtual std::uint64_t size() const = 0;
    // Fills out with the bytes at [offset, offset + out.size()); throws lmgc::error (io for
    // a read error, or the corrupt/bad_input code given at construction when the range is
    // past the end). Thread-safe.
    virtual void read_at(std::uint64_t offset, std::span<std::uint8_t> out) const = 0;
    // The bytes as one span when they are in memory, else an empty span.
    virtual byte_span memory() const { return {}; }
    // The n bytes at offset where they already lie in memory in one piece (so that a reader
    // can skip its copy), else an empty span.
    virtual byte_span view(std::uint64_t offset, std::uint64_t n) const {
        const byte_span m = memory();
        return offset <= m.size() && n <= m.size() - offset ? m.subspan(offset, n) : byte_span{};
    }
    bytes read(std::uint64_t offset, std::uint64_t n) const;
};

class memory_source final : public byte_source {
  public:
    explicit memory_source(byte_span data) : data_(data) {}
    std::uint64_t size() const override { return data_.size(); }
    void read_at(std::uint64_t offset, std::span<std::uint8_t> out) const override;
    byte_span memory() const override { return data_; }

  private:
    byte_span data_;
};

// A file opened for reading. A regular file is read with pread; anything else (a pipe, a
// device, standard input as "-") is read into memory first, at most stream_limit bytes, so
// `lmgc compress /dev/zero` stops with a message instead of filling memory.
class file_source final : public byte_source {
  public:
    static constexpr std::uint64_t default_stream_limit = std::uint64_t{1} << 30;
    // prefix_check, if given, sees the first bytes of a non-regular file (up to 4 KiB, fewer
    // at its end) before the rest is read, and may throw to stop there (an unknown format).
    using prefix_check_fn = std::function<void(byte_span prefix)>;
    explicit file_source(const std::string& path, std::uint64_t stream_limit = default_stream_limit,
                         const prefix_check_fn& prefix_check = {});
    ~file_source() override;
    file_source(const file_source&) = delete;
    file_source& operator=(const file_source&) = delete;
    std::uint64_t size() const override { return size_; }
    void read_at(std::uint64_t offset, std::span<std::uint8_t> out) const override;
    byte_span memory() const override { return buffer_; }
    const std::string& path() const { return path_; }
    // The whole file as read-only memory (mapped for regular files; pages are read only when
    // touched). For the parsers, which look at headers only. Valid while this lives.
    byte_span map() const;

  private:
    std::string path_;
    int fd_ = -1;
    std::uint64_t size_ = 0;
    bytes buffer_; // the contents of a non-regular file
    mutable void* map_ = nullptr;
};

// An output file written through a temporary file in the same folder, named
// ".NAME.lmgc-tmp" and locked while in use: commit() moves it into place; destroying it
// uncommitted (an error, an exception) removes it, and the CLI's SIGINT/SIGTERM handler
// removes it through remove_temporary_files(). A temporary left by a killed run (its lock
// died with it) is removed by the next run that writes the same output.
class output_file {
  public:
    // Throws io when path exists and !overwrite, when the folder is not writable, or when
    // another live process is writing the same path.
    output_file(const std::string& path, bool overwrite);
    ~output_file();
    output_file(const output_file&) = delete;
    output_file& operator=(const output_file&) = delete;
    void write(byte_span data); // appends
    void write_at(std::uint64_t offset, byte_span data);
    void commit();
    const std::string& temp_path() const { return tmp_; }

  private:
    [[noreturn]] void fail(const char* what, int err);
    std::string path_, tmp_;
    int fd_ = -1;
    bool overwrite_ = false;
    std::uint64_t pos_ = 0;
    int slot_ = -1; // in the registry of temporaries for signal handlers
};

// Asks the kernel to back the memory [p, p + n) with huge pages when it is first written
// (Linux's transparent huge pages; many hosts give them only where asked). A fresh 4 KiB page
// costs a fault when first written, ~10 us on some virtual machines (measured: 350 MB/s to
// zero fresh memory, 10 GB/s with huge pages), more than coding the bytes. Does nothing for
// small ranges or where unsupported; the memory stays as it was.
void advise_huge_pages(void* p, std::size_t n) noexcept;
// For large buffers (4 MiB and up) written once: capacity for n bytes, advised for huge pages
// (none, and no error, when that much cannot be reserved).
void reserve_large(bytes& b, std::size_t n);
// Has the kernel map (and, fresh, clear) the pages of [p, p + n) now, on up to n_threads
// threads, so that the first write to them (a zero-fill by one thread, say) does not take
// every page fault in that thread; their contents do not change. Measured: in a 2-thread
// profile of in-memory compression and decompression at GB/s, 40% of the CPU time went to
// clearing fresh pages, 24 points of it in decompress()'s zero-fill (docs/levels.md,
// "Threads"). Does nothing for ranges under 8 MiB a thread or where the kernel lacks
// MADV_POPULATE_WRITE (Linux < 5.14): the pages then fault as they are written.
void populate_parallel(void* p, std::size_t n, int n_threads) noexcept;
// Room for the coding of `raw` bytes in the usual case (coded streams rarely exceed their raw
// size; a little more for incompressible chunks and the container).
constexpr std::uint64_t coded_room(std::uint64_t raw) {
    return raw + raw / 64 + 4096;
}

// A zero-filled buffer whose memory is taken as it is written: large ones are anonymous
// mappings, so a hostile header's claim costs address space, not memory, and decoding stops
// long before it is filled (decoders stop when their payload ends).
class lazy_buffer {
  public:
    lazy_buffer() = default;
    explicit lazy_buffer(std::size_t n);
    ~lazy_buffer();
    lazy_buffer(lazy_buffer&& o) noexcept;
    lazy_buffer& operator=(lazy_buffer&& o) noexcept;
    std::span<std::uint8_t> span() { return {data_, size_}; }
    std::size_t size() const { return size_; }

  private:
    std::uint8_t* data_ = nullptr;
    std::size_t size_ = 0;
    bool mapped_ = false;
};

} // namespace lmgc::detail
