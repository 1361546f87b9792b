// parallel_for: a fixed set of std::threads pulling item indices from an atomic counter.
#include "common/common-parallel.hpp"

#include <atomic>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace lmgc::detail {

int resolve_threads(int requested) noexcept {
    if (requested > 0) return requested;
    const unsigned hw = std::thread::hardware_concurrency();
    return hw == 0 ? 1 : static_cast<int>(hw);
}

void parallel_for(std::size_t n, int n_threads, const std::function<void(std::size_t)>& fn,
                  const std::function<void(std::size_t)>& after_each) {
    if (n == 0) return;
    const std::size_t workers =
        std::min<std::size_t>(n, static_cast<std::size_t>(resolve_threads(n_threads)));
    std::atomic<std::size_t> next{0};
    std::atomic<bool> failed{false};
    std::exception_ptr first_error;
    std::mutex mu;

    auto work = [&] {
        for (;;) {
            if (failed.load(std::memory_order_relaxed)) return;
            const std::size_t i = next.fetch_add(1);
            if (i >= n) return;
            try {
                fn(i);
                if (after_each) {
                    std::lock_guard<std::mutex> lock(mu);
                    after_each(i);
                }
            } catch (...) {
                std::lock_guard<std::mutex> lock(mu);
                if (!first_error) first_error = std::current_exception();
                failed = true;
                return;
            }
        }
    };

    std::vector<std::thread> threads;
    threads.reserve(workers - 1);
    try {
        for (std::size_t t = 1; t < workers; ++t) threads.emplace_back(work);
    } catch (...) {
        // Could not start a thread: carry on with the ones we have.
    }
    work();
    for (auto& t : threads) t.join();
    if (first_error) std::rethrow_exception(first_error);
}

} // namespace lmgc::detail
