#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace ferry {

// Reports progress of long work on stderr: a redrawn bar on a terminal, a line per quarter
// otherwise (for 64 MiB of work or more), nothing when disabled.
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
    std::string m_label;
    std::uint64_t m_total;
    std::uint64_t m_done = 0;
    bool m_enabled;
    bool m_tty;
    bool m_finished = false;
    int m_last_quarter = 0;
    std::chrono::steady_clock::time_point m_last_draw;
};

} // namespace ferry
