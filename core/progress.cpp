#include "progress.hpp"

#include "console.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace ferry {

namespace {

// Below this much work, plain (non-terminal) output stays silent unless -v: it would only be noise.
constexpr std::uint64_t k_plain_minimum = 64u << 20;

} // namespace

std::string format_bytes(std::uint64_t bytes) {
    char text[32];
    const double b = static_cast<double>(bytes);
    if (bytes < (1u << 20)) {
        std::snprintf(text, sizeof text, "%.0f KiB", std::ceil(b / 1024));
    } else if (bytes < (1ull << 30)) {
        std::snprintf(text, sizeof text, "%.1f MiB", b / (1 << 20));
    } else {
        std::snprintf(text, sizeof text, "%.1f GiB", b / (1ull << 30));
    }
    return text;
}

std::string format_rate(double bytes_per_second) {
    return bytes_per_second > 0 ? format_bytes(static_cast<std::uint64_t>(bytes_per_second)) + "/s" : "--/s";
}

std::string format_time_left(double seconds) {
    if (seconds < 0 || !std::isfinite(seconds)) {
        return "--:--";
    }
    const auto s = static_cast<unsigned long long>(std::ceil(seconds));
    char text[32];
    if (s >= 3600) {
        std::snprintf(text, sizeof text, "%llu:%02llu:%02llu", s / 3600, s / 60 % 60, s % 60);
    } else {
        std::snprintf(text, sizeof text, "%llu:%02llu", s / 60, s % 60);
    }
    return text;
}

Progress::Progress(std::string label, std::uint64_t total, bool enabled)
    : m_label(std::move(label)), m_total(total), m_tty(stderr_is_terminal()),
      m_start(std::chrono::steady_clock::now()) {
    const Verbosity level = verbosity();
    m_enabled = enabled && level != Verbosity::quiet &&
                (m_tty || total >= k_plain_minimum || level == Verbosity::verbose);
}

Progress::~Progress() {
    if (m_enabled && m_tty && !m_finished && m_done > 0) {
        std::fputs("\n", stderr);
    }
}

double Progress::rate() const {
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - m_start).count();
    return seconds > 0.001 ? static_cast<double>(m_done) / seconds : 0;
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
        std::fprintf(stderr, "%s: %d%% of %s, %s\n", m_label.c_str(), m_last_quarter * 25,
                     format_bytes(m_total).c_str(), format_rate(rate()).c_str());
    }
}

void Progress::draw() {
    constexpr int k_width = 30;
    const std::uint64_t done = std::min(m_done, m_total);
    const int filled = static_cast<int>(done * k_width / m_total);
    std::string bar(static_cast<std::size_t>(filled), '#');
    bar.append(static_cast<std::size_t>(k_width - filled), '.');
    const double r = rate();
    const double left = r > 0 ? static_cast<double>(m_total - done) / r : -1;
    // \033[K clears what a longer line drawn before left behind.
    std::fprintf(stderr, "\r%s [%s] %3d%% %s/%s  %s  %s left\033[K", m_label.c_str(), bar.c_str(),
                 static_cast<int>(done * 100 / m_total), format_bytes(done).c_str(), format_bytes(m_total).c_str(),
                 format_rate(r).c_str(), format_time_left(left).c_str());
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
        const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - m_start).count();
        std::fprintf(stderr, "%s: done, %s in %.1f s, %s\n", m_label.c_str(), format_bytes(m_total).c_str(), seconds,
                     format_rate(rate()).c_str());
    }
}

} // namespace ferry
