#include "progress.hpp"

#include <cstdio>
#include <unistd.h>

namespace ferry {

namespace {

// Below this much work, plain (non-terminal) output stays silent: it would only be noise.
constexpr std::uint64_t k_plain_minimum = 64u << 20;

} // namespace

Progress::Progress(std::string label, std::uint64_t total, bool enabled)
    : m_label(std::move(label)), m_total(total), m_tty(isatty(2) == 1) {
    m_enabled = enabled && (m_tty || total >= k_plain_minimum);
}

Progress::~Progress() {
    if (m_enabled && m_tty && !m_finished && m_done > 0) {
        std::fputs("\n", stderr);
    }
}

void Progress::advance(std::uint64_t bytes) {
    m_done += bytes;
    if (!m_enabled || m_total == 0) {
        return;
    }
    if (m_tty) {
        const auto t = std::chrono::steady_clock::now();
        if (t - m_last_draw >= std::chrono::milliseconds(100)) {
            m_last_draw = t;
            draw();
        }
        return;
    }
    const int quarter = static_cast<int>(std::min<std::uint64_t>(m_done * 4 / m_total, 4));
    while (m_last_quarter < quarter && m_last_quarter < 3) {
        ++m_last_quarter;
        std::fprintf(stderr, "%s: %d%%\n", m_label.c_str(), m_last_quarter * 25);
    }
}

void Progress::draw() {
    constexpr int k_width = 30;
    const std::uint64_t done = std::min(m_done, m_total);
    const int filled = static_cast<int>(done * k_width / m_total);
    std::string bar(static_cast<std::size_t>(filled), '#');
    bar.append(static_cast<std::size_t>(k_width - filled), '.');
    std::fprintf(stderr, "\r%s [%s] %3d%% %llu/%llu MiB", m_label.c_str(), bar.c_str(),
                 static_cast<int>(done * 100 / m_total),
                 static_cast<unsigned long long>(done >> 20),
                 static_cast<unsigned long long>(m_total >> 20));
    std::fflush(stderr);
}

void Progress::finish() {
    if (!m_enabled || m_finished) {
        return;
    }
    m_finished = true;
    if (m_tty && m_total > 0) {
        m_done = m_total;
        draw();
        std::fputs("\n", stderr);
    } else {
        std::fprintf(stderr, "%s: done\n", m_label.c_str());
    }
}

} // namespace ferry
