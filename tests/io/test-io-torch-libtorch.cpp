// torch.save files checked against LibTorch's own reader (torch::pickle_load): a file that
// went through lmgc must load to the same values as the original, and the tensor regions
// that lmgc's reader found must hold exactly the bytes LibTorch reads for each tensor.
// Label `torch`: built only when LibTorch is.
#include "io/io-tensor-file.hpp"
#include "lmgc/lmgc.hpp"
#include "testutil.hpp"

#include <gtest/gtest.h>
#include <torch/serialize.h>
#include <torch/torch.h>

#include <cstring>
#include <filesystem>
#include <set>

using namespace lmgc;
using namespace lmgc::test;

namespace {

bytes round_trip(const bytes& file) {
    auto p = default_compress_params();
    p.codec = "zstd";
    p.chunk_bytes = 4096;
    return decompress(compress(file, p), default_decompress_params());
}

torch::IValue load(const bytes& file) {
    return torch::pickle_load(std::vector<char>(file.begin(), file.end()));
}

bytes tensor_bytes(const torch::Tensor& t) {
    const auto c = t.contiguous();
    bytes out(c.numel() * c.element_size());
    if (!out.empty()) std::memcpy(out.data(), c.data_ptr(), out.size());
    return out;
}

// Every tensor (dtype, shape, bytes: NaN payloads included) and every other value equal.
void expect_same(const torch::IValue& a, const torch::IValue& b, const std::string& path) {
    ASSERT_EQ(a.tagKind(), b.tagKind()) << path;
    if (a.isTensor()) {
        const auto& x = a.toTensor();
        const auto& y = b.toTensor();
        EXPECT_EQ(x.scalar_type(), y.scalar_type()) << path;
        EXPECT_EQ(x.sizes(), y.sizes()) << path;
        EXPECT_EQ(x.strides(), y.strides()) << path;
        EXPECT_EQ(x.storage_offset(), y.storage_offset()) << path;
        EXPECT_EQ(tensor_bytes(x), tensor_bytes(y)) << path;
    } else if (a.isGenericDict()) {
        const auto da = a.toGenericDict();
        const auto db = b.toGenericDict();
        ASSERT_EQ(da.size(), db.size()) << path;
        auto ib = db.begin();
        for (auto ia = da.begin(); ia != da.end(); ++ia, ++ib) {
            expect_same(ia->key(), ib->key(), path + ".<key>");
            expect_same(ia->value(), ib->value(), path + "." + ia->key().tagKind());
        }
    } else if (a.isList()) {
        const auto la = a.toListRef();
        const auto lb = b.toListRef();
        ASSERT_EQ(la.size(), lb.size()) << path;
        for (std::size_t i = 0; i < la.size(); ++i)
            expect_same(la[i], lb[i], path + "." + std::to_string(i));
    } else if (a.isTuple()) {
        const auto& ta = a.toTupleRef().elements();
        const auto& tb = b.toTupleRef().elements();
        ASSERT_EQ(ta.size(), tb.size()) << path;
        for (std::size_t i = 0; i < ta.size(); ++i)
            expect_same(ta[i], tb[i], path + "." + std::to_string(i));
    } else if (a.isDouble()) {
        const double x = a.toDouble(), y = b.toDouble();
        EXPECT_EQ(std::memcmp(&x, &y, sizeof x), 0) << path;
    } else {
        EXPECT_TRUE(a == b) << path << ": " << a << " vs " << b;
    }
}

// The regions lmgc found, checked against LibTorch: each named "state_dict.<key>" holds the
// bytes of that tensor.
void expect_regions_match(const bytes& file, const c10::impl::GenericDict& sd,
                          const std::string& prefix) {
    const auto pf = lmgc::detail::parse_torch(file);
    std::size_t matched = 0, expected = 0;
    for (const auto& kv : sd) {
        expected += kv.value().toTensor().numel() > 0; // empty tensors have no region
        const auto name = prefix + kv.key().toStringRef();
        const auto& t = kv.value().toTensor();
        for (const auto& r : pf.tensors) {
            if (r.name != name) continue;
            ++matched;
            const bytes got(file.begin() + static_cast<std::ptrdiff_t>(r.offset),
                            file.begin() + static_cast<std::ptrdiff_t>(r.offset + r.nbytes));
            EXPECT_EQ(got, tensor_bytes(t)) << name;
            EXPECT_EQ(r.nbytes, static_cast<std::uint64_t>(t.numel() * t.element_size())) << name;
            EXPECT_EQ(lmgc::detail::dtype_size(r.type) * (t.is_complex() ? 2 : 1),
                      static_cast<std::size_t>(t.element_size()))
                << name;
        }
    }
    EXPECT_EQ(matched, expected);
}

} // namespace

TEST(io_torch_libtorch, pickle_save_files_round_trip_and_load_equal) {
    torch::manual_seed(1);
    c10::Dict<std::string, torch::Tensor> sd;
    sd.insert("conv1.weight", torch::randn({4, 1, 3, 3}));
    sd.insert("conv1.bias", torch::randn({4}).to(torch::kBFloat16));
    sd.insert("fc.weight", torch::randn({10, 8}).to(torch::kHalf));
    sd.insert("fc.weight64", torch::randn({3}).to(torch::kDouble));
    sd.insert("steps", torch::arange(5, torch::kLong));
    sd.insert("mask", torch::rand({6}) > 0.5);
    sd.insert("empty", torch::empty({0, 3}));
    auto special = torch::tensor({0.0f, -0.0f, INFINITY, -INFINITY, NAN, 1e-45f, 3.4e38f});
    reinterpret_cast<std::uint32_t*>(special.data_ptr())[4] = 0x7fc12345u; // NaN payload
    sd.insert("special", special);
    c10::impl::GenericDict root(c10::StringType::get(), c10::AnyType::get());
    root.insert("state_dict", sd);
    root.insert("batch_step", 400);
    const auto pickled = torch::pickle_save(root);
    const bytes file(pickled.begin(), pickled.end());

    const auto back = round_trip(file);
    EXPECT_EQ(back, file);
    expect_same(load(file), load(back), "root");
    expect_same(load(back), root, "root");
    const auto generic = torch::IValue(sd).toGenericDict();
    expect_regions_match(file, generic, "state_dict.");
    expect_regions_match(back, generic, "state_dict.");
}

TEST(io_torch_libtorch, python_torch_save_files_load_equal) {
    if (run("/usr/bin/python3 -c 'import torch' >/dev/null 2>&1") != 0)
        GTEST_SKIP() << "/usr/bin/python3 with torch not found";
    temp_dir dir;
    std::string log;
    ASSERT_EQ(
        run("/usr/bin/python3 " + source_dir() + "/tests/io/make-torch-fixtures.py " + dir.path(),
            &log),
        0)
        << log;
    // Files LibTorch 1.13 reads; it cannot unpickle OrderedDict, Parameter, Python classes,
    // sets or protocol 4, so the others are checked byte for byte only.
    const std::set<std::string> loadable = {"collector.pt", "views.pt", "dtypes.pt", "tensor.pt"};
    std::size_t compared = 0;
    for (const auto& entry : std::filesystem::directory_iterator(dir.path())) {
        const auto name = entry.path().filename().string();
        if (entry.path().extension() != ".pt" || name == "legacy.pt") continue;
        SCOPED_TRACE(name);
        const auto file = read_bytes(entry.path().string());
        const auto back = round_trip(file);
        EXPECT_EQ(back, file);
        if (!loadable.count(name)) continue;
        const auto original = load(file);
        ++compared;
        expect_same(original, load(back), name);
        if (name == "collector.pt") {
            const auto root = original.toGenericDict();
            EXPECT_EQ(root.at("batch_step").toInt(), 400);
            expect_regions_match(file, root.at("state_dict").toGenericDict(), "state_dict.");
        }
    }
    EXPECT_EQ(compared, loadable.size());
}
