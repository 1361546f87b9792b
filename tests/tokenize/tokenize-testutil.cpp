// Test text, spm_train / spm_encode / spm_decode runners and a tokenizer.model writer.
#include "tokenize-testutil.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <unistd.h>

namespace lmgc::test {

bool have_spm_tools() {
    static const bool have =
        run("command -v spm_train && command -v spm_encode && command -v spm_decode") == 0;
    return have;
}

std::vector<std::string> ordinary_lines(std::size_t n, std::uint64_t seed) {
    static const char* const words[] = {
        "the",         "of",         "and",      "to",       "in",
        "a",           "is",         "that",     "for",      "it",
        "as",          "was",        "with",     "be",       "by",
        "on",          "not",        "he",       "this",     "are",
        "or",          "his",        "from",     "at",       "which",
        "but",         "have",       "an",       "had",      "they",
        "you",         "were",       "their",    "one",      "all",
        "we",          "can",        "her",      "has",      "there",
        "been",        "if",         "more",     "when",     "will",
        "would",       "who",        "so",       "no",       "gradient",
        "compression", "language",   "model",    "token",    "float",
        "network",     "training",   "License",  "Software", "Foundation",
        "GNU",         "General",    "Public",   "program",  "copyright",
        "free",        "distribute", "modify",   "version",  "terms",
        "conditions",  "Hello",      "World",    "LLaMA",    "SentencePiece",
        "tokenizer",   "byte",       "fallback", "digits",   "split",
        "prefix"};
    static const char* const odd[] = {"café",
                                      "naïve",
                                      "Straße",
                                      "中文",
                                      "日本語のテキスト",
                                      "😀",
                                      "👍🏽",
                                      "ﬁne",
                                      "ＡＢＣ１２３",
                                      "①②",
                                      "\xc2\xa0",
                                      "▁",
                                      "▁▁x",
                                      "e\xcc\x81",
                                      "\x01",
                                      "\x7f",
                                      "\xef\xbf\xbd",
                                      "\xff",
                                      "\xc3(",
                                      "\xe2\x96",
                                      "<s>",
                                      "</s>",
                                      "<unk>",
                                      "<0x41>",
                                      "\t",
                                      "Ω≈ç√",
                                      "ÀÉÎÕÜ",
                                      "\xc2\x80\xc2\x9f",
                                      "ß\xc3\xbf",
                                      "0x3f800000",
                                      "deadbeef",
                                      "  ",
                                      "   ",
                                      "…",
                                      "—",
                                      "«»",
                                      "Ǆ",
                                      "ﾊﾟ"};
    std::mt19937_64 rng(seed);
    auto pick = [&](std::size_t k) { return static_cast<std::size_t>(rng() % k); };
    std::vector<std::string> out;
    out.reserve(n);
    out.push_back("");
    out.push_back(" ");
    out.push_back("   leading and trailing   ");
    out.push_back("▁");
    out.push_back("1234567890 3.14159 -2.5e-3 0xdeadbeef");
    while (out.size() < n) {
        std::string line;
        if (pick(8) == 0) line += ' ';
        const std::size_t len = 1 + pick(30);
        for (std::size_t i = 0; i < len; ++i) {
            if (i) line += pick(12) == 0 ? "  " : pick(20) == 0 ? "\t" : " ";
            const auto r = pick(20);
            if (r < 14) {
                std::string w = words[pick(std::size(words))];
                if (pick(10) == 0)
                    w[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(w[0])));
                line += w;
            } else if (r < 16) {
                line += std::to_string(static_cast<long long>(rng() % 100000) - 50000);
                if (pick(3) == 0) {
                    line += '.';
                    line += std::to_string(rng() % 1000);
                }
            } else if (r < 18) {
                line += odd[pick(std::size(odd))];
            } else {
                static const char punct[] = ".,;:!?()[]{}\"'-_/+*=<>#@&%$^~`|\\";
                line += punct[pick(std::size(punct) - 1)];
            }
        }
        if (pick(10) == 0) line += ' ';
        out.push_back(std::move(line));
    }
    return out;
}

std::vector<std::string> serialized_lines(std::size_t n, std::uint64_t seed) {
    using namespace lmgc::detail;
    std::mt19937_64 rng(seed);
    std::vector<std::string> out;
    std::size_t round = 0;
    while (out.size() < n) {
        serial_params p;
        const auto modes = serial_modes_all();
        p.mode = modes[round % modes.size()];
        static const unsigned bpgs[] = {4, 4, 1, 2, 8};
        p.bytes_per_group = bpgs[(round / modes.size()) % 5];
        p.order = (round / 3) % 4 == 3 ? serial_byte_order::big : serial_byte_order::little;
        static const dtype types[] = {dtype::f32, dtype::f32, dtype::bf16, dtype::f16};
        p.type = types[(round / 5) % 4];
        bytes data;
        if (round % 7 == 6) { // special bit patterns
            const auto bits = special_f32_bits(300, rng());
            data.resize(bits.size() * 4);
            std::memcpy(data.data(), bits.data(), data.size());
        } else {
            auto v = gradient_like(128 * (1 + rng() % 6) + rng() % 64, rng());
            if (p.type != dtype::f32) { // keep the top halves: bf16-like values
                data = top_halves(v);
            } else {
                data = float_bytes(v);
            }
        }
        for (auto& t : serialize_stream(data, p))
            if (t.find('\n') == std::string::npos && out.size() < n) out.push_back(std::move(t));
        ++round;
    }
    return out;
}

namespace {

void write_lines(const std::string& path, const std::vector<std::string>& lines) {
    std::ofstream f(path, std::ios::binary);
    for (const auto& l : lines) f << l << '\n';
    ASSERT_TRUE(f.good()) << path;
}

std::vector<std::string> read_lines(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    std::vector<std::string> out;
    for (std::string line; std::getline(f, line);) out.push_back(line);
    return out;
}

std::string q(const std::string& s) {
    return "'" + s + "'";
}

} // namespace

namespace {

// Models are cached in the build folder (next to the lmgc binary CTest names), keyed by a
// hash of the corpus and arguments: CTest runs every test case in its own process, and
// training takes seconds.
std::string model_cache_dir() {
    if (const char* d = std::getenv("LMGC_TEST_CACHE")) return d;
    const char* bin = std::getenv("LMGC_BIN");
    if (!bin) return "";
    std::string b = bin;
    const auto slash = b.find_last_of('/');
    return (slash == std::string::npos ? std::string(".") : b.substr(0, slash)) + "/test-cache";
}

std::uint64_t fnv1a(std::uint64_t h, std::string_view s) {
    for (const char c : s) h = (h ^ static_cast<unsigned char>(c)) * 0x100000001b3ull;
    return h;
}

} // namespace

std::string train_spm(const std::string& dir, const std::string& name,
                      const std::vector<std::string>& lines, const std::string& args) {
    std::uint64_t h = fnv1a(0xcbf29ce484222325ull, args);
    for (const auto& l : lines) h = fnv1a(fnv1a(h, l), "\n");
    char key[17];
    std::snprintf(key, sizeof key, "%016llx", static_cast<unsigned long long>(h));
    const std::string cache = model_cache_dir();
    const std::string cached = cache.empty() ? "" : cache + "/" + name + "-" + key + ".model";
    if (!cached.empty() && std::filesystem::exists(cached)) return cached;

    const std::string input = dir + "/" + name + ".txt";
    write_lines(input, lines);
    const std::string prefix = dir + "/" + name;
    std::string log;
    const int rc = run("spm_train --input=" + q(input) + " --model_prefix=" + q(prefix) +
                           " --num_threads=2 --minloglevel=1 " + args,
                       &log);
    EXPECT_EQ(rc, 0) << log;
    if (rc != 0 || cached.empty()) return prefix + ".model";
    // Publish atomically: copy next to the final name, then rename over it.
    std::error_code ec;
    std::filesystem::create_directories(cache, ec);
    const std::string tmp = cached + ".tmp" + std::to_string(::getpid());
    std::filesystem::copy_file(prefix + ".model", tmp,
                               std::filesystem::copy_options::overwrite_existing, ec);
    if (!ec) std::filesystem::rename(tmp, cached, ec);
    return ec ? prefix + ".model" : cached;
}

std::vector<std::vector<int>> spm_encode_ids(const std::string& model,
                                             const std::vector<std::string>& lines,
                                             const std::string& dir) {
    write_lines(dir + "/enc-in.txt", lines);
    std::string log;
    const int rc = run("spm_encode --model=" + q(model) + " --output_format=id < " +
                           q(dir + "/enc-in.txt") + " > " + q(dir + "/enc-out.txt"),
                       &log);
    EXPECT_EQ(rc, 0) << log;
    std::vector<std::vector<int>> out;
    for (const auto& l : read_lines(dir + "/enc-out.txt")) {
        std::istringstream is(l);
        std::vector<int> ids;
        for (int id; is >> id;) ids.push_back(id);
        out.push_back(std::move(ids));
    }
    return out;
}

std::vector<std::string> spm_encode_pieces(const std::string& model,
                                           const std::vector<std::string>& lines,
                                           const std::string& dir) {
    write_lines(dir + "/enc-in.txt", lines);
    std::string log;
    const int rc = run("spm_encode --model=" + q(model) + " --output_format=piece < " +
                           q(dir + "/enc-in.txt") + " > " + q(dir + "/enc-out.txt"),
                       &log);
    EXPECT_EQ(rc, 0) << log;
    return read_lines(dir + "/enc-out.txt");
}

std::vector<std::string> spm_decode_ids(const std::string& model,
                                        const std::vector<std::vector<int>>& ids,
                                        const std::string& dir) {
    std::vector<std::string> lines;
    for (const auto& v : ids) {
        std::string l;
        for (std::size_t i = 0; i < v.size(); ++i) {
            if (i) l += ' ';
            l += std::to_string(v[i]);
        }
        lines.push_back(l);
    }
    write_lines(dir + "/dec-in.txt", lines);
    std::string log;
    const int rc = run("spm_decode --model=" + q(model) + " --input_format=id < " +
                           q(dir + "/dec-in.txt") + " > " + q(dir + "/dec-out.txt"),
                       &log);
    EXPECT_EQ(rc, 0) << log;
    return read_lines(dir + "/dec-out.txt");
}

namespace {

void pb_varint(bytes& out, std::uint64_t v) {
    while (v >= 0x80) {
        out.push_back(static_cast<std::uint8_t>(v | 0x80));
        v >>= 7;
    }
    out.push_back(static_cast<std::uint8_t>(v));
}
void pb_key(bytes& out, unsigned field, unsigned wire) {
    pb_varint(out, field << 3 | wire);
}
void pb_uint(bytes& out, unsigned field, std::uint64_t v) {
    pb_key(out, field, 0);
    pb_varint(out, v);
}
void pb_bytes(bytes& out, unsigned field, const std::string& s) {
    pb_key(out, field, 2);
    pb_varint(out, s.size());
    out.insert(out.end(), s.begin(), s.end());
}
void pb_message(bytes& out, unsigned field, const bytes& m) {
    pb_bytes(out, field, std::string(m.begin(), m.end()));
}

} // namespace

bytes build_model(const model_spec& spec) {
    bytes out;
    for (const auto& p : spec.pieces) {
        bytes m;
        pb_bytes(m, 1, p.piece);
        pb_key(m, 2, 5);
        std::uint8_t f[4];
        std::memcpy(f, &p.score, 4);
        m.insert(m.end(), f, f + 4);
        if (p.type != 1) pb_uint(m, 3, static_cast<std::uint64_t>(p.type));
        pb_message(out, 1, m);
    }
    bytes t;
    pb_uint(t, 3, static_cast<std::uint64_t>(spec.model_type));
    pb_uint(t, 4, spec.pieces.size());
    pb_uint(t, 25, spec.split_digits);
    pb_uint(t, 35, spec.byte_fallback);
    pb_bytes(t, 7, "text"); // input_format: a field the reader skips
    pb_uint(t, 201, 5);     // an extension field
    pb_message(out, 2, t);
    bytes n;
    pb_bytes(n, 1, "identity");
    pb_uint(n, 3, spec.add_dummy_prefix);
    pb_uint(n, 4, spec.remove_extra_whitespaces);
    pb_uint(n, 5, spec.escape_whitespaces);
    pb_message(out, 3, n);
    return out;
}

model_spec llama_like_spec() {
    model_spec s;
    s.pieces.push_back({"<unk>", 0, 2});
    s.pieces.push_back({"<s>", 0, 3});
    s.pieces.push_back({"</s>", 0, 3});
    static const char hex[] = "0123456789ABCDEF";
    for (int b = 0; b < 256; ++b)
        s.pieces.push_back({std::string("<0x") + hex[b >> 4] + hex[b & 15] + ">", 0, 6});
    // Merged pieces first (higher scores), then single characters, as spm_train orders them.
    const char* const merges[] = {"▁▁", "▁a", "▁b", "▁f", "▁ab", "▁de", "▁be", "ab", "de",   "be",
                                  "ef", "fe", "ca", "▁c", "▁e",  "▁d",  "ce",  "ff", "▁▁▁▁", "ea"};
    float score = 0;
    for (const char* m : merges) s.pieces.push_back({m, score--, 1});
    const char* const chars[] = {"▁", "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "a", "b",
                                 "c", "d", "e", "f", "x", ",", ";", "t", "h", "o", "l", "r"};
    for (const char* c : chars) s.pieces.push_back({c, score--, 1});
    return s;
}

} // namespace lmgc::test
