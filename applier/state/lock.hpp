#pragma once

// The node's lock: one applier at a time works on a state folder.

#include "core/handles.hpp"

#include <filesystem>
#include <optional>
#include <sys/types.h>

namespace ferry::applier {

// An exclusive flock on STATE_DIR/lock, held while the object lives; the holder's pid is
// written in the file. Throws a policy Error naming the holder when another applier has it.
class StateLock {
public:
    explicit StateLock(const std::filesystem::path& state_dir);

private:
    Fd m_fd;
};

// The pid of the applier holding STATE_DIR's lock (0 if it wrote none), or nullopt when none
// does; reading commands ask it without taking the lock.
[[nodiscard]] std::optional<pid_t> lock_holder(const std::filesystem::path& state_dir);

} // namespace ferry::applier
