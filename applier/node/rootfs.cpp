#include "rootfs.hpp"

#include "core/error.hpp"
#include "core/fs.hpp"

#include <cerrno>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

namespace ferry::applier {

namespace {

std::vector<std::string> components(const std::string& dest) {
    std::vector<std::string> parts;
    std::size_t start = 1;
    while (start <= dest.size()) {
        std::size_t slash = dest.find('/', start);
        if (slash == std::string::npos) {
            slash = dest.size();
        }
        const std::string part = dest.substr(start, slash - start);
        if (part.empty() || part == "." || part == "..") {
            throw Error(ErrorKind::internal, "unsafe install path " + dest);
        }
        parts.push_back(part);
        start = slash + 1;
    }
    return parts;
}

void copy_fd(int in, int out, const std::string& what) {
    std::vector<char> buf(1u << 20);
    for (;;) {
        const std::size_t n = read_full(in, buf.data(), buf.size(), what);
        if (n == 0) {
            return;
        }
        write_all(out, buf.data(), n, what);
    }
}

} // namespace

RootFs::RootFs(const std::filesystem::path& root) : m_root(std::filesystem::absolute(root)) {
    m_fd = Fd(::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!m_fd.valid()) {
        throw Error(ErrorKind::input, root.string() + ": the install root is not an existing folder");
    }
}

std::filesystem::path RootFs::host_path(const std::string& dest) const {
    return m_root / dest.substr(1);
}

Fd RootFs::open_dir(const std::string& dest, bool create) const {
    Fd dir(::dup(m_fd.get()));
    std::string walked;
    for (const auto& part : components(dest)) {
        walked += "/" + part;
        Fd next(::openat(dir.get(), part.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (!next.valid() && errno == ENOENT && create) {
            if (::mkdirat(dir.get(), part.c_str(), 0755) != 0 && errno != EEXIST) {
                throw_errno("creating " + host_path(walked).string());
            }
            next = Fd(::openat(dir.get(), part.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        }
        if (!next.valid()) {
            if (errno == ELOOP || errno == ENOTDIR) {
                throw Error(ErrorKind::input, host_path(walked).string() +
                                                  " is a symlink or not a folder; Ferry does not install through symlinks");
            }
            if (errno == ENOENT) {
                return Fd();
            }
            throw_errno(host_path(walked).string());
        }
        dir = std::move(next);
    }
    return dir;
}

std::pair<Fd, std::string> RootFs::open_parent(const std::string& dest, bool create) const {
    const std::size_t slash = dest.rfind('/');
    const std::string parent = slash == 0 ? "/" : dest.substr(0, slash);
    Fd dir = parent == "/" ? Fd(::dup(m_fd.get())) : open_dir(parent, create);
    return {std::move(dir), dest.substr(slash + 1)};
}

bool RootFs::is_file(const std::string& dest) const {
    auto [dir, name] = open_parent(dest, false);
    struct stat st {};
    return dir.valid() && ::fstatat(dir.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode);
}

bool RootFs::exists(const std::string& dest) const {
    auto [dir, name] = open_parent(dest, false);
    struct stat st {};
    return dir.valid() && ::fstatat(dir.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0;
}

std::optional<std::string> RootFs::read(const std::string& dest, std::size_t max_size) const {
    auto [dir, name] = open_parent(dest, false);
    if (!dir.valid()) {
        return std::nullopt;
    }
    const Fd fd(::openat(dir.get(), name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK));
    if (!fd.valid()) {
        if (errno == ENOENT) {
            return std::nullopt;
        }
        throw_errno(host_path(dest).string());
    }
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) {
        throw Error(ErrorKind::input, host_path(dest).string() + ": not a regular file");
    }
    if (static_cast<std::uint64_t>(st.st_size) > max_size) {
        throw Error(ErrorKind::input, host_path(dest).string() + ": file is too large to read");
    }
    std::string data(static_cast<std::size_t>(st.st_size), '\0');
    data.resize(read_full(fd.get(), data.data(), data.size(), host_path(dest).string()));
    return data;
}

std::optional<Digest> RootFs::hash(const std::string& dest) const {
    auto [dir, name] = open_parent(dest, false);
    if (!dir.valid()) {
        return std::nullopt;
    }
    const Fd fd(::openat(dir.get(), name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK));
    if (!fd.valid()) {
        return std::nullopt;
    }
    Sha256 h;
    std::vector<char> buf(1u << 20);
    for (;;) {
        const std::size_t n = read_full(fd.get(), buf.data(), buf.size(), host_path(dest).string());
        if (n == 0) {
            break;
        }
        h.update(buf.data(), n);
    }
    return h.finish();
}

namespace {

std::string temp_name(const std::string& name) { return "." + name + ".ferry-tmp"; }

} // namespace

void RootFs::remove_temp(const std::string& dest) {
    auto [dir, name] = open_parent(dest, false);
    struct stat st {};
    // Look first: on a read-only file system unlinking even a missing file fails.
    if (!dir.valid() || ::fstatat(dir.get(), temp_name(name).c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
        return;
    }
    if (::unlinkat(dir.get(), temp_name(name).c_str(), 0) != 0 && errno != ENOENT) {
        throw_errno("removing a temp file beside " + host_path(dest).string());
    }
}

void RootFs::install_fd(const std::string& dest, int source_fd, std::string_view data, unsigned mode) {
    auto [dir, name] = open_parent(dest, true);
    const std::string temp = temp_name(name);
    ::unlinkat(dir.get(), temp.c_str(), 0); // a leftover of an interrupted run
    Fd out(::openat(dir.get(), temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!out.valid()) {
        throw_errno("creating " + host_path(dest).string() + " (temp file)");
    }
    try {
        if (source_fd >= 0) {
            copy_fd(source_fd, out.get(), host_path(dest).string());
        } else {
            write_all(out.get(), data.data(), data.size(), host_path(dest).string());
        }
        if (::fchmod(out.get(), mode) != 0) {
            throw_errno("writing " + host_path(dest).string());
        }
        out.close(host_path(dest).c_str());
        // A running binary is replaced by rename, never written in place.
        if (::renameat(dir.get(), temp.c_str(), dir.get(), name.c_str()) != 0) {
            throw_errno("installing " + host_path(dest).string());
        }
    } catch (...) {
        ::unlinkat(dir.get(), temp.c_str(), 0);
        throw;
    }
}

void RootFs::sync() const {
    if (::syncfs(m_fd.get()) != 0) {
        throw_errno("syncing " + m_root.string());
    }
}

void RootFs::install_from(const std::string& dest, const std::filesystem::path& source, unsigned mode) {
    const Fd in = open_regular_file(source);
    install_fd(dest, in.get(), {}, mode);
}

void RootFs::install_staged(const std::string& dest, const std::filesystem::path& source, unsigned mode) {
    auto [dir, name] = open_parent(dest, true);
    const std::string temp = temp_name(name);
    ::unlinkat(dir.get(), temp.c_str(), 0); // a leftover of an interrupted run
    struct stat staged {};
    struct stat current {};
    if (::stat(source.c_str(), &staged) == 0 &&
        ::fstatat(dir.get(), name.c_str(), &current, AT_SYMLINK_NOFOLLOW) == 0 && staged.st_dev == current.st_dev &&
        staged.st_ino == current.st_ino) {
        // Already installed by an interrupted run of the same staging (rename would do nothing
        // between two links of one file, and leave the temp link behind).
        if (::fchmodat(dir.get(), name.c_str(), mode, 0) != 0) {
            throw_errno("installing " + host_path(dest).string());
        }
        return;
    }
    if (::linkat(AT_FDCWD, source.c_str(), dir.get(), temp.c_str(), 0) != 0) {
        install_from(dest, source, mode); // another file system, or links not allowed: copy
        return;
    }
    try {
        const Fd linked(::openat(dir.get(), temp.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
        if (!linked.valid() || ::fchmod(linked.get(), mode) != 0) {
            throw_errno("installing " + host_path(dest).string());
        }
        if (::renameat(dir.get(), temp.c_str(), dir.get(), name.c_str()) != 0) {
            throw_errno("installing " + host_path(dest).string());
        }
    } catch (...) {
        ::unlinkat(dir.get(), temp.c_str(), 0);
        throw;
    }
}

void RootFs::install_data(const std::string& dest, std::string_view data, unsigned mode) {
    install_fd(dest, -1, data, mode);
}

void RootFs::remove(const std::string& dest) {
    auto [dir, name] = open_parent(dest, false);
    if (!dir.valid()) {
        return;
    }
    if (::unlinkat(dir.get(), name.c_str(), 0) != 0 && errno != ENOENT) {
        throw_errno("removing " + host_path(dest).string());
    }
}

void RootFs::remove_dir_if_empty(const std::string& dest) {
    auto [dir, name] = open_parent(dest, false);
    if (!dir.valid()) {
        return;
    }
    if (::unlinkat(dir.get(), name.c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT && errno != ENOTEMPTY &&
        errno != EEXIST && errno != ENOTDIR) {
        throw_errno("removing the folder " + host_path(dest).string());
    }
}

bool RootFs::copy_out(const std::string& dest, const std::filesystem::path& target) const {
    auto [dir, name] = open_parent(dest, false);
    if (!dir.valid()) {
        return false;
    }
    const Fd in(::openat(dir.get(), name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    if (!in.valid()) {
        if (errno == ENOENT) {
            return false;
        }
        throw_errno(host_path(dest).string());
    }
    struct stat st {};
    if (::fstat(in.get(), &st) != 0 || !S_ISREG(st.st_mode)) {
        throw Error(ErrorKind::input, host_path(dest).string() + ": not a regular file");
    }
    std::filesystem::create_directories(target.parent_path());
    AtomicFile out(target, st.st_mode & 0777);
    copy_fd(in.get(), out.fd(), target.string());
    if (::fchmod(out.fd(), st.st_mode & 0777) != 0) {
        throw_errno(target.string());
    }
    out.commit(false);
    return true;
}

void copy_host_file(const std::filesystem::path& source, const std::filesystem::path& target) {
    const Fd in = open_regular_file(source);
    struct stat st {};
    ::fstat(in.get(), &st);
    std::filesystem::create_directories(target.parent_path());
    AtomicFile out(target, st.st_mode & 07777);
    copy_fd(in.get(), out.fd(), target.string());
    out.commit(false);
}

} // namespace ferry::applier
