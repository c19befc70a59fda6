#pragma once

// A fixed set of threads running queued jobs; each job's result comes back through a future,
// so a caller can keep several jobs in flight and collect them in the order it chose.

#include "core/channel.hpp"

#include <cstddef>
#include <functional>
#include <future>
#include <limits>
#include <memory>
#include <thread>
#include <type_traits>
#include <vector>

namespace ferry {

class WorkerPool {
public:
    explicit WorkerPool(unsigned threads) {
        for (unsigned i = 0; i < std::max(1u, threads); ++i) {
            m_threads.emplace_back([this] {
                while (auto job = m_jobs.pop()) {
                    (*job)();
                }
            });
        }
    }

    // Drops the jobs not yet started (their futures report a broken promise) and waits for
    // the running ones.
    ~WorkerPool() {
        m_jobs.cancel();
        for (auto& t : m_threads) {
            t.join();
        }
    }

    WorkerPool(const WorkerPool&) = delete;
    WorkerPool& operator=(const WorkerPool&) = delete;

    // Queues JOB; its result, or what it threw, arrives through the returned future.
    template <typename F> std::future<std::invoke_result_t<F>> submit(F job) {
        using R = std::invoke_result_t<F>;
        auto task = std::make_shared<std::packaged_task<R()>>(std::move(job));
        std::future<R> result = task->get_future();
        m_jobs.push([task] { (*task)(); });
        return result;
    }

    // The number of threads a pool should have to use every core, at least 1.
    static unsigned cores() { return std::max(1u, std::thread::hardware_concurrency()); }

private:
    Channel<std::function<void()>> m_jobs{std::numeric_limits<std::size_t>::max()};
    std::vector<std::thread> m_threads;
};

} // namespace ferry
