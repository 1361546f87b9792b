// The context-mixing prior behind the generic prior interface (model_prior_i): one binary
// decision per symbol. The hot path lives in model-ctxmix.hpp.
#include "model/model-ctxmix.hpp"

#include "common/common-error.hpp"

#include <optional>

namespace lmgc::detail::ctxmix {
namespace {

template <typename F> class float_prior_impl final : public float_prior {
  public:
    using U = typename F::uint;
    float_prior_impl(std::span<const std::uint8_t> values, std::span<const segment> segs,
                     float_params fp)
        : vals_(values.size() / sizeof(U)), segs_(segs.begin(), segs.end()), fp_(fp) {
        if (!vals_.empty()) std::memcpy(vals_.data(), values.data(), vals_.size() * sizeof(U));
        reset();
    }
    cdf_view predict() override {
        const auto p1 = static_cast<std::uint64_t>(model_->predict_p16());
        cum_ = {0, 65536 - p1, 65536};
        return cdf_view{cum_};
    }
    void update(std::size_t symbol) override { model_->update(static_cast<int>(symbol)); }
    void reset() override {
        model_.reset();
        model_.emplace(vals_.data(), vals_.size(), segs_, fp_);
    }
    bool done() const override { return model_->done(); }
    std::size_t next_symbol() const override {
        return static_cast<std::size_t>(model_->bit_of(vals_[model_->index()]));
    }
    void copy_values(std::span<std::uint8_t> out) const override {
        LMGC_CHECK(out.size() == vals_.size() * sizeof(U), errc::internal, "cm prior: output size");
        if (!vals_.empty()) std::memcpy(out.data(), vals_.data(), out.size());
    }

  private:
    std::vector<U> vals_;
    std::vector<segment> segs_;
    float_params fp_;
    std::optional<float_model<F>> model_;
    std::array<std::uint64_t, 3> cum_{};
};

} // namespace

std::unique_ptr<float_prior> float_prior::make(dtype t, std::span<const std::uint8_t> values,
                                               std::span<const segment> segs, float_params fp) {
    switch (t) {
    case dtype::f32:
        return std::make_unique<float_prior_impl<fmt_f32>>(values, segs, fp);
    case dtype::f16:
        return std::make_unique<float_prior_impl<fmt_f16>>(values, segs, fp);
    case dtype::bf16:
        return std::make_unique<float_prior_impl<fmt_bf16>>(values, segs, fp);
    case dtype::f64:
        return std::make_unique<float_prior_impl<fmt_f64>>(values, segs, fp);
    default:
        break;
    }
    LMGC_FAIL(errc::internal, "cm prior: ", dtype_name(t), " is not a float type");
}

} // namespace lmgc::detail::ctxmix
