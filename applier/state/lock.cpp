#include "lock.hpp"

#include "core/error.hpp"

#include <algorithm>
#include <fcntl.h>
#include <string>
#include <sys/file.h>
#include <unistd.h>

namespace ferry::applier {

namespace {

std::string read_pid(int fd) {
    std::string holder(32, '\0');
    holder.resize(static_cast<std::size_t>(
        std::max<ssize_t>(0, ::pread(fd, holder.data(), holder.size(), 0))));
    return holder.substr(0, holder.find('\n'));
}

} // namespace

StateLock::StateLock(const std::filesystem::path& state_dir) {
    std::filesystem::create_directories(state_dir);
    const std::filesystem::path path = state_dir / "lock";
    m_fd = Fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
    if (!m_fd.valid()) {
        throw_errno(path.string());
    }
    if (::flock(m_fd.get(), LOCK_EX | LOCK_NB) != 0) {
        const std::string holder = read_pid(m_fd.get());
        throw Error(ErrorKind::policy,
                    "another ferry-applier is working on " + state_dir.string() +
                        (holder.empty() ? "" : " (pid " + holder + ")"),
                    "wait for it to finish; never run two at once on one node");
    }
    const std::string pid = std::to_string(::getpid()) + "\n";
    (void)!::ftruncate(m_fd.get(), 0);
    (void)!::pwrite(m_fd.get(), pid.data(), pid.size(), 0);
}

std::optional<pid_t> lock_holder(const std::filesystem::path& state_dir) {
    const Fd fd(::open((state_dir / "lock").c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
    if (!fd.valid() || ::flock(fd.get(), LOCK_SH | LOCK_NB) == 0) {
        return std::nullopt; // no lock file, or nobody holds it (ours is released with fd)
    }
    const std::string pid = read_pid(fd.get());
    return pid.empty() ? std::optional<pid_t>(0)
                       : std::optional<pid_t>(static_cast<pid_t>(std::stol(pid)));
}

} // namespace ferry::applier
