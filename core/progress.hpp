#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace ferry {

// Reports progress of long work on stderr: on a terminal (core/console.hpp) a redrawn bar with
// the rate and the time left; otherwise a plain line per quarter with the rate, for 64 MiB of
// work or more (any amount with -v); nothing when disabled or with -q.
class Progress {
public:
    Progress(std::string label, std::uint64_t total, bool enabled = true);
    ~Progress();
    Progress(const Progress&) = delete;
    Progress& operator=(const Progress&) = delete;

    // Adds BYTES to the work done.
    void advance(std::uint64_t bytes);
    // Ends the report (a full bar and a newline on a terminal).
    void finish();

private:
    void draw();
    // Bytes per second since the start; 0 until there is something to measure.
    [[nodiscard]] double rate() const;
    std::string m_label;
    std::uint64_t m_total;
    std::uint64_t m_done = 0;
    bool m_enabled;
    bool m_tty;
    bool m_finished = false;
    int m_last_quarter = 0;
    std::chrono::steady_clock::time_point m_start;
    std::chrono::steady_clock::time_point m_last_draw;
};

// "812 KiB", "12.5 MiB", "3.1 GiB" for BYTES.
[[nodiscard]] std::string format_bytes(std::uint64_t bytes);
// "12.5 MiB/s" for BYTES_PER_SECOND, "--/s" before there is anything to measure (0).
[[nodiscard]] std::string format_rate(double bytes_per_second);
// "1:05" or "2:03:10" for SECONDS (rounded up), "--:--" when unknown (negative).
[[nodiscard]] std::string format_time_left(double seconds);

} // namespace ferry
