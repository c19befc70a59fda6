#include "node_status.hpp"

#include "applier/node/stage.hpp"
#include "core/error.hpp"
#include "core/handles.hpp"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

namespace ferry::applier {

namespace fs = std::filesystem;


NodeStatus read_node_status(const fs::path& state_dir) {
    NodeStatus status;
    const auto holder = lock_holder(state_dir);
    const bool have_state = fs::exists(StateLayout(state_dir).database());
    std::optional<StateDb> state;
    if (have_state) {
        state.emplace(state_dir);
        status.installed = state->installed();
        status.staged = state->staged_bundles();
        for (const auto& b : status.staged) {
            std::string missing;
            if (b.state != "verified") {
                const StagedParts parts = read_staged_parts(state->layout(), b.manifest_sha256);
                if (!parts.parts.empty()) {
                    missing = describe_missing(missing_parts(parts.geometry, parts.parts));
                }
            }
            status.staged_missing.push_back(missing);
        }
        status.state = status.installed ? NodeState::installed : NodeState::fresh;
    }
    if (holder) {
        // The other applier's run is "running" in the database: that is not an interruption.
        status.state = NodeState::in_progress;
        status.holder_pid = *holder;
        return status;
    }
    if (!state) {
        return status;
    }
    if (auto run = state->interrupted_run()) {
        status.state = NodeState::interrupted;
        status.journal = state->journal_of(run->id);
        status.run = std::move(run);
        return status;
    }
    if (auto failed = state->failed_run()) {
        status.state = NodeState::failed;
        status.backup = state->layout().backup(failed->id);
        status.run = std::move(failed);
    }
    return status;
}

std::string node_state_name(NodeState state) {
    switch (state) {
    case NodeState::fresh:
        return "fresh";
    case NodeState::installed:
        return "installed";
    case NodeState::in_progress:
        return "in_progress";
    case NodeState::interrupted:
        return "interrupted";
    case NodeState::failed:
        return "failed";
    }
    return "?";
}

int exit_code(NodeState state) {
    switch (state) {
    case NodeState::fresh:
    case NodeState::installed:
        return 0;
    case NodeState::in_progress:
        return exit_code(ErrorKind::policy);
    case NodeState::interrupted:
        return exit_code(ErrorKind::interrupted);
    case NodeState::failed:
        return exit_code(ErrorKind::failed);
    }
    return exit_code(ErrorKind::internal);
}

} // namespace ferry::applier
