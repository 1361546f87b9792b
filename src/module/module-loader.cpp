// Finds and loads liblmgc-torch.so with dlopen, once per process.
#include "module/module-loader.hpp"

#include "common/common-error.hpp"

#include <cstdlib>
#include <dlfcn.h>
#include <mutex>
#include <sys/stat.h>

namespace lmgc::detail {
namespace {

#ifdef LMGC_TORCH_MODULE_BUILT
bool is_file(const std::string& p) {
    struct stat st {};
    return ::stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

// The folder of the binary (executable or shared object) that holds this function.
std::string own_folder() {
    Dl_info info{};
    if (::dladdr(reinterpret_cast<void*>(&own_folder), &info) == 0 || !info.dli_fname) return ".";
    std::string p = info.dli_fname;
    if (p.find('/') == std::string::npos) { // the main program found through PATH
        char buf[4096];
        const auto n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
        if (n <= 0) return ".";
        p.assign(buf, static_cast<std::size_t>(n));
    }
    return p.substr(0, p.find_last_of('/'));
}
#endif

struct loaded_module {
    void* handle = nullptr;
    std::string error; // why it could not be loaded
};

const loaded_module& load_once() {
    static loaded_module m;
    static std::once_flag once;
    std::call_once(once, [] {
#ifndef LMGC_TORCH_MODULE_BUILT
        m.error = "this lmgc was built without LibTorch, so it has no LLM prior and cannot "
                  "train (install libtorch-dev and rebuild)";
#else
        std::vector<std::string> tried;
        if (const char* env = std::getenv("LMGC_TORCH_MODULE"); env && *env) {
            tried.emplace_back(env);
        } else {
            const auto dir = own_folder();
            tried.push_back(dir + "/" + torch_module_file);
            tried.push_back(dir + "/../lib/lmgc/" + torch_module_file);
        }
        for (const auto& path : tried) {
            if (!is_file(path)) continue;
            // RTLD_LOCAL: the module's copy of the core stays its own.
            m.handle = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
            if (!m.handle) {
                const char* why = ::dlerror();
                m.error = "cannot load the LibTorch module " + path + ": " +
                          (why ? why : "unknown error");
            }
            return;
        }
        m.error = "the LibTorch module " + std::string(torch_module_file) +
                  " is not installed (looked for " + tried.front() +
                  (tried.size() > 1 ? " and " + tried.back() : std::string()) +
                  "; set LMGC_TORCH_MODULE to its path)";
#endif
    });
    return m;
}

} // namespace

bool torch_module_built() noexcept {
#ifdef LMGC_TORCH_MODULE_BUILT
    return true;
#else
    return false;
#endif
}

void* torch_module_entry(const char* symbol) {
    const auto& m = load_once();
    LMGC_CHECK(m.handle != nullptr, errc::unsupported, m.error);
    void* fn = ::dlsym(m.handle, symbol);
    LMGC_CHECK(fn != nullptr, errc::unsupported, "the LibTorch module has no ", symbol,
               " (it comes from another lmgc version)");
    return fn;
}

bool torch_module_available() noexcept {
    try {
        return load_once().handle != nullptr;
    } catch (...) {
        return false;
    }
}

void check_torch_module_stamp(const torch_module_stamp& s, std::uint32_t expected_size) {
    LMGC_CHECK(s.table_size == expected_size && s.lmgc_version &&
                   std::string(s.lmgc_version) == LMGC_VERSION,
               errc::unsupported, "the LibTorch module comes from another lmgc build (",
               s.lmgc_version ? s.lmgc_version : "?", ", this is ", LMGC_VERSION,
               "); rebuild or reinstall both");
}

std::unique_ptr<codec_i> make_codec_lm_from_module(const codec_config& cfg) {
    using entry_fn = const torch_codec_api* (*)();
    const auto* api = reinterpret_cast<entry_fn>(torch_module_entry(torch_codec_symbol))();
    check_torch_module_stamp(api->stamp, sizeof(torch_codec_api));
    return api->make_codec_lm(cfg);
}

} // namespace lmgc::detail
