#include "board.hpp"

#include "core/console.hpp"
#include "core/error.hpp"

#include <algorithm>
#include <cstdio>
#include <sys/ioctl.h>
#include <unistd.h>

namespace ferry::rollout {

namespace {

// The terminal's width, so that no line wraps (a wrapped line would not be erased); 80 when
// unknown.
std::size_t columns() {
    winsize size{};
    return ::ioctl(2, TIOCGWINSZ, &size) == 0 && size.ws_col > 0 ? size.ws_col : 80;
}

} // namespace

std::string shown_name(NodeShown step) {
    switch (step) {
    case NodeShown::waiting:
        return "waiting";
    case NodeShown::staging:
        return "staging";
    case NodeShown::staged:
        return "staged";
    case NodeShown::applying:
        return "applying";
    case NodeShown::checking:
        return "health and sync";
    case NodeShown::stabilizing:
        return "stabilizing";
    case NodeShown::upgraded:
        return "upgraded";
    case NodeShown::skipped:
        return "already upgraded";
    case NodeShown::rolled_back:
        return "failed, rolled back";
    case NodeShown::failed:
        return "failed";
    }
    return "?";
}

bool NodeBoard::wanted() {
    return stderr_is_terminal() && verbosity() != Verbosity::quiet;
}

void NodeBoard::say(const std::string& line) {
    erase();
    std::fprintf(stderr, "%s\n", line.c_str());
    draw();
}

void NodeBoard::show(const NodeView& view) {
    const auto it = std::find_if(m_nodes.begin(), m_nodes.end(),
                                 [&](const NodeView& n) { return n.name == view.name; });
    if (it == m_nodes.end()) {
        m_nodes.push_back(view);
    } else {
        *it = view;
    }
    erase();
    draw();
}

void NodeBoard::erase() {
    if (m_drawn > 0) {
        // Up to the board's first line, then clear to the end of the screen.
        std::fprintf(stderr, "\033[%zuA\r\033[J", m_drawn);
    }
    m_drawn = 0;
}

void NodeBoard::draw() {
    const std::size_t width = columns() - 1;
    for (const auto& n : m_nodes) {
        char line[512];
        std::snprintf(line, sizeof line, "  %-16s %-8s %-10s %s", printable(n.name).c_str(),
                      n.role == Role::unknown ? "-" : role_name(n.role).c_str(),
                      n.version.empty() ? "-" : n.version.c_str(), shown_name(n.step).c_str());
        std::fprintf(stderr, "%s\n", std::string(line).substr(0, width).c_str());
    }
    m_drawn = m_nodes.size();
    std::fflush(stderr);
}

} // namespace ferry::rollout
