#include "fs.hpp"

#include "core/error.hpp"

#include <array>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <optional>
#include <random>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

namespace ferry {

namespace {

constexpr std::size_t k_max_temp_slots = 16;
constexpr std::size_t k_max_temp_path = 4096;

struct TempSlot {
    std::atomic<bool> used{false};
    std::array<char, k_max_temp_path> path{};
};

std::array<TempSlot, k_max_temp_slots> g_temp_slots;
std::atomic<pid_t> g_child_group{0};
std::atomic<int> g_interrupted{0};
constexpr std::size_t k_max_note = 1024;
std::array<char, k_max_note> g_note{};
std::atomic<std::size_t> g_note_size{0};

extern "C" void on_interrupt(int sig) {
    for (auto& slot : g_temp_slots) {
        if (slot.used.load()) {
            ::unlink(slot.path.data());
        }
    }
    g_interrupted.store(sig);
    const pid_t group = g_child_group.load();
    if (group > 0) {
        // The command's waiter ends the group and unwinds, so the journal records where it stopped.
        ::kill(-group, SIGTERM);
        return;
    }
    const std::size_t note = g_note_size.load();
    if (note > 0) {
        (void)!::write(2, g_note.data(), note);
    }
    std::signal(sig, SIG_DFL);
    std::raise(sig);
}

std::string random_suffix() {
    static std::random_device device;
    std::uniform_int_distribution<unsigned> dist(0, 35);
    std::string s;
    for (int i = 0; i < 8; ++i) {
        const unsigned v = dist(device);
        s.push_back(static_cast<char>(v < 10 ? '0' + v : 'a' + v - 10));
    }
    return s;
}

} // namespace

std::string read_file(const std::filesystem::path& path, std::size_t max_size) {
    Fd fd = open_regular_file(path);
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) {
        throw_errno(path.string());
    }
    if (static_cast<std::uint64_t>(st.st_size) > max_size) {
        throw Error(ErrorKind::input, path.string() + ": file is too large (" +
                                          std::to_string(st.st_size) + " bytes, limit " +
                                          std::to_string(max_size) + ")");
    }
    std::string data(static_cast<std::size_t>(st.st_size), '\0');
    const std::size_t n = read_full(fd.get(), data.data(), data.size(), path.string());
    data.resize(n);
    return data;
}

void write_all(int fd, const void* data, std::size_t size, const std::string& what) {
    const auto* p = static_cast<const char*>(data);
    while (size > 0) {
        const ssize_t n = ::write(fd, p, size);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            throw_errno("writing " + what);
        }
        p += n;
        size -= static_cast<std::size_t>(n);
    }
}

void write_at(int fd, std::uint64_t offset, std::string_view data, const std::string& what) {
    std::size_t done = 0;
    while (done < data.size()) {
        const ssize_t n = ::pwrite(fd, data.data() + done, data.size() - done, static_cast<off_t>(offset + done));
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            throw_errno(what);
        }
        done += static_cast<std::size_t>(n);
    }
}

namespace {

// Reads until SIZE bytes or the end of the file, retrying interrupted calls: from the file
// offset, or from OFFSET on (pread) when it is set.
std::size_t read_until_full(int fd, void* data, std::size_t size, std::optional<std::uint64_t> offset,
                            const std::string& what) {
    auto* p = static_cast<char*>(data);
    std::size_t total = 0;
    while (total < size) {
        const ssize_t n = offset ? ::pread(fd, p + total, size - total, static_cast<off_t>(*offset + total))
                                 : ::read(fd, p + total, size - total);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            throw_errno("reading " + what);
        }
        if (n == 0) {
            break;
        }
        total += static_cast<std::size_t>(n);
    }
    return total;
}

} // namespace

std::size_t read_full(int fd, void* data, std::size_t size, const std::string& what) {
    return read_until_full(fd, data, size, std::nullopt, what);
}

std::size_t read_full_at(int fd, void* data, std::size_t size, std::uint64_t offset, const std::string& what) {
    return read_until_full(fd, data, size, offset, what);
}

void copy_range(int in_fd, std::uint64_t in_offset, int out_fd, std::uint64_t size,
                const std::string& what) {
    auto offset = static_cast<off_t>(in_offset);
    while (size > 0) {
        const ssize_t n = ::copy_file_range(in_fd, &offset, out_fd, nullptr, size, 0);
        if (n > 0) {
            size -= static_cast<std::uint64_t>(n);
            continue;
        }
        if (n == 0) {
            throw Error(ErrorKind::io, "copying into " + what + ": unexpected end of input");
        }
        if (errno == EINTR) {
            continue;
        }
        if (errno != EXDEV && errno != ENOSYS && errno != EINVAL && errno != EOPNOTSUPP) {
            throw_errno("copying into " + what);
        }
        // No in-kernel copy between these files: fall back to read and write.
        std::vector<char> buf(1u << 20);
        while (size > 0) {
            const ssize_t r = ::pread(in_fd, buf.data(), std::min<std::uint64_t>(size, buf.size()), offset);
            if (r <= 0) {
                throw_errno("copying into " + what);
            }
            write_all(out_fd, buf.data(), static_cast<std::size_t>(r), what);
            offset += r;
            size -= static_cast<std::uint64_t>(r);
        }
    }
}

Fd open_regular_file(const std::filesystem::path& path) {
    Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
    if (!fd.valid()) {
        if (errno == ENOENT) {
            throw Error(ErrorKind::input, path.string() + ": no such file");
        }
        throw_errno(path.string());
    }
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) {
        throw_errno(path.string());
    }
    if (!S_ISREG(st.st_mode)) {
        throw Error(ErrorKind::input, path.string() + ": not a regular file");
    }
    const int flags = ::fcntl(fd.get(), F_GETFL);
    if (flags >= 0) {
        ::fcntl(fd.get(), F_SETFL, flags & ~O_NONBLOCK);
    }
    return fd;
}

void fsync_dir(const std::filesystem::path& dir) {
    const Fd fd(::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd.valid() || ::fsync(fd.get()) != 0) {
        throw_errno("syncing directory " + dir.string());
    }
}

void sync_filesystem(const std::filesystem::path& path) {
    const Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd.valid() || ::syncfs(fd.get()) != 0) {
        throw_errno("syncing the file system of " + path.string());
    }
}

void install_interrupt_cleanup() {
    struct sigaction sa {};
    sa.sa_handler = on_interrupt;
    sigemptyset(&sa.sa_mask);
    for (const int sig : {SIGINT, SIGTERM, SIGHUP}) {
        ::sigaction(sig, &sa, nullptr);
    }
}

ChildGroup::ChildGroup(pid_t group) { g_child_group.store(group); }

ChildGroup::~ChildGroup() { g_child_group.store(0); }

int interrupted_by() { return g_interrupted.load(); }

void set_interrupt_note(std::string_view note) {
    g_note_size.store(0);
    if (note.empty()) {
        return;
    }
    const std::string line = "\n" + std::string(note.substr(0, k_max_note - 2)) + "\n";
    std::memcpy(g_note.data(), line.data(), line.size());
    g_note_size.store(line.size());
}

TempRegistration::TempRegistration(const std::filesystem::path& path) : m_slot(-1) {
    const std::string& s = path.native();
    if (s.size() >= k_max_temp_path) {
        return;
    }
    for (std::size_t i = 0; i < g_temp_slots.size(); ++i) {
        auto& slot = g_temp_slots[i];
        if (!slot.used.load()) {
            std::memcpy(slot.path.data(), s.c_str(), s.size() + 1);
            slot.used.store(true);
            m_slot = static_cast<int>(i);
            return;
        }
    }
}

TempRegistration::~TempRegistration() {
    if (m_slot >= 0) {
        g_temp_slots[static_cast<std::size_t>(m_slot)].used.store(false);
    }
}

AtomicFile::AtomicFile(std::filesystem::path path, unsigned mode)
    : m_path(std::move(path)),
      m_temp(m_path.parent_path() /
             ("." + m_path.filename().string() + ".tmp-" + random_suffix())),
      m_registration(m_temp) {
    m_fd = Fd(::open(m_temp.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, mode));
    if (!m_fd.valid()) {
        throw_errno("creating " + m_temp.string());
    }
}

AtomicFile::~AtomicFile() {
    if (!m_committed) {
        ::unlink(m_temp.c_str());
    }
}

void AtomicFile::write(std::string_view data) {
    write_all(m_fd.get(), data.data(), data.size(), m_temp.string());
}

void AtomicFile::commit(bool durable) {
    if (durable && ::fsync(m_fd.get()) != 0) {
        throw_errno("syncing " + m_temp.string());
    }
    m_fd.close(m_temp.c_str());
    if (::rename(m_temp.c_str(), m_path.c_str()) != 0) {
        throw_errno("renaming " + m_temp.string() + " to " + m_path.string());
    }
    m_committed = true;
    if (durable) {
        fsync_dir(m_path.parent_path());
    }
}

void write_file_atomic(const std::filesystem::path& path, std::string_view data, unsigned mode) {
    AtomicFile file(path, mode);
    file.write(data);
    file.commit();
}

} // namespace ferry
