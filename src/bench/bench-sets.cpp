// Gradient sets and codec specs for `lmgc bench`: which files a set holds (folders of
// `lmgc collect` output), what their safetensors metadata says they are, and how a codec
// spec such as "lm:MODEL_DIR:Hs:tokens=symbol" becomes a codec name and its settings.
#include "bench/bench-internal.hpp"

#include "common/common-error.hpp"
#include "common/common-json.hpp"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <set>

namespace lmgc::experimental {

namespace fs = std::filesystem;
using namespace lmgc::detail;

namespace {

// The paper's serialization names (Table 1) next to lmgc's.
const std::pair<const char*, const char*> paper_serializations[] = {
    {"iso", "iso"},      {"Hn", "hex-none"},          {"Hs", "hex-space"},
    {"Hc", "hex-comma"}, {"Hc+s", "hex-comma+space"}, {"Hsemi", "hex-semicolon"},
    {"H0x", "hex-0x"},
};

std::vector<std::string> split(const std::string& s, char sep) {
    std::vector<std::string> out;
    std::size_t start = 0;
    while (true) {
        const auto p = s.find(sep, start);
        out.push_back(s.substr(start, p == std::string::npos ? std::string::npos : p - start));
        if (p == std::string::npos) break;
        start = p + 1;
    }
    return out;
}

std::string base_name(std::string s) {
    while (s.size() > 1 && s.back() == '/') s.pop_back();
    const auto p = s.find_last_of('/');
    return p == std::string::npos ? s : s.substr(p + 1);
}

bool is_tensor_extension(const std::string& ext) {
    return ext == "npy" || ext == "safetensors" || ext == "pt" || ext == "pth" || ext == "ckpt";
}

std::string extension_of(const fs::path& p) {
    auto e = p.extension().string();
    if (!e.empty() && e[0] == '.') e.erase(0, 1);
    return e;
}

// The __metadata__ strings of a safetensors file, read from its header alone; empty when the
// file is not safetensors or has none. Never throws: labels are a courtesy, not a check.
std::map<std::string, std::string> safetensors_metadata(const std::string& path) {
    std::map<std::string, std::string> out;
    std::FILE* f = std::fopen(path.c_str(), "rb");
    if (!f) return out;
    std::uint8_t len_le[8];
    std::string header;
    if (std::fread(len_le, 1, 8, f) == 8) {
        std::uint64_t n = 0;
        for (int i = 7; i >= 0; --i) n = n << 8 | len_le[i];
        if (n > 0 && n < (std::uint64_t{100} << 20)) {
            header.resize(n);
            if (std::fread(header.data(), 1, n, f) != n) header.clear();
        }
    }
    std::fclose(f);
    if (header.empty()) return out;
    try {
        const auto doc = json_parse(header, "safetensors header");
        if (const auto* meta = doc.find("__metadata__"); meta && meta->is_object())
            for (const auto& [k, v] : meta->as_object())
                if (v.is_string()) out[k] = v.as_string();
    } catch (const error&) {
    }
    return out;
}

} // namespace

} // namespace lmgc::experimental

namespace lmgc::detail {

std::string bench_dataset_label(const std::string& d) {
    static const std::map<std::string, std::string> names = {
        {"mnist", "MNIST"},         {"fashion-mnist", "Fashion-MNIST"},
        {"cifar10", "CIFAR-10"},    {"tinyimagenet", "TinyImageNet"},
        {"synthetic", "synthetic"},
    };
    const auto it = names.find(d);
    return it == names.end() ? d : it->second;
}

std::string bench_arch_label(const std::string& a) {
    static const std::map<std::string, std::string> names = {
        {"convnet", "ConvNet"}, {"vgg16", "VGG16"}, {"resnet18", "ResNet18"}, {"vit", "ViT"}};
    const auto it = names.find(a);
    return it == names.end() ? a : it->second;
}

} // namespace lmgc::detail

namespace lmgc::experimental {

bench_codec parse_bench_codec(const std::string& spec) {
    LMGC_CHECK(!spec.empty(), errc::usage, "empty codec name");
    const auto parts = split(spec, ':');
    bench_codec c;
    c.spec = spec;
    c.codec = parts[0];
    c.is_model = c.codec == "cm" || c.codec == "lm";
    const auto all = list_codecs();
    const auto it = std::find_if(all.begin(), all.end(),
                                 [&](const codec_description& d) { return d.name == c.codec; });
    std::size_t first_setting = 1;
    std::string label = c.codec;
    if (c.codec == "lm") {
        // lm:MODEL_DIR:SERIALIZATION[:KEY=VALUE...]
        const std::string dir = parts.size() > 1 ? parts[1] : "";
        std::string ser = parts.size() > 2 ? parts[2] : "hex-space";
        LMGC_CHECK(ser.find('=') == std::string::npos, errc::usage, "codec '", spec,
                   "': write lm:MODEL_DIR:SERIALIZATION[:KEY=VALUE...]");
        for (const auto& [paper, ours] : paper_serializations)
            if (ser == paper) ser = ours;
        const auto modes = serialize_modes();
        LMGC_CHECK(std::find(modes.begin(), modes.end(), ser) != modes.end(), errc::usage,
                   "codec '", spec, "': unknown serialization '", parts.size() > 2 ? parts[2] : "",
                   "' (iso, Hn, Hs, Hc, Hc+s, Hsemi or lmgc's names: hex-none, hex-space, ...)");
        if (!dir.empty()) c.options.emplace_back("model", dir);
        c.options.emplace_back("serialization", ser);
        label = "lm:" + (dir.empty() ? std::string("?") : base_name(dir)) + ":" +
                (parts.size() > 2 ? parts[2] : ser);
        first_setting = 3;
        if (it == all.end() || !it->available)
            c.skip = it == all.end() ? "this lmgc has no lm codec"
                                     : "codec lm is not built in (" + it->why_missing + ")";
        else if (dir.empty())
            c.skip = "no model folder (write lm:MODEL_DIR:SERIALIZATION)";
        else if (std::error_code ec; !fs::is_directory(dir, ec))
            c.skip = "model folder '" + dir + "' not found";
    } else if (it == all.end()) {
        // lmgc's prior is part of the paper's tables here; a build without it skips the rows.
        LMGC_CHECK(c.codec == "cm", errc::usage, "unknown codec '", c.codec,
                   "' (see `lmgc codecs`)");
        c.skip = "this lmgc has no cm codec";
    } else if (!it->available) {
        c.skip = "not built in (" + it->why_missing + ")";
    }
    for (std::size_t i = first_setting; i < parts.size(); ++i) {
        const auto& kv = parts[i];
        const auto eq = kv.find('=');
        LMGC_CHECK(eq != std::string::npos && eq > 0, errc::usage, "codec '", spec,
                   "': expected KEY=VALUE, got '", kv, "'");
        const auto key = kv.substr(0, eq), value = kv.substr(eq + 1);
        LMGC_CHECK(key != "model" && key != "serialization", errc::usage, "codec '", spec,
                   "': ", key, " is given by its place: lm:MODEL_DIR:SERIALIZATION");
        if (key == "tokens")
            LMGC_CHECK(value == "canonical" || value == "symbol", errc::usage, "codec '", spec,
                       "': tokens must be canonical or symbol");
        c.options.emplace_back(key, value);
        label += ":" + kv;
    }
    c.label = label;
    return c;
}

gradient_set gradient_set_from_folder(const std::string& dir,
                                      const std::vector<std::string>& prefer) {
    std::error_code ec;
    LMGC_CHECK(fs::is_directory(dir, ec), errc::io, "'", dir, "' is not a folder");
    // stem -> extension -> path
    std::map<std::string, std::map<std::string, std::string>> by_stem;
    fs::directory_iterator it(dir, ec);
    LMGC_CHECK(!ec, errc::io, "cannot read folder '", dir, "': ", ec.message());
    for (const auto& e : it) {
        if (!e.is_regular_file(ec)) continue;
        const auto ext = extension_of(e.path());
        if (!is_tensor_extension(ext)) continue;
        by_stem[e.path().stem().string()][ext] = e.path().string();
    }
    gradient_set s;
    s.name = base_name(dir);
    s.label = s.name;
    std::string meta_file;
    for (const auto& [stem, exts] : by_stem) {
        std::string chosen;
        for (const auto& p : prefer)
            if (const auto f = exts.find(p); f != exts.end() && chosen.empty()) chosen = f->second;
        if (chosen.empty()) chosen = exts.begin()->second;
        s.files.push_back(chosen);
        if (meta_file.empty())
            if (const auto f = exts.find("safetensors"); f != exts.end()) meta_file = f->second;
    }
    std::sort(s.files.begin(), s.files.end());
    if (!meta_file.empty()) {
        const auto meta = safetensors_metadata(meta_file);
        if (const auto a = meta.find("arch"); a != meta.end()) s.arch = a->second;
        if (const auto d = meta.find("dataset"); d != meta.end()) s.dataset = d->second;
    }
    if (!s.arch.empty() || !s.dataset.empty())
        s.label = bench_arch_label(s.arch) + " / " + bench_dataset_label(s.dataset);
    return s;
}

std::vector<gradient_set> gradient_sets_from(const std::vector<std::string>& paths,
                                             const std::vector<std::string>& prefer) {
    LMGC_CHECK(!paths.empty(), errc::usage, "no data: give folders or files of gradients");
    std::vector<gradient_set> out;
    gradient_set loose;
    loose.name = loose.label = "files";
    std::set<std::string> names;
    auto add = [&](gradient_set s) {
        LMGC_CHECK(names.insert(s.name).second, errc::usage, "two gradient sets are named '",
                   s.name, "'");
        out.push_back(std::move(s));
    };
    for (const auto& p : paths) {
        std::error_code ec;
        if (fs::is_regular_file(p, ec)) {
            loose.files.push_back(p);
            continue;
        }
        LMGC_CHECK(fs::is_directory(p, ec), errc::io, "'", p, "' does not exist");
        auto s = gradient_set_from_folder(p, prefer);
        if (!s.files.empty()) {
            add(std::move(s));
            continue;
        }
        std::vector<std::string> subs;
        for (const auto& e : fs::directory_iterator(p, ec))
            if (e.is_directory(ec)) subs.push_back(e.path().string());
        std::sort(subs.begin(), subs.end());
        std::size_t found = 0;
        for (const auto& sub : subs) {
            auto ss = gradient_set_from_folder(sub, prefer);
            if (ss.files.empty()) continue;
            add(std::move(ss));
            ++found;
        }
        LMGC_CHECK(found > 0, errc::usage, "'", p,
                   "' holds no tensor files (.npy, .safetensors, .pt), nor do its subfolders");
    }
    if (!loose.files.empty()) add(std::move(loose));
    return out;
}

} // namespace lmgc::experimental
