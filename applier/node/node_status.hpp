#pragma once

// What `status` reports of a node: nothing installed, a version, another applier at work, an
// interrupted run or a failed one, read without taking the lock or creating anything.

#include "applier/state/lock.hpp"
#include "applier/state/state.hpp"

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <sys/types.h>

namespace ferry::applier {

// The node as a whole, most urgent first when several hold.
enum class NodeState {
    fresh,       // nothing installed (no state folder or database, or everything rolled back)
    installed,   // a version is installed and no run is pending
    in_progress, // another applier holds the state folder's lock
    interrupted, // a run stopped half-way and waits for resume or rollback
    failed,      // a run failed and its rollback too: the node may be between versions
};

struct NodeStatus {
    NodeState state = NodeState::fresh;
    std::optional<InstalledInfo> installed;
    std::optional<RunInfo> run;        // the interrupted or failed run
    std::vector<JournalEntry> journal; // the interrupted run's steps
    pid_t holder_pid = 0;              // in_progress: the holder's pid, 0 if it wrote none
    std::filesystem::path backup;      // failed: the run's backups
    std::vector<StagedBundle> staged;  // bundles staged ahead of their apply, complete or not
    std::vector<std::string> staged_missing; // for each of them, the parts of a split bundle still missing
};

// Reads the node's status from STATE_DIR; a damaged state database is an input Error.
[[nodiscard]] NodeStatus read_node_status(const std::filesystem::path& state_dir);

// The state's name in JSON ("fresh", "in_progress", ...).
[[nodiscard]] std::string node_state_name(NodeState state);

// The documented exit code of `status` for STATE (README.md, "Exit codes").
[[nodiscard]] int exit_code(NodeState state);

} // namespace ferry::applier
