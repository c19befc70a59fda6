#include "lock.hpp"

#include "core/error.hpp"

#include <algorithm>
#include <cerrno>
#include <charconv>
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
    const std::filesystem::path path = state_dir / "lock";
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

} // namespace ferry::applier
