// Dataset readers and the paper's augmentations for gradient collection, in plain C++ so
// that they are testable without LibTorch and give identical batches on every device.
#include "collect/collect-data.hpp"

#include "common/common-error.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <numbers>

#ifdef LMGC_HAVE_ZLIB
#include <zlib.h>
#endif

namespace lmgc::detail {

namespace fs = std::filesystem;

// ---- random numbers ----

void shuffle_indices(std::vector<std::uint32_t>& idx, collect_rng& rng) {
    for (std::size_t i = idx.size(); i > 1; --i) std::swap(idx[i - 1], idx[rng.below(i)]);
}

// ---- IDX (MNIST, Fashion-MNIST) ----

namespace {

bool is_gzip(byte_span data) {
    return data.size() >= 2 && data[0] == 0x1f && data[1] == 0x8b;
}

bytes gunzip(byte_span data, const std::string& path) {
#ifdef LMGC_HAVE_ZLIB
    z_stream zs{};
    LMGC_CHECK(inflateInit2(&zs, 16 + MAX_WBITS) == Z_OK, errc::internal, "zlib init failed");
    bytes out(std::max<std::size_t>(data.size() * 4, 1 << 16));
    zs.next_in = const_cast<Bytef*>(data.data());
    zs.avail_in = static_cast<uInt>(data.size());
    LMGC_CHECK(data.size() == zs.avail_in, errc::bad_input, path, ": gzip file over 4 GB");
    std::size_t done = 0;
    for (;;) {
        if (done == out.size()) {
            if (out.size() >= (std::size_t{1} << 31)) {
                inflateEnd(&zs);
                LMGC_FAIL(errc::bad_input, path, ": decompresses to more than 2 GB");
            }
            out.resize(out.size() * 2);
        }
        zs.next_out = out.data() + done;
        zs.avail_out = static_cast<uInt>(std::min<std::size_t>(out.size() - done, 1u << 30));
        const auto before = zs.avail_out;
        const int rc = inflate(&zs, Z_NO_FLUSH);
        done += before - zs.avail_out;
        if (rc == Z_STREAM_END) break;
        if (rc != Z_OK && rc != Z_BUF_ERROR) {
            inflateEnd(&zs);
            LMGC_FAIL(errc::bad_input, path, ": corrupt gzip data");
        }
        if (rc == Z_BUF_ERROR && zs.avail_in == 0) {
            inflateEnd(&zs);
            LMGC_FAIL(errc::bad_input, path, ": truncated gzip data");
        }
    }
    inflateEnd(&zs);
    out.resize(done);
    return out;
#else
    (void)data;
    LMGC_FAIL(errc::unsupported, path,
              ": gzip-compressed, and this lmgc was built without zlib (gunzip it first)");
#endif
}

bytes read_maybe_gzip(const std::string& path) {
    auto data = read_file(path);
    if (is_gzip(data)) return gunzip(data, path);
    return data;
}

struct idx_array {
    std::vector<std::uint32_t> dims;
    std::size_t offset = 0;
};

idx_array parse_idx(byte_span data, const std::string& path, std::size_t want_dims) {
    LMGC_CHECK(data.size() >= 4 && data[0] == 0 && data[1] == 0, errc::bad_input, path,
               ": not an IDX file (bad magic)");
    LMGC_CHECK(data[2] == 0x08, errc::bad_input, path, ": IDX element type 0x", std::hex,
               int{data[2]}, std::dec, " is not unsigned byte (0x08)");
    LMGC_CHECK(data[3] == want_dims, errc::bad_input, path, ": IDX file has ", int{data[3]},
               " dimensions, expected ", want_dims);
    LMGC_CHECK(data.size() >= 4 + 4 * want_dims, errc::bad_input, path, ": truncated IDX header");
    idx_array a;
    std::uint64_t n = 1;
    for (std::size_t i = 0; i < want_dims; ++i) {
        const std::uint8_t* p = data.data() + 4 + 4 * i;
        const std::uint32_t d = (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) |
                                (std::uint32_t{p[2]} << 8) | std::uint32_t{p[3]};
        a.dims.push_back(d);
        n *= d;
        LMGC_CHECK(n <= (std::uint64_t{1} << 34), errc::bad_input, path,
                   ": IDX dimensions too large");
    }
    a.offset = 4 + 4 * want_dims;
    LMGC_CHECK(data.size() - a.offset == n, errc::bad_input, path, ": IDX data has ",
               data.size() - a.offset, " bytes, the header says ", n);
    return a;
}

} // namespace

image_set read_idx_pair(const std::string& images_path, const std::string& labels_path,
                        int classes) {
    const auto img = read_maybe_gzip(images_path);
    const auto lab = read_maybe_gzip(labels_path);
    const auto ia = parse_idx(img, images_path, 3);
    const auto la = parse_idx(lab, labels_path, 1);
    LMGC_CHECK(ia.dims[0] == la.dims[0], errc::bad_input, images_path, " holds ", ia.dims[0],
               " images but ", labels_path, " holds ", la.dims[0], " labels");
    LMGC_CHECK(ia.dims[0] > 0 && ia.dims[1] > 0 && ia.dims[2] > 0, errc::bad_input, images_path,
               ": no images");
    LMGC_CHECK(ia.dims[1] <= 4096 && ia.dims[2] <= 4096, errc::bad_input, images_path,
               ": images of ", ia.dims[1], "x", ia.dims[2], " are too large");
    image_set s;
    s.channels = 1;
    s.height = static_cast<int>(ia.dims[1]);
    s.width = static_cast<int>(ia.dims[2]);
    s.classes = classes;
    s.pixels.assign(img.begin() + static_cast<std::ptrdiff_t>(ia.offset), img.end());
    s.labels.reserve(la.dims[0]);
    for (std::size_t i = 0; i < la.dims[0]; ++i) {
        const int l = lab[la.offset + i];
        LMGC_CHECK(l < classes, errc::bad_input, labels_path, ": label ", l, " of item ", i,
                   " is outside [0, ", classes, ")");
        s.labels.push_back(l);
    }
    return s;
}

image_set load_idx_dataset(const std::string& dir, split which, const std::string& dataset,
                           const std::string& what_to_do) {
    const std::string prefix = which == split::train ? "train" : "t10k";
    auto find = [&](const std::string& stem) {
        // The canonical names, gzipped or not, and the dotted variant some mirrors use
        // ("train-images.idx3-ubyte").
        std::string dotted = stem;
        dotted[dotted.find('-', 1)] = '.';
        for (const auto& s : {stem, stem + ".gz", dotted, dotted + ".gz"}) {
            const auto p = fs::path(dir) / (prefix + s);
            if (fs::is_regular_file(p)) return p.string();
        }
        LMGC_FAIL(errc::io, dataset, ": '", dir, "' has no ", prefix, stem, "[.gz] (expected ",
                  prefix, "-images-idx3-ubyte[.gz] and ", prefix, "-labels-idx1-ubyte[.gz] there",
                  what_to_do.empty() ? "" : "; ", what_to_do, ")");
    };
    const auto images = find("-images-idx3-ubyte");
    const auto labels = find("-labels-idx1-ubyte");
    return with_context(dataset, [&] { return read_idx_pair(images, labels, 10); });
}

// ---- CIFAR-10 ----

image_set load_cifar10(const std::string& dir_in, split which) {
    std::string dir = dir_in;
    if (!fs::exists(fs::path(dir) / "test_batch.bin") &&
        fs::is_directory(fs::path(dir) / "cifar-10-batches-bin"))
        dir = (fs::path(dir) / "cifar-10-batches-bin").string();
    std::vector<std::string> names;
    if (which == split::train)
        for (int i = 1; i <= 5; ++i) names.push_back("data_batch_" + std::to_string(i) + ".bin");
    else
        names.push_back("test_batch.bin");
    image_set s;
    s.channels = 3;
    s.height = s.width = 32;
    s.classes = 10;
    constexpr std::size_t rec = 1 + 3 * 32 * 32;
    for (const auto& n : names) {
        const auto p = (fs::path(dir) / n).string();
        LMGC_CHECK(fs::is_regular_file(p), errc::io, "cifar10: '", dir, "' has no ", n,
                   " (expected data_batch_1.bin ... data_batch_5.bin and test_batch.bin of the "
                   "binary version, in --data DIR or DIR/cifar-10-batches-bin)");
        const auto data = read_file(p);
        LMGC_CHECK(!data.empty() && data.size() % rec == 0, errc::bad_input, "cifar10: ", p,
                   " has ", data.size(), " bytes, not a multiple of the record size ", rec);
        for (std::size_t off = 0; off < data.size(); off += rec) {
            LMGC_CHECK(data[off] < 10, errc::bad_input, "cifar10: ", p, ": label ", int{data[off]},
                       " of record ", off / rec, " is outside [0, 10)");
            s.labels.push_back(data[off]);
            s.pixels.insert(s.pixels.end(), data.begin() + static_cast<std::ptrdiff_t>(off + 1),
                            data.begin() + static_cast<std::ptrdiff_t>(off + rec));
        }
    }
    return s;
}

// ---- resizing ----

namespace {

// Per output pixel: first input index and weights, as PIL's precompute_coeffs (bilinear).
struct resample_coeffs {
    std::vector<int> first, count;
    std::vector<double> weights; // out_size * max_taps
    int max_taps = 0;
};

resample_coeffs bilinear_coeffs(int in_size, int out_size) {
    const double scale = static_cast<double>(in_size) / out_size;
    const double filterscale = std::max(scale, 1.0);
    const double support = 1.0 * filterscale;
    resample_coeffs c;
    c.max_taps = static_cast<int>(std::ceil(support)) * 2 + 1;
    c.first.resize(static_cast<std::size_t>(out_size));
    c.count.resize(static_cast<std::size_t>(out_size));
    c.weights.assign(static_cast<std::size_t>(out_size) * static_cast<std::size_t>(c.max_taps), 0);
    for (int i = 0; i < out_size; ++i) {
        const double center = (i + 0.5) * scale;
        int xmin = static_cast<int>(center - support + 0.5);
        if (xmin < 0) xmin = 0;
        int xmax = static_cast<int>(center + support + 0.5);
        if (xmax > in_size) xmax = in_size;
        xmax -= xmin;
        double* w =
            c.weights.data() + static_cast<std::size_t>(i) * static_cast<std::size_t>(c.max_taps);
        double total = 0;
        for (int x = 0; x < xmax && x < c.max_taps; ++x) {
            const double t = std::abs((x + xmin - center + 0.5) / filterscale);
            w[x] = t < 1 ? 1 - t : 0;
            total += w[x];
        }
        for (int x = 0; x < xmax && x < c.max_taps; ++x)
            if (total != 0) w[x] /= total;
        c.first[static_cast<std::size_t>(i)] = xmin;
        c.count[static_cast<std::size_t>(i)] = std::min(xmax, c.max_taps);
    }
    return c;
}

std::uint8_t clip_round(double v) {
    const double r = std::floor(v + 0.5);
    return static_cast<std::uint8_t>(r < 0 ? 0 : r > 255 ? 255 : r);
}

} // namespace

std::vector<std::uint8_t> resize_bilinear_hwc(const std::uint8_t* src, int width, int height,
                                              int channels, int out_width, int out_height) {
    // Horizontal pass then vertical, rounding to 8 bits in between, as PIL does.
    const auto cx = bilinear_coeffs(width, out_width);
    const auto cy = bilinear_coeffs(height, out_height);
    const auto C = static_cast<std::size_t>(channels);
    std::vector<std::uint8_t> tmp(static_cast<std::size_t>(height) *
                                  static_cast<std::size_t>(out_width) * C);
    for (int y = 0; y < height; ++y)
        for (int x = 0; x < out_width; ++x) {
            const double* w = cx.weights.data() +
                              static_cast<std::size_t>(x) * static_cast<std::size_t>(cx.max_taps);
            for (std::size_t c = 0; c < C; ++c) {
                double acc = 0;
                for (int k = 0; k < cx.count[static_cast<std::size_t>(x)]; ++k)
                    acc +=
                        w[k] *
                        src[(static_cast<std::size_t>(y) * static_cast<std::size_t>(width) +
                             static_cast<std::size_t>(cx.first[static_cast<std::size_t>(x)] + k)) *
                                C +
                            c];
                tmp[(static_cast<std::size_t>(y) * static_cast<std::size_t>(out_width) +
                     static_cast<std::size_t>(x)) *
                        C +
                    c] = clip_round(acc);
            }
        }
    std::vector<std::uint8_t> out(static_cast<std::size_t>(out_height) *
                                  static_cast<std::size_t>(out_width) * C);
    for (int y = 0; y < out_height; ++y) {
        const double* w =
            cy.weights.data() + static_cast<std::size_t>(y) * static_cast<std::size_t>(cy.max_taps);
        for (int x = 0; x < out_width; ++x)
            for (std::size_t c = 0; c < C; ++c) {
                double acc = 0;
                for (int k = 0; k < cy.count[static_cast<std::size_t>(y)]; ++k)
                    acc +=
                        w[k] *
                        tmp[(static_cast<std::size_t>(cy.first[static_cast<std::size_t>(y)] + k) *
                                 static_cast<std::size_t>(out_width) +
                             static_cast<std::size_t>(x)) *
                                C +
                            c];
                out[(static_cast<std::size_t>(y) * static_cast<std::size_t>(out_width) +
                     static_cast<std::size_t>(x)) *
                        C +
                    c] = clip_round(acc);
            }
    }
    return out;
}

// ---- TinyImageNet ----

image_set load_tinyimagenet(const std::string& dir, split which) {
    LMGC_CHECK(have_jpeg(), errc::unsupported,
               "tinyimagenet: this lmgc was built without libjpeg (install libjpeg62-turbo-dev "
               "and rebuild)");
    const std::string expected =
        " (expected the standard layout in --data DIR: wnids.txt, train/<wnid>/images/*.JPEG, "
        "val/images/*.JPEG and val/val_annotations.txt)";
    const auto wnids_path = (fs::path(dir) / "wnids.txt").string();
    LMGC_CHECK(fs::is_regular_file(wnids_path), errc::io, "tinyimagenet: '", dir,
               "' has no wnids.txt", expected);
    std::vector<std::string> wnids;
    {
        std::ifstream in(wnids_path);
        std::string line;
        while (std::getline(in, line)) {
            while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
            if (!line.empty()) wnids.push_back(line);
        }
    }
    LMGC_CHECK(!wnids.empty(), errc::bad_input, "tinyimagenet: ", wnids_path, " lists no classes");
    // Class indices follow the sorted names, as torchvision's ImageFolder numbers them.
    std::sort(wnids.begin(), wnids.end());
    LMGC_CHECK(std::adjacent_find(wnids.begin(), wnids.end()) == wnids.end(), errc::bad_input,
               "tinyimagenet: ", wnids_path, " lists a class twice");
    std::map<std::string, int> cls;
    for (std::size_t i = 0; i < wnids.size(); ++i) cls[wnids[i]] = static_cast<int>(i);

    std::vector<std::pair<std::string, int>> files;
    if (which == split::train) {
        for (const auto& w : wnids) {
            const auto d = fs::path(dir) / "train" / w / "images";
            LMGC_CHECK(fs::is_directory(d), errc::io, "tinyimagenet: no folder '", d.string(), "'",
                       expected);
            std::vector<std::string> names;
            for (const auto& e : fs::directory_iterator(d))
                if (e.is_regular_file()) names.push_back(e.path().string());
            std::sort(names.begin(), names.end());
            for (auto& n : names) files.emplace_back(std::move(n), cls[w]);
        }
    } else {
        const auto ann = (fs::path(dir) / "val" / "val_annotations.txt").string();
        LMGC_CHECK(fs::is_regular_file(ann), errc::io, "tinyimagenet: no '", ann, "'", expected);
        std::ifstream in(ann);
        std::string line;
        while (std::getline(in, line)) {
            const auto t1 = line.find('\t');
            if (t1 == std::string::npos) continue;
            const auto t2 = line.find('\t', t1 + 1);
            const auto w =
                line.substr(t1 + 1, t2 == std::string::npos ? std::string::npos : t2 - t1 - 1);
            const auto it = cls.find(w);
            LMGC_CHECK(it != cls.end(), errc::bad_input, "tinyimagenet: ", ann, " names class '", w,
                       "', which wnids.txt does not list");
            files.emplace_back((fs::path(dir) / "val" / "images" / line.substr(0, t1)).string(),
                               it->second);
        }
    }
    LMGC_CHECK(!files.empty(), errc::io, "tinyimagenet: no images found in '", dir, "'", expected);

    image_set s;
    s.channels = 3;
    s.height = s.width = 32;
    s.classes = static_cast<int>(wnids.size());
    s.pixels.resize(files.size() * 3 * 32 * 32);
    s.labels.reserve(files.size());
    std::vector<std::uint8_t> rgb;
    for (std::size_t i = 0; i < files.size(); ++i) {
        int w = 0, h = 0;
        decode_jpeg_rgb(read_file(files[i].first), files[i].first, &w, &h, &rgb);
        const auto small =
            (w == 32 && h == 32) ? rgb : resize_bilinear_hwc(rgb.data(), w, h, 3, 32, 32);
        std::uint8_t* dst = s.pixels.data() + i * 3 * 32 * 32;
        for (int c = 0; c < 3; ++c)
            for (int p = 0; p < 32 * 32; ++p)
                dst[c * 32 * 32 + p] =
                    small[static_cast<std::size_t>(p) * 3 + static_cast<std::size_t>(c)];
        s.labels.push_back(files[i].second);
    }
    return s;
}

// ---- synthetic ----

image_set make_synthetic(int channels, int size, int classes, int samples, std::uint64_t seed) {
    LMGC_CHECK(channels >= 1 && channels <= 16 && size >= 4 && size <= 512 && classes >= 2 &&
                   classes <= 100000 && samples >= 1,
               errc::usage,
               "synthetic: need 1-16 channels, size 4-512, at least 2 classes and 1 sample");
    image_set s;
    s.channels = channels;
    s.height = s.width = size;
    s.classes = classes;
    const std::size_t per = s.image_bytes();
    // Templates depend on the seed's high part only, so train and test (seed ^ 1) share them.
    collect_rng trng(seed & ~std::uint64_t{1});
    std::vector<std::uint8_t> templates(per * static_cast<std::size_t>(classes));
    for (auto& t : templates) t = static_cast<std::uint8_t>(trng.below(256));
    collect_rng rng(seed * 0x9e3779b97f4a7c15ULL + 12345);
    s.pixels.resize(per * static_cast<std::size_t>(samples));
    s.labels.resize(static_cast<std::size_t>(samples));
    for (std::size_t i = 0; i < static_cast<std::size_t>(samples); ++i) {
        const auto label = rng.below(static_cast<std::uint64_t>(classes));
        s.labels[i] = static_cast<std::int64_t>(label);
        const std::uint8_t* t = templates.data() + label * per;
        for (std::size_t k = 0; k < per; ++k) {
            // Noise of std ~64 from a sum of uniforms: the class stays visible but not trivially.
            const double noise = (rng.uniform() + rng.uniform() + rng.uniform() - 1.5) * 128;
            s.pixels[i * per + k] = clip_round(0.5 * t[k] + 64 + noise);
        }
    }
    s.mean.assign(static_cast<std::size_t>(channels), 0.5f);
    s.stddev.assign(static_cast<std::size_t>(channels), 0.25f);
    return s;
}

// ---- augmentation and batches ----

augment_spec augment_for(const std::string& dataset, bool enabled, int pad_to) {
    augment_spec a;
    a.pad_to = pad_to;
    if (!enabled) return a;
    if (dataset == "cifar10") {
        a.crop_padding = 4;
        a.hflip = true;
    } else if (dataset == "tinyimagenet") {
        a.rotate_degrees = 20;
        a.hflip = true;
    }
    return a;
}

int batch_height(const image_set& set, const augment_spec& aug) {
    return std::max(set.height, aug.pad_to);
}
int batch_width(const image_set& set, const augment_spec& aug) {
    return std::max(set.width, aug.pad_to);
}

void make_batch(const image_set& set, std::span<const std::uint32_t> indices,
                const augment_spec& aug, collect_rng& rng, float* out, std::int64_t* labels) {
    const int C = set.channels;
    const int H = batch_height(set, aug), W = batch_width(set, aug);
    const auto plane = static_cast<std::size_t>(H) * static_cast<std::size_t>(W);
    std::vector<std::uint8_t> a(plane * static_cast<std::size_t>(C)), b(a.size());
    std::vector<float> scale(static_cast<std::size_t>(C)), shift(static_cast<std::size_t>(C));
    for (int c = 0; c < C; ++c) {
        const float m = set.mean.empty() ? 0.f : set.mean[static_cast<std::size_t>(c)];
        const float s = set.stddev.empty() ? 1.f : set.stddev[static_cast<std::size_t>(c)];
        scale[static_cast<std::size_t>(c)] = 1.f / (255.f * s);
        shift[static_cast<std::size_t>(c)] = -m / s;
    }
    auto at = [&](std::vector<std::uint8_t>& v, int c, int y, int x) -> std::uint8_t& {
        return v[static_cast<std::size_t>(c) * plane +
                 static_cast<std::size_t>(y) * static_cast<std::size_t>(W) +
                 static_cast<std::size_t>(x)];
    };
    for (std::size_t n = 0; n < indices.size(); ++n) {
        const std::size_t i = indices[n];
        LMGC_ASSERT(i < set.size());
        // Place the stored image centred on a zero canvas (pad_to).
        std::fill(a.begin(), a.end(), 0);
        const int oy = (H - set.height) / 2, ox = (W - set.width) / 2;
        const std::uint8_t* src = set.pixels.data() + i * set.image_bytes();
        for (int c = 0; c < C; ++c)
            for (int y = 0; y < set.height; ++y)
                std::memcpy(
                    &at(a, c, y + oy, ox),
                    src + (static_cast<std::size_t>(c) * static_cast<std::size_t>(set.height) +
                           static_cast<std::size_t>(y)) *
                              static_cast<std::size_t>(set.width),
                    static_cast<std::size_t>(set.width));
        if (aug.crop_padding > 0) {
            const int p = aug.crop_padding;
            const int dy = static_cast<int>(rng.below(static_cast<std::uint64_t>(2 * p + 1))) - p;
            const int dx = static_cast<int>(rng.below(static_cast<std::uint64_t>(2 * p + 1))) - p;
            for (int c = 0; c < C; ++c)
                for (int y = 0; y < H; ++y)
                    for (int x = 0; x < W; ++x) {
                        const int sy = y + dy, sx = x + dx;
                        at(b, c, y, x) =
                            (sy >= 0 && sy < H && sx >= 0 && sx < W) ? at(a, c, sy, sx) : 0;
                    }
            std::swap(a, b);
        }
        if (aug.rotate_degrees > 0) {
            // PIL's rotate(angle, NEAREST, expand=False, fill=0): the inverse map of each
            // output pixel centre, counter-clockwise for positive angles.
            const double angle = (rng.uniform() * 2 - 1) * aug.rotate_degrees;
            const double t = -angle * std::numbers::pi / 180;
            const double ca = std::cos(t), sa = std::sin(t);
            const double cx = W * 0.5, cy = H * 0.5;
            for (int y = 0; y < H; ++y)
                for (int x = 0; x < W; ++x) {
                    const double xo = x + 0.5 - cx, yo = y + 0.5 - cy;
                    const double xi = ca * xo + sa * yo + cx, yi = -sa * xo + ca * yo + cy;
                    const int ix = static_cast<int>(std::floor(xi)),
                              iy = static_cast<int>(std::floor(yi));
                    const bool inside = ix >= 0 && ix < W && iy >= 0 && iy < H;
                    for (int c = 0; c < C; ++c) at(b, c, y, x) = inside ? at(a, c, iy, ix) : 0;
                }
            std::swap(a, b);
        }
        if (aug.hflip && rng.uniform() < 0.5) {
            for (int c = 0; c < C; ++c)
                for (int y = 0; y < H; ++y) {
                    std::uint8_t* row = &at(a, c, y, 0);
                    std::reverse(row, row + W);
                }
        }
        float* dst = out + n * plane * static_cast<std::size_t>(C);
        for (int c = 0; c < C; ++c) {
            const float sc = scale[static_cast<std::size_t>(c)],
                        sh = shift[static_cast<std::size_t>(c)];
            const std::uint8_t* p = a.data() + static_cast<std::size_t>(c) * plane;
            float* d = dst + static_cast<std::size_t>(c) * plane;
            for (std::size_t k = 0; k < plane; ++k) d[k] = static_cast<float>(p[k]) * sc + sh;
        }
        labels[n] = set.labels[i];
    }
}

} // namespace lmgc::detail
