#pragma once

#include "core/handles.hpp"

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <sys/types.h>

namespace ferry {

// Reads a whole file, refusing one larger than MAX_SIZE bytes.
[[nodiscard]] std::string read_file(const std::filesystem::path& path,
                                    std::size_t max_size = 64u << 20);

// Writes all of DATA to FD; WHAT names the file in the error.
void write_all(int fd, const void* data, std::size_t size, const std::string& what);

// Writes all of DATA at OFFSET (pwrite), retrying short writes; WHAT names the file in errors.
void write_at(int fd, std::uint64_t offset, std::string_view data, const std::string& what);

// Reads up to SIZE bytes, stopping early only at end of file; returns the count.
[[nodiscard]] std::size_t read_full(int fd, void* data, std::size_t size, const std::string& what);

// Reads up to SIZE bytes at OFFSET (fewer only at the end of the file); throws on error.
[[nodiscard]] std::size_t read_full_at(int fd, void* data, std::size_t size, std::uint64_t offset,
                                       const std::string& what);

// Copies SIZE bytes from IN_FD at IN_OFFSET to OUT_FD's current position.
void copy_range(int in_fd, std::uint64_t in_offset, int out_fd, std::uint64_t size,
                const std::string& what);

// Opens PATH for reading, refusing anything but a regular file.
[[nodiscard]] Fd open_regular_file(const std::filesystem::path& path);

// fsyncs the directory DIR so a rename in it is durable.
void fsync_dir(const std::filesystem::path& dir);

// Writes everything cached for the file system holding PATH to disk (syncfs): one call makes a
// whole batch of files, and the folders they were renamed into, durable.
void sync_filesystem(const std::filesystem::path& path);

// Installs SIGINT/SIGTERM/SIGHUP handlers that remove registered temp files, then die; while a
// ChildGroup is registered they instead end that process group and let the caller unwind.
void install_interrupt_cleanup();

// The signal that interrupted the process while a ChildGroup was registered, or 0.
[[nodiscard]] int interrupted_by();

// A line the interrupt handler prints before the process dies of the signal (what state the
// work is left in and what to run next); empty for none.
void set_interrupt_note(std::string_view note);

// Registers the process group of the command being waited for, for the interrupt handler.
class ChildGroup {
public:
    explicit ChildGroup(pid_t group);
    ~ChildGroup();
    ChildGroup(const ChildGroup&) = delete;
    ChildGroup& operator=(const ChildGroup&) = delete;
};

// Registers PATH for removal if the process is interrupted; unregisters when destroyed.
class TempRegistration {
public:
    explicit TempRegistration(const std::filesystem::path& path);
    ~TempRegistration();
    TempRegistration(const TempRegistration&) = delete;
    TempRegistration& operator=(const TempRegistration&) = delete;

private:
    int m_slot;
};

// A file written under a temp name in its final directory and renamed on commit().
// Destroyed without commit(), it removes the temp file: a failure leaves nothing behind.
class AtomicFile {
public:
    explicit AtomicFile(std::filesystem::path path, unsigned mode = 0644);
    ~AtomicFile();
    AtomicFile(const AtomicFile&) = delete;
    AtomicFile& operator=(const AtomicFile&) = delete;

    [[nodiscard]] int fd() const { return m_fd.get(); }
    [[nodiscard]] const std::filesystem::path& path() const { return m_path; }
    [[nodiscard]] const std::filesystem::path& temp_path() const { return m_temp; }
    void write(std::string_view data);
    // fsyncs, renames over the final path and fsyncs the directory. With DURABLE false it only
    // renames: the caller makes a batch of files durable at once with sync_filesystem().
    void commit(bool durable = true);

private:
    std::filesystem::path m_path;
    std::filesystem::path m_temp;
    Fd m_fd;
    TempRegistration m_registration;
    bool m_committed = false;
};

// Writes DATA to PATH atomically.
void write_file_atomic(const std::filesystem::path& path, std::string_view data,
                       unsigned mode = 0644);

} // namespace ferry
