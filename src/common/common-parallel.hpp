// A parallel loop over independent work items (chunks), with exceptions carried back to
// the caller. Any file may include this.
#pragma once

#include <cstddef>
#include <functional>

namespace lmgc::detail {

// Number of worker threads to use: requested if > 0, else the hardware's core count.
int resolve_threads(int requested) noexcept;

// Calls fn(i) for every i in [0, n) on up to n_threads threads (the caller's thread is one
// of them). Items are handed out in order. If any call throws, no new items are started
// and the first exception is rethrown here once all running calls have returned.
// after_each(i), if given, runs under a lock after
// each finished item, so it may update shared progress state.
void parallel_for(std::size_t n, int n_threads, const std::function<void(std::size_t)>& fn,
                  const std::function<void(std::size_t)>& after_each = {});

// A pipeline with bounded memory: produce(i) runs for i in [0, n) on up to n_threads worker
// threads, and consume(i) on the calling thread strictly in the order 0, 1, 2, ... as soon
// as item i is produced. At most `window` items (>= 1) are produced and not yet consumed, so
// the caller can keep their results in `window` slots (slot i % window). If a call throws,
// no new items start, and the exception is rethrown here once the running calls have
// returned (of several, the one of the lowest item). With one thread or one item everything
// runs on the calling thread.
void parallel_ordered(std::size_t n, int n_threads, std::size_t window,
                      const std::function<void(std::size_t)>& produce,
                      const std::function<void(std::size_t)>& consume);

} // namespace lmgc::detail
