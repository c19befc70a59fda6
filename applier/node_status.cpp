#include "node_status.hpp"

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

std::optional<pid_t> lock_holder(const fs::path& state_dir) {
    const fs::path path = state_dir / "lock";
    const Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
    if (!fd.valid()) {
        if (errno == ENOENT) {
            return std::nullopt;
        }
        throw_errno(path.string());
    }
    // A shared lock is refused only while an applier holds its exclusive one; taken, it is
    // dropped at once (when FD closes).
    if (::flock(fd.get(), LOCK_SH | LOCK_NB) == 0) {
        return std::nullopt;
    }
    if (errno != EWOULDBLOCK) {
        throw_errno("locking " + path.string());
    }
    std::string text(32, '\0');
    text.resize(static_cast<std::size_t>(
        std::max<ssize_t>(0, ::pread(fd.get(), text.data(), text.size(), 0))));
    pid_t pid = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), pid);
    const bool whole = end == text.data() + text.size() || *end == '\n';
    return ec == std::errc() && whole && pid > 0 ? pid : 0;
}

NodeStatus read_node_status(const fs::path& state_dir) {
    NodeStatus status;
    const auto holder = lock_holder(state_dir);
    const bool have_state = fs::exists(state_dir / "state.db");
    std::optional<StateDb> state;
    if (have_state) {
        state.emplace(state_dir);
        status.installed = state->installed();
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
    const auto runs = state->runs();
    if (!runs.empty() && runs.back().state == "failed") {
        const fs::path backup = state_dir / "runs" / std::to_string(runs.back().id) / "backup";
        if (fs::exists(backup)) {
            status.state = NodeState::failed;
            status.run = runs.back();
            status.backup = backup;
        }
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
