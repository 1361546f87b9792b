// The codec benchmark: one run over several files and codecs, rates that match what
// compress() writes, both chunking modes, clear errors; and the `lmgc bench` command.
#include "codecs/codec.hpp"
#include "lmgc/lmgc.hpp"
#include "lmgc/research.hpp"
#include "testutil.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <random>
#include <tuple>

using namespace lmgc;
using namespace lmgc::test;

namespace {

struct fixture_files {
    temp_dir dir;
    std::vector<std::string> paths;
    std::vector<bytes> data;
    fixture_files() {
        std::mt19937_64 rng(5);
        bytes idx(64);
        for (auto& b : idx) b = static_cast<std::uint8_t>(rng());
        data.push_back(make_npy("<f4", {4000}, float_bytes(gradient_like(4000, 1))));
        data.push_back(
            make_safetensors({{"w", "F32", {50, 20}, float_bytes(gradient_like(1000, 2))},
                              {"idx", "I64", {8}, idx}}));
        for (std::size_t i = 0; i < data.size(); ++i) {
            paths.push_back(dir.file(i ? "b.safetensors" : "a.npy"));
            write_bytes(paths.back(), data[i]);
        }
    }
};

bool built_in(const std::string& name) {
    for (const auto& c : list_codecs())
        if (c.name == name) return c.available;
    return false;
}

errc error_of(const std::vector<std::string>& files, const experimental::codec_bench_params& p) {
    try {
        experimental::bench_codecs(files, p);
    } catch (const error& e) {
        return e.code();
    }
    return errc::ok;
}

} // namespace

TEST(bench_codecs, rates_match_compress_and_modes_are_separate) {
    if (!built_in("gzip") || !built_in("zstd")) GTEST_SKIP() << "needs gzip and zstd";
    fixture_files f;
    auto p = experimental::default_codec_bench_params();
    EXPECT_EQ(p.n_threads, 1);
    p.codecs = {"store", "gzip", "zstd"};
    p.chunk_bytes = {0, 512};
    p.repeats = 2;
    std::uint64_t calls = 0;
    p.progress = [&](std::uint64_t done, std::uint64_t total) {
        EXPECT_EQ(total, 6u * 3); // a warm-up and 2 timed passes of each
        EXPECT_EQ(done, calls + (done ? 1 : 0));
        calls = done;
    };
    const auto res = experimental::bench_codecs(f.paths, p);
    ASSERT_EQ(res.size(), 6u);
    EXPECT_EQ(calls, 6u * 3);
    for (std::size_t i = 0; i < res.size(); ++i) {
        const auto& r = res[i];
        SCOPED_TRACE(r.codec + " " + std::to_string(r.chunk_bytes));
        EXPECT_EQ(r.codec, p.codecs[i / 2]);
        EXPECT_EQ(r.chunk_bytes, p.chunk_bytes[i % 2]);
        EXPECT_EQ(r.tensor_bytes, 4000u * 4 + 1000u * 4 + 64);
        // The same sizes as compressing each file on its own.
        std::uint64_t out = 0;
        for (const auto& d : f.data) {
            auto cp = default_compress_params();
            cp.codec = r.codec;
            cp.unchunked = r.chunk_bytes == 0;
            cp.chunk_bytes = r.chunk_bytes;
            out += compress(d, cp).size();
        }
        EXPECT_EQ(r.output_bytes, out);
        EXPECT_LT(r.payload_bytes, r.output_bytes);
        EXPECT_DOUBLE_EQ(r.rate_percent, 100.0 * static_cast<double>(r.output_bytes) /
                                             static_cast<double>(r.tensor_bytes));
        EXPECT_GT(r.compress_mbps_best, 0);
        EXPECT_GE(r.compress_mbps_best, r.compress_mbps_median);
        EXPECT_GE(r.decompress_mbps_best, r.decompress_mbps_median);
        EXPECT_GT(r.decompress_mbps_median, 0);
    }
    EXPECT_GT(res[0].rate_percent, 100.0); // store only adds the container
    EXPECT_LT(res[2].rate_percent, 100.0); // gzip compresses gradients
    EXPECT_LT(res[2].payload_rate_percent, res[3].payload_rate_percent); // chunks cost
}

TEST(bench_codecs, fallback_codec_is_reported) {
    fixture_files f;
    auto p = experimental::default_codec_bench_params();
    p.repeats = 1;
    if (!built_in("fpzip")) GTEST_SKIP() << "fpzip not built in";
    p.codecs = {"fpzip"};
    const auto res = experimental::bench_codecs(f.paths, p);
    ASSERT_EQ(res.size(), 1u);
    // The I64 tensor goes to the byte codec.
    EXPECT_EQ(res[0].codecs_used, "fpzip+" + std::string(detail::byte_codec_name()));
}

TEST(bench_codecs, bad_requests_are_errors) {
    fixture_files f;
    auto p = experimental::default_codec_bench_params();
    p.codecs = {"store"};
    EXPECT_EQ(error_of({}, p), errc::usage);
    EXPECT_EQ(error_of({f.dir.file("missing.npy")}, p), errc::io);
    p.repeats = 0;
    EXPECT_EQ(error_of(f.paths, p), errc::usage);
    p.repeats = 1;
    p.codecs = {"nope"};
    EXPECT_EQ(error_of(f.paths, p), errc::usage);
    temp_dir d;
    write_bytes(d.file("junk.npy"), bytes{1, 2, 3});
    p.codecs = {"store"};
    EXPECT_EQ(error_of({d.file("junk.npy")}, p), errc::bad_input);
}

TEST(bench_codecs, cli_prints_a_table_of_both_modes) {
    if (!built_in("gzip")) GTEST_SKIP() << "needs gzip";
    fixture_files f;
    std::string out;
    ASSERT_EQ(run(lmgc_bin() + " bench codecs " + f.paths[0] + " " + f.paths[1] +
                      " --codecs gzip,store --chunk-bytes 0,512 -r 1",
                  &out),
              0)
        << out;
    EXPECT_NE(out.find("| codec"), std::string::npos) << out;
    EXPECT_NE(out.find("| gzip  | unchunked"), std::string::npos) << out;
    EXPECT_NE(out.find("| gzip  | 512 B chunks"), std::string::npos) << out;
    EXPECT_NE(out.find("| store | 512 B chunks"), std::string::npos) << out;
    EXPECT_EQ(run(lmgc_bin() + " bench", &out), 2) << out;
    EXPECT_EQ(run(lmgc_bin() + " bench nosuchmode", &out), 2) << out;
    EXPECT_EQ(run(lmgc_bin() + " bench codecs", &out), 2) << out;
    EXPECT_EQ(run(lmgc_bin() + " bench codecs " + f.paths[0] + " --codecs nope", &out), 2) << out;
    EXPECT_EQ(run(lmgc_bin() + " bench codecs " + f.paths[0] + " --chunk-bytes 5x", &out), 2)
        << out;
    EXPECT_EQ(run(lmgc_bin() + " bench codecs " + f.dir.file("missing.npy"), &out), 1) << out;
    EXPECT_EQ(run(lmgc_bin() + " bench --help", &out), 0) << out;
    EXPECT_NE(out.find("codecs"), std::string::npos);
}

// ---------------------------------------------------------------------------------------
// Pareto: specs with settings and levels, dominance, thread scaling, the report.

TEST(bench_codecs, specs_with_settings_and_levels) {
    if (!built_in("zstd")) GTEST_SKIP() << "needs zstd";
    auto s = experimental::parse_codec_bench_spec("zstd:level=19");
    EXPECT_EQ(s.codec, "zstd");
    EXPECT_EQ(s.label, "zstd:level=19");
    EXPECT_EQ(s.level, 0);
    ASSERT_EQ(s.options.size(), 1u);
    EXPECT_EQ(s.options[0], (codec_option{"level", "19"}));
    if (built_in("lzma")) {
        // "level" is lzma's preset.
        s = experimental::parse_codec_bench_spec("lzma:level=6");
        EXPECT_EQ(s.label, "lzma:preset=6");
    }
    const auto levels = list_levels();
    ASSERT_GE(levels.size(), 3u);
    for (const char* spec : {"-3", "level:3"}) {
        s = experimental::parse_codec_bench_spec(spec);
        EXPECT_EQ(s.level, 3);
        EXPECT_EQ(s.label, "lmgc -3");
        EXPECT_EQ(s.codec, levels[2].codec);
        EXPECT_EQ(s.options, levels[2].codec_params);
    }
    EXPECT_EQ(experimental::codec_bench_level_specs().size(), levels.size());
    for (const auto& c : experimental::codec_bench_classical_specs())
        EXPECT_NO_THROW(experimental::parse_codec_bench_spec(c)) << c;
    for (const char* bad : {"level:0", "level:10", "-x", "level:", "zstd:nope=1", "zstd:level",
                            "zstd:=3", "nope", ""}) {
        errc code = errc::ok;
        try {
            experimental::parse_codec_bench_spec(bad);
        } catch (const error& e) {
            code = e.code();
        }
        EXPECT_EQ(code, errc::usage) << bad;
    }
}

TEST(bench_codecs, dominance_on_constructed_points) {
    using experimental::pareto_point;
    // rate, compress MB/s, decompress MB/s
    const std::vector<pareto_point> pts = {
        {50, 100, 100}, // 0: dominates 1, 3 and 4
        {60, 50, 50},   // 1: worse than 0, 3 and 4 in all three
        {40, 10, 10},   // 2: smaller than all: on the front
        {50, 100, 90},  // 3: worse in decompress alone
        {50, 100, 100}, // 4: the same as 0: neither dominates the other
        {55, 200, 20},  // 5: faster compress, slower decompress than 0: on the front
        {70, 40, 15},   // 6: dominated by all but 2 (slower compress)
    };
    EXPECT_TRUE(experimental::pareto_dominates(pts[0], pts[1]));
    EXPECT_FALSE(experimental::pareto_dominates(pts[1], pts[0]));
    EXPECT_FALSE(experimental::pareto_dominates(pts[0], pts[4]));
    EXPECT_FALSE(experimental::pareto_dominates(pts[0], pts[0]));
    const auto d = experimental::pareto_dominated_by(pts);
    ASSERT_EQ(d.size(), pts.size());
    using v = std::vector<std::size_t>;
    EXPECT_EQ(d[0], v{});
    EXPECT_EQ(d[1], (v{0, 3, 4}));
    EXPECT_EQ(d[2], v{});
    EXPECT_EQ(d[3], (v{0, 4}));
    EXPECT_EQ(d[4], v{});
    EXPECT_EQ(d[5], v{});
    EXPECT_EQ(d[6], (v{0, 1, 3, 4, 5}));
}

namespace {

experimental::codec_bench_result point(const std::string& label, int level,
                                       const std::string& codec, double rate, double c, double d,
                                       int threads = 1) {
    experimental::codec_bench_result r;
    r.codec = r.label = label;
    r.codec_name = codec;
    r.level = level;
    r.n_threads = threads;
    r.tensor_bytes = 1000000;
    r.rate_percent = rate;
    r.compress_mbps_best = r.compress_mbps_median = c;
    r.decompress_mbps_best = r.decompress_mbps_median = d;
    return r;
}

} // namespace

TEST(bench_codecs, report_says_which_classical_codecs_a_level_dominates) {
    experimental::codec_bench_set s;
    s.name = "files";
    s.files = {"a.npy"};
    // At 1 thread: "lmgc -1" dominates gzip; lzma is smaller than every level; cm (named
    // directly, not classical) dominates zstd, which no level does.
    s.results = {point("lmgc -1", 1, "shuffle-zstd", 50, 100, 200),
                 point("lmgc -1", 1, "shuffle-zstd", 50, 150, 300, 2),
                 point("lmgc -5", 5, "cm", 45, 5, 5),
                 point("lmgc -5", 5, "cm", 45, 9, 9, 2),
                 point("gzip:level=9", 0, "gzip", 60, 20, 150),
                 point("gzip:level=9", 0, "gzip", 60, 20, 150, 2),
                 point("lzma:preset=9", 0, "lzma", 40, 2, 50),
                 point("lzma:preset=9", 0, "lzma", 40, 2, 50, 2),
                 point("cm", 0, "cm", 44, 30, 30),
                 point("cm", 0, "cm", 44, 30, 30, 2),
                 point("zstd:level=19", 0, "zstd", 46, 3, 25),
                 point("zstd:level=19", 0, "zstd", 46, 3, 25, 2)};
    auto md = experimental::codec_bench_markdown({s}, 3);
    // Table cells without their padding.
    for (auto p = md.find("  "); p != std::string::npos; p = md.find("  ")) md.erase(p, 1);
    EXPECT_NE(md.find("- gzip:level=9: by lmgc -1\n"), std::string::npos) << md;
    EXPECT_NE(md.find("- zstd:level=19: by cm\n"), std::string::npos) << md;
    EXPECT_EQ(md.find("- lzma:preset=9: by"), std::string::npos) << md;
    EXPECT_NE(md.find("Classical codecs dominated by an lmgc level: 1 of 3."), std::string::npos)
        << md;
    EXPECT_NE(md.find("Classical codecs not dominated by an lmgc level: lzma:preset=9, "
                      "zstd:level=19\n"),
              std::string::npos)
        << md;
    EXPECT_NE(md.find("lmgc -5 (cm)"), std::string::npos) << md;
    // Thread scaling: 150 / (2 x 100) and 300 / (2 x 200).
    EXPECT_NE(md.find("Thread scaling"), std::string::npos) << md;
    EXPECT_NE(md.find("| 100.0 "), std::string::npos) << md;
    EXPECT_NE(md.find("| 150.0 | 0.75 "), std::string::npos) << md;
    EXPECT_NE(md.find("| 300.0 | 0.75 "), std::string::npos) << md;
    // Dominance only among the 1-thread points: the CSV marks gzip at 1 thread alone.
    const auto csv = experimental::codec_bench_csv({s});
    EXPECT_NE(csv.find(",gzip,,0,classical,unchunked,0,1,"), std::string::npos) << csv;
    std::size_t n_dominated = 0;
    for (std::size_t p = csv.find("lmgc -1\n"); p != std::string::npos;
         p = csv.find("lmgc -1\n", p + 1))
        ++n_dominated;
    EXPECT_EQ(n_dominated, 1u) << csv;
}

TEST(bench_codecs, levels_and_thread_counts_run_side_by_side) {
    if (!built_in("zstd")) GTEST_SKIP() << "needs zstd";
    fixture_files f;
    auto p = experimental::default_codec_bench_params();
    p.codecs = {"-1", "zstd:level=1"};
    p.thread_counts = {1, 2};
    p.chunk_bytes = {experimental::codec_bench_default_chunks};
    p.repeats = 1;
    const auto res = experimental::bench_codecs(f.paths, p);
    ASSERT_EQ(res.size(), 4u);
    EXPECT_EQ(res[0].label, "lmgc -1");
    EXPECT_EQ(res[0].level, 1);
    EXPECT_EQ(res[0].n_threads, 1);
    EXPECT_EQ(res[1].n_threads, 2);
    EXPECT_EQ(res[2].label, "zstd:level=1");
    EXPECT_EQ(res[2].codec_name, "zstd");
    // The sizes `lmgc compress -1` and `--codec zstd --set level=1` give.
    for (const auto& [i, level, codec] :
         {std::tuple{0, 1, std::string()}, std::tuple{2, 0, std::string("zstd")}}) {
        std::uint64_t out = 0;
        for (const auto& d : f.data) {
            auto cp = default_compress_params();
            cp.level = level;
            cp.codec = codec;
            if (!codec.empty()) cp.codec_options = {{"level", "1"}};
            out += compress(d, cp).size();
        }
        EXPECT_EQ(res[static_cast<std::size_t>(i)].output_bytes, out) << i;
        EXPECT_EQ(res[static_cast<std::size_t>(i) + 1].output_bytes, out) << i;
    }
    p.codecs = {"-1", "level:1"};
    EXPECT_EQ(error_of(f.paths, p), errc::usage); // the same label twice
}

TEST(bench_codecs, cli_out_writes_csv_table_and_plots) {
    if (!built_in("zstd") || !built_in("gzip")) GTEST_SKIP() << "needs zstd and gzip";
    fixture_files f;
    temp_dir out;
    const std::string dir = out.file("report");
    std::string text;
    const std::string cmd = lmgc_bin() + " bench codecs " + f.paths[0] +
                            " --codecs -1,zstd:level=1,gzip:level=1 -r 1 -t 1,2 --out " + dir;
    ASSERT_EQ(run(cmd, &text), 0) << text;
    EXPECT_NE(text.find("| lmgc -1 ("), std::string::npos) << text;
    EXPECT_NE(text.find("| zstd:level=1"), std::string::npos) << text;
    EXPECT_NE(text.find("not dominated by an lmgc level: "), std::string::npos) << text;
    EXPECT_NE(text.find("eff. 2"), std::string::npos) << text;
    const auto csv = read_bytes(dir + "/results.csv");
    const std::string csv_text(csv.begin(), csv.end());
    EXPECT_EQ(csv_text.rfind("set,label,spec,codec,settings,level,kind,", 0), 0u) << csv_text;
    EXPECT_EQ(std::count(csv_text.begin(), csv_text.end(), '\n'), 1 + 3 * 2) << csv_text;
    EXPECT_NE(csv_text.find("files,zstd:level=1,zstd:level=1,zstd,level=1,0,classical,"),
              std::string::npos)
        << csv_text;
    for (const char* name : {"table.md", "pareto.gp", "pareto-levels.dat", "pareto-classical.dat"})
        EXPECT_TRUE(std::filesystem::exists(dir + "/" + name)) << name;
    const bool have_gnuplot = run("command -v gnuplot >/dev/null 2>&1") == 0;
    for (const char* name : {"rate-vs-compress.svg", "rate-vs-decompress.svg"}) {
        if (!have_gnuplot) break;
        ASSERT_TRUE(std::filesystem::exists(dir + "/" + name)) << name << "\n" << text;
        const auto svg = read_bytes(dir + "/" + name);
        const std::string svg_text(svg.begin(), svg.end());
        EXPECT_NE(svg_text.find("<svg"), std::string::npos) << name;
        EXPECT_NE(svg_text.find("zstd:level=1"), std::string::npos) << name; // a point's label
        EXPECT_NE(svg_text.find("lmgc -1"), std::string::npos) << name;
    }
    // An earlier report is kept unless --force.
    EXPECT_EQ(run(cmd, &text), 1) << text;
    // Two sets, no plots: the files of each set carry its name.
    const std::string dir2 = out.file("two");
    ASSERT_EQ(run(lmgc_bin() + " bench codecs --set a=" + f.paths[0] + " --set b=" + f.paths[0] +
                      "," + f.paths[1] + " --codecs -1,zstd:level=1 -r 1 --no-plots --out " + dir2,
                  &text),
              0)
        << text;
    EXPECT_NE(text.find("## Set a"), std::string::npos) << text;
    EXPECT_NE(text.find("## Set b"), std::string::npos) << text;
    EXPECT_NE(text.find("b: classical codecs not dominated by an lmgc level: "), std::string::npos)
        << text;
    EXPECT_TRUE(std::filesystem::exists(dir2 + "/pareto-b-levels.dat"));
    EXPECT_FALSE(std::filesystem::exists(dir2 + "/rate-vs-compress-a.svg"));
    for (const char* bad : {" --set x", " --set =a.npy", " -t 1,x", " --codecs zstd:nope=1",
                            " --codecs level:12", " --no-plots"})
        EXPECT_EQ(run(lmgc_bin() + " bench codecs " + f.paths[0] + bad, &text), 2) << bad << text;
}
