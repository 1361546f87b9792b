// The collect stage's data side: IDX, CIFAR-10 and TinyImageNet readers on small files the
// tests write, the generator, synthetic data, resizing, augmentations and batch assembly.
#include "collect/collect-data.hpp"
#include "testutil.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <set>

#ifdef LMGC_HAVE_ZLIB
#include <zlib.h>
#endif

using namespace lmgc;
using namespace lmgc::detail;
using namespace lmgc::test;

namespace {

bytes idx_file(const std::vector<std::uint32_t>& dims, const bytes& data) {
    bytes out = {0, 0, 0x08, static_cast<std::uint8_t>(dims.size())};
    for (const auto d : dims)
        for (int s = 24; s >= 0; s -= 8) out.push_back(static_cast<std::uint8_t>(d >> s));
    out.insert(out.end(), data.begin(), data.end());
    return out;
}

bytes pattern(std::size_t n, unsigned mul) {
    bytes b(n);
    for (std::size_t i = 0; i < n; ++i) b[i] = static_cast<std::uint8_t>(i * mul + 7);
    return b;
}

#ifdef LMGC_HAVE_ZLIB
bytes gzip(const bytes& in) {
    z_stream zs{};
    EXPECT_EQ(deflateInit2(&zs, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
    bytes out(deflateBound(&zs, in.size()) + 32);
    zs.next_in = const_cast<Bytef*>(in.data());
    zs.avail_in = static_cast<uInt>(in.size());
    zs.next_out = out.data();
    zs.avail_out = static_cast<uInt>(out.size());
    EXPECT_EQ(deflate(&zs, Z_FINISH), Z_STREAM_END);
    out.resize(zs.total_out);
    deflateEnd(&zs);
    return out;
}
#endif

template <typename Fn> std::string error_of(Fn&& fn, errc* code = nullptr) {
    try {
        fn();
    } catch (const error& e) {
        if (code) *code = e.code();
        return e.what();
    }
    return "(no error)";
}

experimental::collect_params params_for(const std::string& dataset, const std::string& dir) {
    auto p = experimental::default_collect_params();
    p.dataset = dataset;
    p.data_dir = dir;
    return p;
}

} // namespace

TEST(collect_data, rng_is_deterministic_and_bounded) {
    collect_rng a(42), b(42), c(43);
    bool differs = false;
    for (int i = 0; i < 100; ++i) {
        const auto x = a.next();
        EXPECT_EQ(x, b.next());
        differs = differs || x != c.next();
    }
    EXPECT_TRUE(differs);
    std::vector<int> hist(7);
    for (int i = 0; i < 7000; ++i) {
        const auto v = a.below(7);
        ASSERT_LT(v, 7u);
        ++hist[v];
    }
    for (const int h : hist) EXPECT_GT(h, 800); // roughly uniform
    for (int i = 0; i < 1000; ++i) {
        const double u = a.uniform();
        ASSERT_GE(u, 0.0);
        ASSERT_LT(u, 1.0);
    }
    // A fixed value pins the algorithm: shuffles must not change between builds.
    collect_rng d(0);
    EXPECT_EQ(d.next(), 0x99ec5f36cb75f2b4ULL);
    std::vector<std::uint32_t> idx(10);
    for (std::uint32_t i = 0; i < 10; ++i) idx[i] = i;
    shuffle_indices(idx, d);
    auto sorted = idx;
    std::sort(sorted.begin(), sorted.end());
    for (std::uint32_t i = 0; i < 10; ++i) EXPECT_EQ(sorted[i], i);
}

TEST(collect_data, idx_plain_and_gzip) {
    temp_dir dir;
    const auto px = pattern(5 * 4 * 3, 13);
    const bytes labels = {3, 0, 9, 1, 2};
    write_bytes(dir.file("train-images-idx3-ubyte"), idx_file({5, 4, 3}, px));
#ifdef LMGC_HAVE_ZLIB
    write_bytes(dir.file("train-labels-idx1-ubyte.gz"), gzip(idx_file({5}, labels)));
#else
    write_bytes(dir.file("train-labels-idx1-ubyte"), idx_file({5}, labels));
#endif
    const auto s = load_idx_dataset(dir.path(), split::train, "mnist", "");
    EXPECT_EQ(s.channels, 1);
    EXPECT_EQ(s.height, 4);
    EXPECT_EQ(s.width, 3);
    EXPECT_EQ(s.classes, 10);
    ASSERT_EQ(s.size(), 5u);
    EXPECT_EQ(s.pixels, px);
    EXPECT_EQ(s.labels, (std::vector<std::int64_t>{3, 0, 9, 1, 2}));

    // The dotted names some mirrors use, for the test split.
    write_bytes(dir.file("t10k-images.idx3-ubyte"), idx_file({2, 4, 3}, pattern(24, 3)));
    write_bytes(dir.file("t10k-labels.idx1-ubyte"), idx_file({2}, {5, 6}));
    const auto t = load_idx_dataset(dir.path(), split::test, "mnist", "");
    EXPECT_EQ(t.size(), 2u);
    EXPECT_EQ(t.labels[1], 6);
}

TEST(collect_data, idx_errors_name_the_problem) {
    temp_dir dir;
    errc code{};
    auto msg = error_of(
        [&] { load_idx_dataset(dir.path(), split::train, "fashion-mnist", "install it"); }, &code);
    EXPECT_EQ(code, errc::io);
    EXPECT_NE(msg.find("train-images-idx3-ubyte[.gz]"), std::string::npos) << msg;
    EXPECT_NE(msg.find("train-labels-idx1-ubyte[.gz]"), std::string::npos) << msg;
    EXPECT_NE(msg.find(dir.path()), std::string::npos) << msg;
    EXPECT_NE(msg.find("install it"), std::string::npos) << msg;

    const auto img = dir.file("i"), lab = dir.file("l");
    write_bytes(lab, idx_file({2}, {1, 2}));
    auto bad = [&](const bytes& images, const std::string& want) {
        write_bytes(img, images);
        errc c{};
        const auto m = error_of([&] { read_idx_pair(img, lab, 10); }, &c);
        EXPECT_EQ(c, errc::bad_input) << m;
        EXPECT_NE(m.find(want), std::string::npos) << m;
    };
    bad({1, 2, 3}, "bad magic");
    bad(idx_file({2, 2, 2}, pattern(7, 1)), "the header says 8");
    bad(idx_file({3, 2, 2}, pattern(12, 1)), "3 images but");
    bad({0, 0, 0x0d, 3, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0}, "not unsigned byte");
    bad(idx_file({2, 2}, pattern(4, 1)), "2 dimensions, expected 3");
    write_bytes(img, idx_file({2, 2, 2}, pattern(8, 1)));
    write_bytes(lab, idx_file({2}, {1, 12}));
    EXPECT_NE(error_of([&] { read_idx_pair(img, lab, 10); }).find("label 12"), std::string::npos);
#ifdef LMGC_HAVE_ZLIB
    auto gz = gzip(idx_file({2}, {1, 2}));
    gz.resize(gz.size() / 2);
    write_bytes(lab, gz);
    EXPECT_NE(error_of([&] { read_idx_pair(img, lab, 10); }).find("gzip"), std::string::npos);
#endif
}

TEST(collect_data, cifar10_binary_batches) {
    temp_dir dir;
    std::filesystem::create_directory(dir.file("cifar-10-batches-bin"));
    constexpr std::size_t rec = 3073;
    for (int b = 1; b <= 5; ++b) {
        bytes f(2 * rec);
        for (std::size_t r = 0; r < 2; ++r) {
            f[r * rec] = static_cast<std::uint8_t>((b + static_cast<int>(r)) % 10);
            for (std::size_t k = 1; k < rec; ++k)
                f[r * rec + k] = static_cast<std::uint8_t>(k * 7 + r + static_cast<std::size_t>(b));
        }
        write_bytes(dir.file("cifar-10-batches-bin/data_batch_" + std::to_string(b) + ".bin"), f);
    }
    bytes t(rec, 9);
    write_bytes(dir.file("cifar-10-batches-bin/test_batch.bin"), t);
    // --data may name the folder or its parent.
    const auto s = load_cifar10(dir.path(), split::train);
    EXPECT_EQ(s.channels, 3);
    EXPECT_EQ(s.height, 32);
    ASSERT_EQ(s.size(), 10u);
    EXPECT_EQ(s.labels[0], 1);
    EXPECT_EQ(s.labels[1], 2);
    EXPECT_EQ(s.labels[9], 6);
    // Record layout: label, then 1024 red, 1024 green, 1024 blue bytes: CHW as stored.
    EXPECT_EQ(s.pixels[0], static_cast<std::uint8_t>(1 * 7 + 0 + 1));
    EXPECT_EQ(s.pixels[1024], static_cast<std::uint8_t>(1025 * 7 + 0 + 1));
    EXPECT_EQ(s.pixels[3072 + 5], static_cast<std::uint8_t>(6 * 7 + 1 + 1));
    const auto test = load_cifar10(dir.file("cifar-10-batches-bin"), split::test);
    ASSERT_EQ(test.size(), 1u);
    EXPECT_EQ(test.labels[0], 9);

    write_bytes(dir.file("cifar-10-batches-bin/test_batch.bin"), bytes(rec + 1, 0));
    EXPECT_NE(error_of([&] { load_cifar10(dir.path(), split::test); }).find("not a multiple"),
              std::string::npos);
    std::filesystem::remove(dir.file("cifar-10-batches-bin/data_batch_3.bin"));
    errc code{};
    const auto msg = error_of([&] { load_cifar10(dir.path(), split::train); }, &code);
    EXPECT_EQ(code, errc::io);
    EXPECT_NE(msg.find("data_batch_3.bin"), std::string::npos) << msg;
    EXPECT_NE(msg.find("data_batch_1.bin ... data_batch_5.bin"), std::string::npos) << msg;
}

TEST(collect_data, tinyimagenet_folders) {
    if (!have_jpeg()) GTEST_SKIP() << "built without libjpeg";
    temp_dir dir;
    namespace fs = std::filesystem;
    // Two classes listed out of order: indices follow the sorted names.
    write_bytes(dir.file("wnids.txt"), {'n', '2', '\n', 'n', '1', '\n'});
    auto solid = [](std::uint8_t r, std::uint8_t g, std::uint8_t b) {
        std::vector<std::uint8_t> rgb(64 * 64 * 3);
        for (std::size_t i = 0; i < rgb.size(); i += 3) {
            rgb[i] = r;
            rgb[i + 1] = g;
            rgb[i + 2] = b;
        }
        return encode_jpeg_rgb(rgb.data(), 64, 64, 95);
    };
    for (const char* w : {"n1", "n2"})
        fs::create_directories(dir.file(std::string("train/") + w + "/images"));
    write_bytes(dir.file("train/n1/images/n1_0.JPEG"), solid(200, 20, 20));
    write_bytes(dir.file("train/n1/images/n1_1.JPEG"), solid(190, 30, 30));
    write_bytes(dir.file("train/n2/images/n2_0.JPEG"), solid(20, 20, 200));
    fs::create_directories(dir.file("val/images"));
    write_bytes(dir.file("val/images/val_0.JPEG"), solid(20, 200, 20));
    const std::string ann = "val_0.JPEG\tn2\t0\t0\t63\t63\n";
    write_bytes(dir.file("val/val_annotations.txt"), bytes(ann.begin(), ann.end()));

    const auto s = load_tinyimagenet(dir.path(), split::train);
    EXPECT_EQ(s.classes, 2);
    EXPECT_EQ(s.height, 32);
    ASSERT_EQ(s.size(), 3u);
    EXPECT_EQ(s.labels, (std::vector<std::int64_t>{0, 0, 1}));
    // CHW planes of a solid colour, within JPEG's error.
    EXPECT_NEAR(s.pixels[100], 200, 6);
    EXPECT_NEAR(s.pixels[1024 + 100], 20, 6);
    EXPECT_NEAR(s.pixels[2 * 3072 + 2048 + 100], 200, 6);
    const auto v = load_tinyimagenet(dir.path(), split::test);
    ASSERT_EQ(v.size(), 1u);
    EXPECT_EQ(v.labels[0], 1);
    EXPECT_NEAR(v.pixels[1024 + 5], 200, 6);

    write_bytes(dir.file("val/images/val_0.JPEG"), {0xff, 0xd8, 0xff, 0x00, 0x12});
    EXPECT_NE(
        error_of([&] { load_tinyimagenet(dir.path(), split::test); }).find("cannot decode JPEG"),
        std::string::npos);
    fs::remove(dir.file("wnids.txt"));
    errc code{};
    const auto msg = error_of([&] { load_tinyimagenet(dir.path(), split::train); }, &code);
    EXPECT_EQ(code, errc::io);
    EXPECT_NE(msg.find("wnids.txt"), std::string::npos) << msg;
    EXPECT_NE(msg.find("train/<wnid>/images/*.JPEG"), std::string::npos) << msg;
}

TEST(collect_data, resize_follows_pil_bilinear) {
    // Halving uses the triangle filter stretched to 4 taps: 1/8, 3/8, 3/8, 1/8, and the
    // edge taps are renormalized.
    std::vector<std::uint8_t> row(8);
    for (int i = 0; i < 8; ++i)
        row[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(i * 16);
    const auto out = resize_bilinear_hwc(row.data(), 8, 1, 1, 4, 1);
    ASSERT_EQ(out.size(), 4u);
    // Output 1 covers inputs 1..4: (16 + 3*32 + 3*48 + 64) / 8 = 40.
    EXPECT_EQ(out[1], 40);
    // Output 0 covers inputs 0..2 with weights 3/8, 3/8, 1/8 renormalized: (0 + 48 + 32) / 7.
    EXPECT_EQ(out[0], static_cast<std::uint8_t>(std::lround(80.0 / 7)));
    std::vector<std::uint8_t> flat(64 * 64 * 3, 77);
    for (const auto v : resize_bilinear_hwc(flat.data(), 64, 64, 3, 32, 32)) ASSERT_EQ(v, 77);
}

TEST(collect_data, synthetic_is_deterministic_and_learnable) {
    const auto a = make_synthetic(3, 16, 5, 200, 4);
    const auto b = make_synthetic(3, 16, 5, 200, 4);
    EXPECT_EQ(a.pixels, b.pixels);
    EXPECT_EQ(a.labels, b.labels);
    const auto c = make_synthetic(3, 16, 5, 200, 6);
    EXPECT_NE(a.pixels, c.pixels);
    std::set<std::int64_t> seen(a.labels.begin(), a.labels.end());
    EXPECT_EQ(seen.size(), 5u);
    for (const auto l : a.labels) ASSERT_LT(l, 5);
    // Train (even seed) and test (odd) share the class templates: the per-class mean images
    // agree far better than those of different classes.
    const auto t = make_synthetic(3, 16, 5, 200, 5);
    auto class_mean = [](const image_set& s, int k) {
        std::vector<double> m(s.image_bytes());
        int n = 0;
        for (std::size_t i = 0; i < s.size(); ++i)
            if (s.labels[i] == k) {
                ++n;
                for (std::size_t j = 0; j < m.size(); ++j) m[j] += s.pixels[i * m.size() + j];
            }
        for (auto& v : m) v /= n;
        return m;
    };
    auto dist = [](const std::vector<double>& x, const std::vector<double>& y) {
        double d = 0;
        for (std::size_t i = 0; i < x.size(); ++i) d += (x[i] - y[i]) * (x[i] - y[i]);
        return d;
    };
    EXPECT_LT(dist(class_mean(a, 0), class_mean(t, 0)) * 4,
              dist(class_mean(a, 0), class_mean(t, 1)));
}

TEST(collect_data, batches_normalize_pad_and_are_reproducible) {
    image_set s;
    s.channels = 1;
    s.height = s.width = 28;
    s.classes = 10;
    s.pixels.resize(2 * 28 * 28);
    for (std::size_t i = 0; i < s.pixels.size(); ++i)
        s.pixels[i] = static_cast<std::uint8_t>(i % 251);
    s.labels = {4, 7};
    s.mean = {0.25f};
    s.stddev = {0.5f};
    const std::uint32_t idx[] = {1, 0};

    collect_rng rng(1);
    const auto aug = augment_for("fashion-mnist", true, 32);
    EXPECT_EQ(aug.crop_padding, 0); // MNIST-like data gets normalization only
    ASSERT_EQ(batch_height(s, aug), 32);
    std::vector<float> x(2 * 32 * 32);
    std::int64_t y[2];
    make_batch(s, idx, aug, rng, x.data(), y);
    EXPECT_EQ(y[0], 7);
    EXPECT_EQ(y[1], 4);
    EXPECT_FLOAT_EQ(x[0], -0.5f); // the zero border: (0 - 0.25) / 0.5
    const float p = s.pixels[28 * 28 + 5 * 28 + 9];
    EXPECT_NEAR(x[(5 + 2) * 32 + 9 + 2], (p / 255 - 0.25f) / 0.5f, 1e-6);
}

TEST(collect_data, augmentations_move_pixels_as_torchvision) {
    image_set s;
    s.channels = 3;
    s.height = s.width = 32;
    s.classes = 10;
    s.pixels.resize(3 * 32 * 32);
    for (std::size_t i = 0; i < s.pixels.size(); ++i)
        s.pixels[i] = static_cast<std::uint8_t>(1 + i % 200);
    s.labels = {0};
    s.mean = {0, 0, 0};
    s.stddev = {1, 1, 1};
    const std::uint32_t idx[] = {0};
    std::vector<float> x(3 * 32 * 32);
    std::int64_t y;
    auto px = [&](int c, int r, int q) {
        return std::lround(x[static_cast<std::size_t>(c * 1024 + r * 32 + q)] * 255);
    };
    auto src = [&](int c, int r, int q) {
        return static_cast<long>(s.pixels[static_cast<std::size_t>(c * 1024 + r * 32 + q)]);
    };

    // CIFAR-10: each draw is the image shifted by up to 4 pixels (zeros enter), maybe mirrored.
    const auto cifar = augment_for("cifar10", true, 0);
    collect_rng rng(9);
    std::set<std::pair<int, int>> shifts;
    int flips = 0;
    for (int trial = 0; trial < 200; ++trial) {
        make_batch(s, idx, cifar, rng, x.data(), &y);
        bool found = false;
        for (int flip = 0; flip < 2 && !found; ++flip)
            for (int dy = -4; dy <= 4 && !found; ++dy)
                for (int dx = -4; dx <= 4 && !found; ++dx) {
                    bool ok = true;
                    for (int c = 0; c < 3 && ok; ++c)
                        for (int r = 0; r < 32 && ok; ++r)
                            for (int q = 0; q < 32 && ok; ++q) {
                                const int qq = flip ? 31 - q : q;
                                const int sr = r + dy, sq = qq + dx;
                                const long want =
                                    (sr >= 0 && sr < 32 && sq >= 0 && sq < 32) ? src(c, sr, sq) : 0;
                                ok = px(c, r, q) == want;
                            }
                    if (ok) {
                        found = true;
                        shifts.insert({dy, dx});
                        flips += flip;
                    }
                }
        ASSERT_TRUE(found) << "trial " << trial;
    }
    EXPECT_GT(shifts.size(), 40u); // most of the 81 offsets occur
    EXPECT_GT(flips, 60);
    EXPECT_LT(flips, 140);

    // TinyImageNet: rotation by up to 20 degrees about the centre, nearest neighbour, so
    // every output pixel is a source pixel of the same channel or the zero fill, and the
    // centre stays close.
    const auto tin = augment_for("tinyimagenet", true, 0);
    EXPECT_EQ(tin.rotate_degrees, 20);
    for (int trial = 0; trial < 20; ++trial) {
        make_batch(s, idx, tin, rng, x.data(), &y);
        for (int c = 0; c < 3; ++c) {
            std::set<long> values;
            for (int k = 0; k < 1024; ++k) values.insert(src(c, k / 32, k % 32));
            for (int k = 0; k < 1024; ++k) {
                const long v = px(c, k / 32, k % 32);
                ASSERT_TRUE(v == 0 || values.count(v)) << v;
            }
        }
        int zeros = 0;
        for (int k = 0; k < 1024; ++k) zeros += px(0, k / 32, k % 32) == 0;
        EXPECT_LT(zeros, 250); // corners only
    }

    // Same generator state, same batch.
    collect_rng r1(5), r2(5);
    std::vector<float> x2(x.size());
    make_batch(s, idx, cifar, r1, x.data(), &y);
    make_batch(s, idx, cifar, r2, x2.data(), &y);
    EXPECT_EQ(x, x2);
}

TEST(collect_data, datasets_by_name) {
    errc code{};
    auto msg = error_of([] { find_dataset_spec(params_for("imagenet", "")); }, &code);
    EXPECT_EQ(code, errc::usage);
    EXPECT_NE(msg.find("fashion-mnist, mnist, cifar10, tinyimagenet, synthetic"),
              std::string::npos);

    msg = error_of([] { dataset_dir(params_for("mnist", "")); }, &code);
    EXPECT_EQ(code, errc::usage);
    EXPECT_NE(msg.find("--data"), std::string::npos) << msg;
    EXPECT_NE(msg.find("train-images-idx3-ubyte"), std::string::npos) << msg;

    EXPECT_EQ(dataset_dir(params_for("fashion-mnist", "")), "/usr/share/datasets/fashion-mnist");

    temp_dir dir;
    msg = error_of(
        [&] { load_dataset(params_for("fashion-mnist", dir.file("nope")), split::train); }, &code);
    EXPECT_EQ(code, errc::io);
    EXPECT_NE(msg.find(dir.file("nope")), std::string::npos) << msg;
    EXPECT_NE(msg.find("train-images-idx3-ubyte[.gz]"), std::string::npos) << msg;
    msg = error_of([&] { load_dataset(params_for("cifar10", dir.path()), split::train); }, &code);
    EXPECT_EQ(code, errc::io);
    EXPECT_NE(msg.find("data_batch_1.bin"), std::string::npos) << msg;

    auto p = params_for("synthetic", "");
    p.synthetic_channels = 2;
    p.synthetic_size = 12;
    p.synthetic_classes = 3;
    p.synthetic_samples = 40;
    const auto s = load_dataset(p, split::train);
    EXPECT_EQ(s.size(), 40u);
    EXPECT_EQ(s.channels, 2);
    EXPECT_EQ(load_dataset(p, split::test).size(), 10u);
    const auto info = experimental::collect_dataset(p);
    EXPECT_EQ(info.height, 12);
    EXPECT_EQ(info.classes, 3);

    // Parameter checks name the option.
    auto q = experimental::default_collect_params();
    q.arch = "alexnet";
    EXPECT_NE(error_of([&] { check_collect_params(q); }).find("unknown arch 'alexnet'"),
              std::string::npos);
    q = experimental::default_collect_params();
    q.batch = 0;
    EXPECT_NE(error_of([&] { check_collect_params(q); }).find("--batch"), std::string::npos);
    q = experimental::default_collect_params();
    q.optimizer = "adam";
    EXPECT_NE(error_of([&] { check_collect_params(q); }).find("--optimizer"), std::string::npos);
    q = params_for("synthetic", "");
    q.arch = "vgg16";
    q.synthetic_size = 64;
    EXPECT_NE(error_of([&] { check_collect_params(q); }).find("32x32"), std::string::npos);
    // 28x28 data is padded to 32x32 for every arch but convnet.
    const auto fm = find_dataset_spec(params_for("fashion-mnist", ""));
    EXPECT_EQ(arch_pad_to("vgg16", fm), 32);
    EXPECT_EQ(arch_pad_to("convnet", fm), 0);
}
