#pragma once

// What a rollout shows on a terminal: one line per node, redrawn in place below the lines it
// says as it goes (core/progress.hpp's way). Without a terminal the rollout says its lines only.

#include "applier/rollout/schedule.hpp"

#include <cstddef>
#include <string>
#include <vector>

namespace ferry::rollout {

// Where a node stands in the rollout, as a terminal shows it.
enum class NodeShown {
    waiting,
    staging,
    staged,
    applying,
    checking,
    stabilizing,
    upgraded,
    skipped,
    rolled_back,
    failed
};

// One node's line on a terminal: its name, role, version and where it stands.
struct NodeView {
    std::string name;
    Role role = Role::unknown;
    std::string version; // "" until the coordinator asked it
    NodeShown step = NodeShown::waiting;
};

// "waiting", "staging", ..., "failed, rolled back" (a node's step on a terminal).
[[nodiscard]] std::string shown_name(NodeShown step);

// The nodes' lines on stderr, redrawn whenever one changes; the last drawing stays.
class NodeBoard {
public:
    // Whether a board fits: stderr is a terminal that can redraw (core/console.hpp), not -q.
    [[nodiscard]] static bool wanted();

    // Prints LINE above the board.
    void say(const std::string& line);
    // Shows VIEW's node as it is now (a new node goes below the others).
    void show(const NodeView& view);

private:
    void erase();
    void draw();
    std::vector<NodeView> m_nodes;
    std::size_t m_drawn = 0; // lines of the drawing on screen
};

} // namespace ferry::rollout
