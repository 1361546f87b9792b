// Linked into every test binary: points the LibTorch module loader at the module of this
// build (tests live in folders of their own, not beside it), unless the caller chose one.
#include <cstdlib>

#ifdef LMGC_TEST_TORCH_MODULE
namespace {
const int torch_module_env = [] {
    return ::setenv("LMGC_TORCH_MODULE", LMGC_TEST_TORCH_MODULE, 0);
}();
} // namespace
#endif
