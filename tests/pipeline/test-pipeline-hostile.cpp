// Hostile .lmgc files with valid checksums whose claims do not add up (issue 10): each is
// refused with corrupt within 5 s, and the process decoding it never takes more than 64 MiB
// beyond what decoding a small valid file takes. Each case runs in a child process whose
// peak resident memory the kernel reports (wait4).
#include "common/common-checksum.hpp"
#include "container/container-format.hpp"
#include "lmgc/lmgc.hpp"
#include "testutil.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

using namespace lmgc;
using namespace lmgc::detail;
using namespace lmgc::test;

namespace {

struct child_result {
    int code = -1; // the errc the child saw (0: decoded fine), or -1 if it crashed
    long peak_kib = 0;
    double seconds = 0;
};

// Decompresses image in a child process (to memory or to a file).
child_result decode_in_child(const bytes& image, bool to_file) {
    const auto path = ::testing::TempDir() + "hostile-" + std::to_string(::getpid()) + ".lmgc";
    write_bytes(path, image);
    const auto t0 = std::chrono::steady_clock::now();
    const pid_t pid = ::fork();
    if (pid == 0) {
        int code = 0;
        try {
            auto p = default_decompress_params();
            p.n_threads = 2;
            if (to_file)
                decompress_file(path, path + ".out", p, true);
            else
                (void)decompress(image, p);
        } catch (const error& e) {
            code = static_cast<int>(e.code());
        } catch (...) {
            code = 100;
        }
        ::_exit(code);
    }
    int status = 0;
    rusage ru{};
    ::wait4(pid, &status, 0, &ru);
    child_result r;
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    r.peak_kib = ru.ru_maxrss;
    ::unlink(path.c_str());
    ::unlink((path + ".out").c_str());
    return r;
}

// A real chunk: the payload of a 4 KiB f32 chunk, coded by `codec`.
struct real_chunk {
    bytes payload;
    std::uint32_t raw_crc;
    std::vector<codec_option> params; // what the codec records for its decoder
};
real_chunk real_chunk_of(const std::string& codec) {
    const auto values = float_bytes(gradient_like(1024, 3));
    auto p = default_compress_params();
    p.codec = codec;
    p.format = input_format::raw;
    const auto image = compress(values, p);
    const auto v = read_container(image);
    const auto& c = v.header.chunks.at(0);
    return {bytes(image.begin() + static_cast<std::ptrdiff_t>(c.file_offset),
                  image.begin() + static_cast<std::ptrdiff_t>(c.file_offset + c.coded_bytes)),
            c.crc32c, v.header.streams.at(0).params};
}

// A raw-f32 file claiming `claimed` bytes in one stream of `chunk_bytes` chunks, the first
// holding a small real payload; all checksums are valid.
bytes claiming(std::uint64_t claimed, std::uint64_t chunk_bytes, const std::string& codec) {
    const auto rc = real_chunk_of(codec);
    container_header h;
    h.format = source_format::raw;
    h.original_bytes = claimed;
    container_stream s;
    s.codec = codec;
    s.type = dtype::f32;
    s.raw_bytes = claimed;
    s.chunk_bytes = chunk_bytes;
    s.params = rc.params;
    h.streams.push_back(s);
    container_tensor t;
    t.name = "data";
    t.type = dtype::f32;
    t.shape = {static_cast<std::int64_t>(claimed / 4)};
    t.nbytes = claimed;
    t.stream_bytes = claimed;
    h.tensors.push_back(t);
    h.chunks = chunks_of_streams(h.streams, ~std::uint64_t{0});
    for (auto& c : h.chunks) c.crc32c = rc.raw_crc;
    h.original_crc32c = rc.raw_crc; // right when the file is that one chunk
    // The first chunk holds the real payload, the others nothing (the file stays small).
    std::vector<bytes> payloads(h.chunks.size());
    payloads.at(0) = rc.payload;
    return write_container(h, payloads);
}

class hostile : public ::testing::TestWithParam<std::string> {};

} // namespace

TEST_P(hostile, claims_that_do_not_add_up_are_refused_fast_with_little_memory) {
    const std::string codec = GetParam();
    bool built = false;
    for (const auto& c : list_codecs()) built = built || (c.name == codec && c.available);
    if (!built) GTEST_SKIP() << codec << " not built in";
    // The footprint of decoding a small valid file, from the same parent state.
    const auto valid = claiming(4096, 4096, codec);
    const auto base = decode_in_child(valid, false);
    ASSERT_EQ(base.code, 0) << "the valid file must decode";

    struct hostile_case {
        const char* what;
        std::uint64_t claimed, chunk;
    };
    const hostile_case cases[] = {
        {"2^26 bytes in 1 MiB chunks", std::uint64_t{1} << 26, std::uint64_t{1} << 20},
        {"2^32 bytes in 1 MiB chunks", std::uint64_t{1} << 32, std::uint64_t{1} << 20},
        {"2^30 bytes in one chunk", std::uint64_t{1} << 30, 0},
        {"2^30 bytes in 256 MiB chunks", std::uint64_t{1} << 30, std::uint64_t{256} << 20},
    };
    for (const auto& hc : cases) {
        SCOPED_TRACE(hc.what);
        const auto image = claiming(hc.claimed, hc.chunk, codec);
        ASSERT_LT(image.size(), std::size_t{1} << 20) << "the hostile file should be small";
        for (const bool to_file : {false, true}) {
            SCOPED_TRACE(to_file ? "to a file" : "in memory");
            // The image API allocates the whole claimed output (it returns it): not for these.
            if (!to_file && hc.claimed >= (std::uint64_t{1} << 28)) continue;
            const auto r = decode_in_child(image, to_file);
            EXPECT_EQ(r.code, static_cast<int>(errc::corrupt));
            EXPECT_LT(r.seconds, 5.0);
            if (to_file) {
                EXPECT_LE(r.peak_kib - base.peak_kib, 64 * 1024)
                    << "peak " << r.peak_kib << " KiB, a valid file took " << base.peak_kib;
            }
        }
    }
}

INSTANTIATE_TEST_SUITE_P(codecs, hostile,
                         ::testing::Values("cm", "fast", "planes", "zstd", "lzma", "gzip", "store"),
                         [](const auto& p) { return p.param; });

TEST(hostile_index, chunk_counts_beyond_the_index_are_refused_before_allocating) {
    // Streams implying 2^32 chunks of 8 bytes: refused from the index size alone.
    auto image = claiming(4096, 4096, "store");
    auto v = read_container(image);
    auto h = v.header;
    h.streams[0].raw_bytes = h.original_bytes = std::uint64_t{1} << 35;
    h.streams[0].chunk_bytes = 8;
    h.tensors[0].nbytes = h.tensors[0].stream_bytes = h.original_bytes;
    h.tensors[0].shape = {static_cast<std::int64_t>(h.original_bytes / 4)};
    h.chunks.resize(1);
    const auto bad = write_container(h, std::vector<bytes>(1, bytes(8, 0)));
    const auto t0 = std::chrono::steady_clock::now();
    try {
        (void)inspect(bad);
        FAIL() << "accepted";
    } catch (const error& e) {
        EXPECT_EQ(e.code(), errc::corrupt);
        EXPECT_NE(std::string(e.what()).find("index"), std::string::npos) << e.what();
    }
    EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 1.0);
}
