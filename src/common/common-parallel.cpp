// parallel_for: a fixed set of std::threads pulling item indices from an atomic counter.
#include "common/common-parallel.hpp"

#include <algorithm>
#include <atomic>
#include <condition_variable>
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

void parallel_ordered(std::size_t n, int n_threads, std::size_t window,
                      const std::function<void(std::size_t)>& produce,
                      const std::function<void(std::size_t)>& consume) {
    if (n == 0) return;
    window = std::max<std::size_t>(window, 1);
    const std::size_t workers =
        std::min<std::size_t>({n, window, static_cast<std::size_t>(resolve_threads(n_threads))});
    if (workers <= 1) {
        for (std::size_t i = 0; i < n; ++i) {
            produce(i);
            consume(i);
        }
        return;
    }

    std::mutex mu;
    std::condition_variable can_produce, can_consume;
    std::vector<char> ready(window, 0);
    std::size_t next = 0, consumed = 0;
    bool failed = false;
    std::exception_ptr error;
    std::size_t error_item = n;
    auto fail = [&](std::size_t i) { // under the lock
        if (i < error_item) {
            error = std::current_exception();
            error_item = i;
        }
        failed = true;
        can_produce.notify_all();
        can_consume.notify_all();
    };

    auto work = [&] {
        for (;;) {
            std::size_t i;
            {
                std::unique_lock<std::mutex> lock(mu);
                can_produce.wait(lock,
                                 [&] { return failed || next >= n || next < consumed + window; });
                if (failed || next >= n) return;
                i = next++;
            }
            try {
                produce(i);
            } catch (...) {
                std::lock_guard<std::mutex> lock(mu);
                fail(i);
                return;
            }
            std::lock_guard<std::mutex> lock(mu);
            ready[i % window] = 1;
            can_consume.notify_one();
        }
    };

    std::vector<std::thread> threads;
    threads.reserve(workers);
    try {
        for (std::size_t t = 0; t < workers; ++t) threads.emplace_back(work);
    } catch (...) {
        if (threads.empty()) { // no thread at all: run here
            for (std::size_t i = 0; i < n; ++i) {
                produce(i);
                consume(i);
            }
            return;
        }
    }
    for (std::size_t i = 0; i < n; ++i) {
        {
            std::unique_lock<std::mutex> lock(mu);
            can_consume.wait(lock, [&] { return failed || ready[i % window]; });
            if (failed) break;
        }
        try {
            consume(i);
        } catch (...) {
            std::lock_guard<std::mutex> lock(mu);
            fail(i);
            break;
        }
        std::lock_guard<std::mutex> lock(mu);
        ready[i % window] = 0;
        consumed = i + 1;
        can_produce.notify_all();
    }
    {
        std::lock_guard<std::mutex> lock(mu);
        if (consumed < n && !failed) failed = true; // defensive: stop the workers
        can_produce.notify_all();
    }
    for (auto& t : threads) t.join();
    if (error) std::rethrow_exception(error);
}

} // namespace lmgc::detail
