#pragma once

// A bounded queue between two threads of a pipeline: the producer closes it, with an error
// if it failed; the consumer cancels it to make the producer stop.

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <exception>
#include <mutex>
#include <optional>

namespace ferry {

template <typename T> class Channel {
public:
    explicit Channel(std::size_t capacity) : m_capacity(capacity) {}

    // Waits for room and queues VALUE; false if the consumer cancelled.
    bool push(T value) {
        std::unique_lock lock(m_mutex);
        m_not_full.wait(lock, [&] { return m_cancelled || m_queue.size() < m_capacity; });
        if (m_cancelled) {
            return false;
        }
        m_queue.push_back(std::move(value));
        m_not_empty.notify_one();
        return true;
    }

    // The next value; nullopt once closed and empty, or cancelled. Rethrows the producer's
    // error after the values queued before it.
    std::optional<T> pop() {
        std::unique_lock lock(m_mutex);
        m_not_empty.wait(lock, [&] { return m_closed || m_cancelled || !m_queue.empty(); });
        if (m_cancelled) {
            return std::nullopt;
        }
        if (m_queue.empty()) {
            if (m_error) {
                std::rethrow_exception(m_error);
            }
            return std::nullopt;
        }
        T value = std::move(m_queue.front());
        m_queue.pop_front();
        m_not_full.notify_one();
        return value;
    }

    // Producer side: no more values; ERROR, if set, is raised after those already queued.
    void close(std::exception_ptr error = nullptr) {
        const std::lock_guard lock(m_mutex);
        m_closed = true;
        m_error = std::move(error);
        m_not_empty.notify_all();
    }

    // Consumer side: stop the producer, dropping what is queued.
    void cancel() {
        const std::lock_guard lock(m_mutex);
        m_cancelled = true;
        m_queue.clear();
        m_not_full.notify_all();
        m_not_empty.notify_all();
    }

    [[nodiscard]] bool cancelled() {
        const std::lock_guard lock(m_mutex);
        return m_cancelled;
    }

private:
    std::mutex m_mutex;
    std::condition_variable m_not_full;
    std::condition_variable m_not_empty;
    std::deque<T> m_queue;
    std::size_t m_capacity;
    bool m_closed = false;
    bool m_cancelled = false;
    std::exception_ptr m_error;
};

} // namespace ferry
