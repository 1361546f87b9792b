// `lmgc bench --data`: seeded draws, rows whose sizes are exactly what `lmgc compress` gives,
// lossy rows checked against the lossy reconstruction, a broken round trip that fails the
// run instead of giving a number, skipped lm rows, presets that find (and label) the sets
// `lmgc collect` writes, and the report files.
#include "lmgc/lmgc.hpp"
#include "lmgc/research.hpp"
#include "testutil.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <set>
#include <sstream>
#include <unistd.h>

using namespace lmgc;
using namespace lmgc::test;
namespace ex = lmgc::experimental;
namespace fs = std::filesystem;

namespace {

bool built_in(const std::string& name) {
    for (const auto& c : list_codecs())
        if (c.name == name) return c.available;
    return false;
}

// A folder as `lmgc collect --flat-npy` leaves it: grad_N.npy (flat) and grad_N.safetensors
// (per tensor, with metadata) for each step.
struct collected_folder {
    std::string path;
    std::vector<std::string> npy;
    collected_folder(const std::string& root, const std::string& name, int n_files,
                     const std::string& arch = "convnet", const std::string& dataset = "cifar10",
                     std::size_t n_floats = 3000) {
        path = root + "/" + name;
        fs::create_directories(path);
        for (int i = 0; i < n_files; ++i) {
            char stem[32];
            std::snprintf(stem, sizeof stem, "grad_%08d", 10 * (i + 1));
            const auto g = gradient_like(n_floats, 100 + static_cast<std::uint64_t>(i));
            npy.push_back(path + "/" + stem + ".npy");
            write_bytes(npy.back(),
                        make_npy("<f4", {static_cast<std::int64_t>(n_floats)}, float_bytes(g)));
            const std::size_t half = n_floats / 2;
            write_bytes(path + "/" + stem + ".safetensors",
                        make_safetensors({{"a.weight",
                                           "F32",
                                           {static_cast<std::int64_t>(half)},
                                           float_bytes({g.begin(), g.begin() + half})},
                                          {"b.weight",
                                           "F32",
                                           {static_cast<std::int64_t>(n_floats - half)},
                                           float_bytes({g.begin() + half, g.end()})}},
                                         {{"arch", arch}, {"dataset", dataset}, {"step", "1"}}));
        }
    }
};

ex::gradient_set set_of(const collected_folder& f) {
    return ex::gradient_set_from_folder(f.path);
}

errc error_of(const std::vector<ex::gradient_set>& sets, const ex::experiment_params& p,
              std::string* what = nullptr) {
    try {
        ex::run_experiment(sets, p);
    } catch (const error& e) {
        if (what) *what = e.what();
        return e.code();
    }
    return errc::ok;
}

std::vector<std::string> split_line(const std::string& line) {
    std::vector<std::string> out;
    std::stringstream ss(line);
    std::string f;
    while (std::getline(ss, f, ',')) out.push_back(f);
    if (!line.empty() && line.back() == ',') out.emplace_back();
    return out;
}

// results.csv as maps from column name to value.
std::vector<std::map<std::string, std::string>> read_csv(const std::string& path) {
    const auto b = read_bytes(path);
    std::stringstream ss(std::string(b.begin(), b.end()));
    std::string line;
    std::getline(ss, line);
    const auto head = split_line(line);
    std::vector<std::map<std::string, std::string>> rows;
    while (std::getline(ss, line)) {
        const auto f = split_line(line);
        EXPECT_EQ(f.size(), head.size()) << line;
        std::map<std::string, std::string> m;
        for (std::size_t i = 0; i < head.size() && i < f.size(); ++i) m[head[i]] = f[i];
        rows.push_back(std::move(m));
    }
    return rows;
}

std::string fixed2(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.2f", v);
    return buf;
}

} // namespace

TEST(bench_experiment, codec_specs) {
    const auto g = ex::parse_bench_codec("gzip");
    EXPECT_EQ(g.codec, "gzip");
    EXPECT_FALSE(g.is_model);
    EXPECT_TRUE(g.options.empty());
    const auto s = ex::parse_bench_codec("store:foo=1");
    EXPECT_EQ(s.label, "store:foo=1");
    ASSERT_EQ(s.options.size(), 1u);
    EXPECT_EQ(s.options[0], (codec_option{"foo", "1"}));

    // lm: the model folder is shortened in the label; paper names map to lmgc's.
    const auto lm = ex::parse_bench_codec("lm:/no/such/TinyLlama:Hs:tokens=symbol");
    EXPECT_EQ(lm.codec, "lm");
    EXPECT_TRUE(lm.is_model);
    EXPECT_EQ(lm.label, "lm:TinyLlama:Hs:tokens=symbol");
    EXPECT_FALSE(lm.skip.empty()); // no such folder (or no lm codec): skipped, not an error
    const std::vector<codec_option> want = {
        {"model", "/no/such/TinyLlama"}, {"serialization", "hex-space"}, {"tokens", "symbol"}};
    EXPECT_EQ(lm.options, want);
    EXPECT_EQ(ex::parse_bench_codec("lm:/x:Hc+s").options[1].second, "hex-comma+space");
    EXPECT_FALSE(ex::parse_bench_codec("lm").skip.empty());
    EXPECT_FALSE(ex::parse_bench_codec("lm::hex-none").skip.empty());

    for (const char* bad : {"", "nope", "gzip:level", "gzip:=3", "lm:/x:bogus", "lm:/x:Hs:tokens=x",
                            "lm:/x:tokens=symbol", "lm:/x:Hs:model=/y"}) {
        try {
            ex::parse_bench_codec(bad);
            ADD_FAILURE() << bad << " was accepted";
        } catch (const error& e) {
            EXPECT_EQ(e.code(), errc::usage) << bad;
        }
    }
}

TEST(bench_experiment, sets_from_folders) {
    temp_dir d;
    collected_folder a(d.path(), "convnet-cifar10", 3, "convnet", "cifar10");
    collected_folder b(d.path(), "vgg16-fmnist", 2, "vgg16", "fashion-mnist");
    const auto s = ex::gradient_set_from_folder(a.path);
    EXPECT_EQ(s.name, "convnet-cifar10");
    EXPECT_EQ(s.files, a.npy); // the flat .npy of each step, sorted
    EXPECT_EQ(s.arch, "convnet");
    EXPECT_EQ(s.dataset, "cifar10");
    EXPECT_EQ(s.label, "ConvNet / CIFAR-10");
    const auto st = ex::gradient_set_from_folder(a.path, {"safetensors", "npy"});
    ASSERT_EQ(st.files.size(), 3u);
    EXPECT_NE(st.files[0].find(".safetensors"), std::string::npos);

    // The root holds no tensor files: one set per subfolder.
    const auto sets = ex::gradient_sets_from({d.path()});
    ASSERT_EQ(sets.size(), 2u);
    EXPECT_EQ(sets[1].label, "VGG16 / Fashion-MNIST");
    // Files by name form one set.
    const auto loose = ex::gradient_sets_from({a.npy[0], b.npy[1]});
    ASSERT_EQ(loose.size(), 1u);
    EXPECT_EQ(loose[0].name, "files");
    EXPECT_EQ(loose[0].files.size(), 2u);
    EXPECT_THROW(ex::gradient_sets_from({d.file("missing")}), error);
    temp_dir empty;
    EXPECT_THROW(ex::gradient_sets_from({empty.path()}), error);
    EXPECT_THROW(ex::gradient_sets_from({a.path, a.path}), error); // two sets of one name
}

TEST(bench_experiment, rows_are_what_compress_gives) {
    if (!built_in("gzip")) GTEST_SKIP() << "needs gzip";
    temp_dir d;
    collected_folder f(d.path(), "convnet-cifar10", 5);
    auto p = ex::default_experiment_params();
    EXPECT_EQ(p.sample, 10);
    EXPECT_EQ(p.repeats, 3);
    EXPECT_EQ(p.n_threads, 1);
    p.codecs = {"store", "gzip"};
    p.sample = 3;
    p.repeats = 2;
    p.seed = 11;
    std::uint64_t last = 0, total = 0;
    p.progress = [&](std::uint64_t done, std::uint64_t all) {
        last = done;
        total = all;
    };
    const auto res = ex::run_experiment({set_of(f)}, p);
    // 2 repeats x 3 files x 2 codecs x 2 modes (the default: unchunked and 512-byte chunks).
    ASSERT_EQ(res.runs.size(), 24u);
    EXPECT_EQ(last, 24u);
    EXPECT_EQ(total, 24u);
    ASSERT_EQ(res.rows.size(), 4u);

    std::map<int, std::set<std::string>> drawn;
    for (const auto& r : res.runs) {
        SCOPED_TRACE(r.file + " " + r.codec + " " + std::to_string(r.chunk_bytes));
        drawn[r.repeat].insert(r.file);
        EXPECT_EQ(r.seed, 11u + static_cast<std::uint64_t>(r.repeat));
        const auto data = read_bytes(r.file);
        auto cp = default_compress_params();
        cp.codec = r.codec;
        cp.unchunked = r.chunk_bytes == 0;
        cp.chunk_bytes = r.chunk_bytes;
        compress_stats st;
        const auto image = compress(data, cp, &st);
        EXPECT_EQ(r.output_bytes, image.size());
        EXPECT_EQ(r.payload_bytes, st.payload_bytes);
        EXPECT_EQ(r.tensor_bytes, 3000u * 4);
        EXPECT_EQ(r.streams, r.codec);
        EXPECT_EQ(r.ideal_bits, -1.0); // no model prior here
        EXPECT_GT(r.compress_seconds, 0);
    }
    ASSERT_EQ(drawn.size(), 2u);
    EXPECT_EQ(drawn[0].size(), 3u);
    EXPECT_EQ(drawn[1].size(), 3u);
    EXPECT_NE(drawn[0], drawn[1]); // seeds 11 and 12 draw different files

    // A row is the mean over repeats of (sum of outputs / sum of tensor bytes).
    for (const auto& row : res.rows) {
        SCOPED_TRACE(row.codec + " " + std::to_string(row.chunk_bytes));
        std::map<int, std::pair<double, double>> per;
        for (const auto& r : res.runs)
            if (r.codec == row.codec && r.chunk_bytes == row.chunk_bytes) {
                per[r.repeat].first += static_cast<double>(r.output_bytes);
                per[r.repeat].second += static_cast<double>(r.tensor_bytes);
            }
        const double r0 = 100 * per[0].first / per[0].second;
        const double r1 = 100 * per[1].first / per[1].second;
        EXPECT_NEAR(row.rate.mean, (r0 + r1) / 2, 1e-9);
        EXPECT_NEAR(row.rate.std, std::fabs(r0 - r1) / 2, 1e-9);
        EXPECT_EQ(row.rate.n, 2);
        EXPECT_EQ(row.files, 3);
        EXPECT_EQ(row.repeats, 2);
        EXPECT_GT(row.compress_mbps.mean, 0);
        EXPECT_GT(row.decompress_mbps.mean, 0);
    }
    EXPECT_EQ(res.rows[0].codec, "store");
    EXPECT_GT(res.rows[0].rate.mean, 100.0);
    EXPECT_LT(res.rows[2].rate.mean, 100.0);                 // gzip unchunked
    EXPECT_LT(res.rows[2].rate.mean, res.rows[3].rate.mean); // chunks cost

    // The same seed draws the same files.
    p.progress = nullptr;
    const auto again = ex::run_experiment({set_of(f)}, p);
    ASSERT_EQ(again.runs.size(), res.runs.size());
    for (std::size_t i = 0; i < res.runs.size(); ++i) {
        EXPECT_EQ(again.runs[i].file, res.runs[i].file);
        EXPECT_EQ(again.runs[i].output_bytes, res.runs[i].output_bytes);
    }
}

TEST(bench_experiment, small_sets_and_sample_zero) {
    temp_dir d;
    collected_folder f(d.path(), "s", 2);
    auto p = ex::default_experiment_params();
    p.codecs = {"store"};
    p.chunk_bytes = {0};
    p.repeats = 2;
    auto res = ex::run_experiment({set_of(f)}, p); // sample 10 of 2 files
    EXPECT_EQ(res.runs.size(), 4u);
    ASSERT_FALSE(res.notes.empty());
    EXPECT_NE(res.notes[0].find("every repeat uses all of them"), std::string::npos);
    p.sample = 0;
    res = ex::run_experiment({set_of(f)}, p);
    EXPECT_EQ(res.runs.size(), 4u);
    EXPECT_TRUE(res.notes.empty());
}

TEST(bench_experiment, lossy_rows_are_checked_against_the_reconstruction) {
    if (!built_in("gzip")) GTEST_SKIP() << "needs gzip";
    temp_dir d;
    collected_folder f(d.path(), "convnet-cifar10", 3, "convnet", "cifar10", 8000);
    auto p = ex::default_experiment_params();
    p.codecs = {"gzip"};
    p.chunk_bytes = {0};
    p.sample = 2;
    p.repeats = 2;
    p.seed = 5;
    p.preprocess = {"", "sparsify:10", "topk:5+quantize:8", "quantize:1"};
    int decoded_checks = 0;
    p.test_hooks.after_decompress = [&](const std::string&, std::vector<std::uint8_t>&) {
        ++decoded_checks;
    };
    const auto res = ex::run_experiment({set_of(f)}, p);
    ASSERT_EQ(res.rows.size(), 4u);
    EXPECT_EQ(decoded_checks, 2 * 2 * 4);
    for (const auto& r : res.runs) {
        SCOPED_TRACE(r.file + " " + r.preprocess);
        auto cp = default_compress_params();
        cp.codec = "gzip";
        cp.unchunked = true;
        cp.preprocess = r.preprocess;
        cp.seed = r.seed;
        const auto data = read_bytes(r.file);
        compress_stats st;
        const auto image = compress(data, cp, &st);
        EXPECT_EQ(r.output_bytes, image.size());
        EXPECT_EQ(r.preprocessed_bytes, st.preprocessed_bytes);
        EXPECT_EQ(r.side_info_bytes, st.side_info_bytes);
        EXPECT_DOUBLE_EQ(r.relative_l2_error, st.relative_l2_error);
        // What bench checked the decoded file against: the lossy reconstruction.
        EXPECT_EQ(decompress(image, default_decompress_params()), expected_output(data, cp));
        if (r.preprocess.empty()) {
            EXPECT_EQ(r.relative_l2_error, 0.0);
            EXPECT_EQ(r.preprocessed_bytes, r.tensor_bytes);
        } else {
            EXPECT_GT(r.relative_l2_error, 0.0);
            EXPECT_LT(r.preprocessed_bytes, r.tensor_bytes);
        }
    }
    for (const auto& row : res.rows) {
        SCOPED_TRACE(row.preprocess);
        double out = 0, pre = 0;
        for (const auto& r : res.runs)
            if (r.preprocess == row.preprocess && r.repeat == 0) {
                out += static_cast<double>(r.output_bytes);
                pre += static_cast<double>(r.preprocessed_bytes);
            }
        double out1 = 0, pre1 = 0;
        for (const auto& r : res.runs)
            if (r.preprocess == row.preprocess && r.repeat == 1) {
                out1 += static_cast<double>(r.output_bytes);
                pre1 += static_cast<double>(r.preprocessed_bytes);
            }
        EXPECT_NEAR(row.rate_vs_preprocessed.mean, (100 * out / pre + 100 * out1 / pre1) / 2, 1e-9);
    }
    EXPECT_LT(res.rows[1].rate.mean, res.rows[0].rate.mean / 5); // 10 % kept
    EXPECT_LT(res.rows[3].rate.mean, 4.0);                       // 1 bit per value + container

    p.preprocess = {"blur:3"};
    EXPECT_EQ(error_of({set_of(f)}, p), errc::usage);
}

TEST(bench_experiment, a_broken_round_trip_fails_the_run) {
    if (!built_in("gzip")) GTEST_SKIP() << "needs gzip";
    temp_dir d;
    collected_folder f(d.path(), "s", 3);
    auto p = ex::default_experiment_params();
    p.codecs = {"store", "gzip"};
    p.chunk_bytes = {0, 512};
    p.repeats = 1;
    // A decoder that gets one bit wrong in gzip's files.
    p.test_hooks.after_decompress = [](const std::string& codec, std::vector<std::uint8_t>& out) {
        if (codec == "gzip") out[out.size() / 2] ^= 1;
    };
    std::string what;
    EXPECT_EQ(error_of({set_of(f)}, p, &what), errc::internal);
    EXPECT_NE(what.find("gzip"), std::string::npos) << what;
    EXPECT_NE(what.find("grad_000000"), std::string::npos) << what;
    EXPECT_NE(what.find("no rate is reported"), std::string::npos) << what;
    // The same for lossy runs, checked against the lossy reconstruction.
    p.preprocess = {"sparsify:20"};
    EXPECT_EQ(error_of({set_of(f)}, p, &what), errc::internal);
    EXPECT_NE(what.find("lossy reconstruction"), std::string::npos) << what;

    // A codec whose stream is damaged: decoding fails, and so does the run.
    p.preprocess = {};
    p.test_hooks.after_decompress = nullptr;
    p.test_hooks.after_compress = [](const std::string& codec, std::vector<std::uint8_t>& image) {
        if (codec == "gzip") image[image.size() - 20] ^= 0x40;
    };
    EXPECT_NE(error_of({set_of(f)}, p, &what), errc::ok);
    EXPECT_NE(what.find("gzip"), std::string::npos) << what;
}

TEST(bench_experiment, skipped_codecs_and_bad_params) {
    temp_dir d;
    collected_folder f(d.path(), "s", 2);
    auto p = ex::default_experiment_params();
    p.repeats = 1;
    p.chunk_bytes = {0};
    p.codecs = {"store", "lm:" + d.file("no-model") + ":Hs"};
    auto res = ex::run_experiment({set_of(f)}, p);
    for (const auto& r : res.runs) EXPECT_EQ(r.codec, "store");
    bool noted = false;
    for (const auto& n : res.notes) noted |= n.find("lm:no-model:Hs: skipped") == 0;
    EXPECT_TRUE(noted);
    // Ablations vary lm codecs; with none running, a note says so.
    p.bytes_per_group = {1, 2};
    res = ex::run_experiment({set_of(f)}, p);
    noted = false;
    for (const auto& n : res.notes) noted |= n.find("--bytes-per-group") != std::string::npos;
    EXPECT_TRUE(noted);
    EXPECT_EQ(res.rows.size(), 1u);
    p.bytes_per_group = {3};
    EXPECT_EQ(error_of({set_of(f)}, p), errc::usage);
    p.bytes_per_group = {};
    p.context = {1};
    EXPECT_EQ(error_of({set_of(f)}, p), errc::usage);
    p.context = {};

    // Nothing that can run is an error, not an empty table.
    p.codecs = {"lm:" + d.file("no-model") + ":Hs"};
    EXPECT_EQ(error_of({set_of(f)}, p), errc::usage);
    p.codecs = {"store", "store"};
    EXPECT_EQ(error_of({set_of(f)}, p), errc::usage);
    p.codecs = {"store"};
    p.repeats = 0;
    EXPECT_EQ(error_of({set_of(f)}, p), errc::usage);
    p.repeats = 1;
    EXPECT_EQ(error_of({}, p), errc::usage);
    // A file that is not a tensor file.
    write_bytes(f.path + "/grad_99999999.npy", bytes{1, 2, 3});
    p.sample = 0;
    EXPECT_EQ(error_of({set_of(f)}, p), errc::bad_input);
}

TEST(bench_experiment, presets_find_and_label_sets) {
    const auto t3 = ex::find_bench_preset("table3");
    ASSERT_EQ(t3.slots.size(), 3u);
    EXPECT_EQ(t3.slots[0].folders[0], "convnet-mnist");
    EXPECT_EQ(ex::find_bench_preset("table2").slots.size(), 4u);
    EXPECT_EQ(ex::find_bench_preset("table1").chunk_bytes, (std::vector<std::uint64_t>{0, 512}));
    EXPECT_THROW(ex::find_bench_preset("table9"), error);

    temp_dir root;
    // MNIST slot: Fashion-MNIST is there, as a stand-in.
    collected_folder fm(root.path(), "convnet-fashion-mnist", 2, "convnet", "fashion-mnist");
    // CIFAR-10 slot: a folder of the real name whose files say they are synthetic.
    collected_folder cf(root.path(), "convnet-cifar10", 2, "convnet", "synthetic");
    // TinyImageNet slot: wrong network.
    collected_folder ti(root.path(), "convnet-tinyimagenet", 2, "vgg16", "tinyimagenet");
    const auto r = ex::resolve_bench_preset(t3, root.path());
    ASSERT_EQ(r.sets.size(), 2u);
    EXPECT_EQ(r.sets[0].label, "ConvNet / Fashion-MNIST (stand-in for MNIST)");
    EXPECT_EQ(r.sets[1].label, "ConvNet / synthetic (stand-in for CIFAR-10)");
    ASSERT_EQ(r.missing.size(), 1u);
    EXPECT_NE(r.missing[0].find("TinyImageNet"), std::string::npos);
    EXPECT_NE(r.missing[0].find("lmgc collect -a convnet -d tinyimagenet"), std::string::npos);
    EXPECT_NE(r.missing[0].find("-d synthetic --channels 3 --image-size 32 --classes 200"),
              std::string::npos);
    EXPECT_NE(r.missing[0].find(root.path() + "/convnet-tinyimagenet-synthetic"),
              std::string::npos);
    bool noted = false;
    for (const auto& n : r.notes) noted |= n.find("holds vgg16 gradients") != std::string::npos;
    EXPECT_TRUE(noted);
    // Real data gets the plain label.
    temp_dir root2;
    collected_folder real(root2.path(), "convnet-mnist", 1, "convnet", "mnist");
    const auto r2 = ex::resolve_bench_preset(t3, root2.path());
    ASSERT_EQ(r2.sets.size(), 1u);
    EXPECT_EQ(r2.sets[0].label, "ConvNet / MNIST");
    EXPECT_EQ(r2.missing.size(), 2u);
}

TEST(bench_experiment, report_files) {
    temp_dir d;
    collected_folder a(d.path(), "convnet-cifar10", 2);
    collected_folder b(d.path(), "vgg16-cifar10", 2, "vgg16");
    auto p = ex::default_experiment_params();
    p.codecs = {"store"};
    p.chunk_bytes = {0, 512};
    p.repeats = 2;
    const auto res = ex::run_experiment(ex::gradient_sets_from({d.path()}), p);
    ASSERT_EQ(res.rows.size(), 4u);
    const auto md = ex::experiment_markdown(res);
    // The paper's layout (sets by codecs), then every row.
    EXPECT_NE(md.find("| ConvNet / CIFAR-10 |"), std::string::npos) << md;
    EXPECT_NE(md.find("| VGG16 / CIFAR-10"), std::string::npos) << md;
    EXPECT_NE(md.find("store unchunked"), std::string::npos) << md;
    EXPECT_NE(md.find(" ± "), std::string::npos) << md;

    ex::experiment_report_params rp;
    rp.title = "test";
    rp.gnuplot = "none";
    rp.overwrite = false;
    const auto out = d.file("out");
    auto notes = ex::write_experiment_report(res, out, rp);
    for (const auto* f :
         {"table.md", "results.csv", "summary.csv", "plot.gp", "plot-rate.dat", "plot-speed.dat"})
        EXPECT_TRUE(fs::exists(out + "/" + f)) << f;
    EXPECT_TRUE(ex::experiment_report_exists(out));
    EXPECT_EQ(read_csv(out + "/results.csv").size(), res.runs.size());
    EXPECT_EQ(read_csv(out + "/summary.csv").size(), res.rows.size());
    EXPECT_THROW(ex::write_experiment_report(res, out, rp), error); // no silent overwrite
    rp.overwrite = true;
    rp.gnuplot = d.file("no-gnuplot");
    notes = ex::write_experiment_report(res, out, rp);
    ASSERT_EQ(notes.size(), 1u);
    EXPECT_NE(notes[0].find("plots not drawn"), std::string::npos);
    const auto table = read_bytes(out + "/table.md");
    EXPECT_NE(std::string(table.begin(), table.end()).find("plots not drawn"), std::string::npos);
    if (::access("/usr/bin/gnuplot", X_OK) == 0) {
        rp.gnuplot = "/usr/bin/gnuplot";
        notes = ex::write_experiment_report(res, out, rp);
        EXPECT_TRUE(notes.empty()) << notes[0];
        EXPECT_GT(fs::file_size(out + "/rate.svg"), 1000u);
        EXPECT_GT(fs::file_size(out + "/rate-vs-speed.svg"), 1000u);
    }
}

// The CLI end to end: every size in results.csv is the size of the file `lmgc compress`
// writes, and table.md shows the mean rates those sizes give.
TEST(bench_experiment, cli_matches_lmgc_compress) {
    if (!built_in("gzip")) GTEST_SKIP() << "needs gzip";
    temp_dir d;
    collected_folder f(d.path(), "convnet-cifar10", 3);
    const auto out = d.file("report");
    std::string log;
    ASSERT_EQ(run(lmgc_bin() + " bench --data " + f.path +
                      " --codecs gzip,store --sample 2 --repeats 2 --seed 3 --out " + out +
                      " --no-plots",
                  &log),
              0)
        << log;
    const auto rows = read_csv(out + "/results.csv");
    ASSERT_EQ(rows.size(), 2u * 2 * 2 * 2);
    std::map<std::string, std::map<std::string, std::pair<double, double>>> sums;
    std::map<std::string, std::string> compressed; // file, codec, mode -> size
    for (const auto& r : rows) {
        const std::string mode =
            r.at("chunk_bytes") == "0" ? " --unchunked" : " --chunk-bytes " + r.at("chunk_bytes");
        const std::string args = r.at("file") + " -c " + r.at("codec") + mode;
        if (!compressed.count(args)) {
            const auto lm = d.file("x.lmgc");
            std::string clog;
            ASSERT_EQ(run(lmgc_bin() + " compress " + args + " -o " + lm + " -f -q", &clog), 0)
                << clog;
            compressed[args] = std::to_string(fs::file_size(lm));
        }
        EXPECT_EQ(compressed[args], r.at("output_bytes")) << args;
        const std::string key = r.at("codec") + " " + r.at("mode");
        sums[key][r.at("repeat")].first += std::stod(r.at("output_bytes"));
        sums[key][r.at("repeat")].second += std::stod(r.at("tensor_bytes"));
    }
    const auto tb = read_bytes(out + "/table.md");
    const std::string table(tb.begin(), tb.end());
    EXPECT_NE(log.find("| codec"), std::string::npos) << log; // the table on stdout too
    ASSERT_EQ(sums.size(), 4u);
    for (const auto& [key, per] : sums) {
        const double r0 = 100 * per.at("0").first / per.at("0").second;
        const double r1 = 100 * per.at("1").first / per.at("1").second;
        const std::string cell = fixed2((r0 + r1) / 2) + " ± " + fixed2(std::fabs(r0 - r1) / 2);
        const std::string codec = key.substr(0, key.find(' '));
        const std::string mode =
            key.find("unchunked") != std::string::npos ? "unchunked" : "512 B chunks";
        // | gzip  | unchunked    | 61.00 ± 0.04 |
        bool found = false;
        std::stringstream ss(table);
        std::string line;
        while (std::getline(ss, line))
            if (line.find("| " + codec + " ") == 0 && line.find("| " + mode) != std::string::npos)
                found = line.find("| " + cell + " ") != std::string::npos;
        EXPECT_TRUE(found) << key << " " << cell << "\n" << table;
    }
    // An existing report is not overwritten without --force.
    EXPECT_EQ(run(lmgc_bin() + " bench --data " + f.path + " --codecs store --out " + out, &log), 1)
        << log;
    EXPECT_EQ(run(lmgc_bin() + " bench --data " + f.path +
                      " --codecs store --chunk-bytes 0 --repeats 1 --no-plots -f --out " + out,
                  &log),
              0)
        << log;
}

TEST(bench_experiment, cli_presets_and_errors) {
    temp_dir root;
    std::string log;
    // Nothing there: the preset says what it expects and how to make it, and fails.
    EXPECT_EQ(run(lmgc_bin() + " bench --preset table3 --data " + root.path(), &log), 1) << log;
    EXPECT_NE(log.find("lmgc collect -a convnet -d mnist"), std::string::npos) << log;
    EXPECT_NE(log.find("lmgc collect -a convnet -d fashion-mnist"), std::string::npos) << log;
    EXPECT_EQ(run(lmgc_bin() + " bench --preset table2 --describe", &log), 0) << log;
    EXPECT_NE(log.find("DATA/resnet18-cifar10"), std::string::npos) << log;
    EXPECT_NE(log.find("DATA/vit-cifar10-synthetic"), std::string::npos) << log;
    EXPECT_EQ(run(lmgc_bin() + " bench --preset table9 --data " + root.path(), &log), 2) << log;
    // One set present: it runs, and the missing ones are listed.
    collected_folder fm(root.path(), "convnet-fmnist", 2, "convnet", "fashion-mnist");
    EXPECT_EQ(run(lmgc_bin() + " bench --preset table3 --data " + root.path() +
                      " --codecs store --repeats 1 --lm-model " + root.file("no-model"),
                  &log),
              0)
        << log;
    EXPECT_NE(log.find("Fashion-MNIST (stand-in for MNIST)"), std::string::npos) << log;
    EXPECT_NE(log.find("Missing: ConvNet / CIFAR-10"), std::string::npos) << log;
    EXPECT_NE(log.find("lm:no-model:hex-space: skipped"), std::string::npos) << log;
    EXPECT_EQ(run(lmgc_bin() + " bench --data " + root.file("nope") + " --codecs store", &log), 1)
        << log;
    EXPECT_EQ(run(lmgc_bin() + " bench --data " + fm.path + " --codecs nope", &log), 2) << log;
    EXPECT_EQ(run(lmgc_bin() + " bench --data " + fm.path + " --codecs store --sample -1", &log), 2)
        << log;
    EXPECT_EQ(run(lmgc_bin() + " bench --data " + fm.path + " --codecs store --context 5x", &log),
              2)
        << log;
}

// End to end: `lmgc collect` makes a stand-in set, the preset finds it, labels it from the
// files' metadata as a stand-in, and reports rates for it.
TEST(bench_experiment, preset_runs_on_what_lmgc_collect_writes) {
    if (!ex::collect_available()) GTEST_SKIP() << "built without LibTorch: no lmgc collect";
    temp_dir root;
    std::string log;
    ASSERT_EQ(run(lmgc_bin() +
                      " collect -a convnet -d synthetic --samples 64 --batch 8 "
                      "--steps 4 --grad-interval 2 --flat-npy -q -t 1 -o " +
                      root.file("convnet-cifar10-synthetic"),
                  &log),
              0)
        << log;
    const auto out = root.file("t3");
    ASSERT_EQ(run(lmgc_bin() + " bench --preset table3 --data " + root.path() +
                      " --codecs store --sample 2 --repeats 1 --no-plots --out " + out,
                  &log),
              0)
        << log;
    EXPECT_NE(log.find("| ConvNet / synthetic (stand-in for CIFAR-10) |"), std::string::npos)
        << log;
    EXPECT_NE(log.find("Missing: ConvNet / MNIST"), std::string::npos) << log;
    const auto rows = read_csv(out + "/results.csv");
    ASSERT_EQ(rows.size(), 2u);
    for (const auto& r : rows) {
        EXPECT_NE(r.at("file").find(".npy"), std::string::npos); // the flat vector
        EXPECT_EQ(r.at("tensor_bytes"), std::to_string(320010 * 4));
    }
    const auto tb = read_bytes(out + "/table.md");
    EXPECT_NE(std::string(tb.begin(), tb.end()).find("not run: ConvNet / TinyImageNet"),
              std::string::npos);
}
