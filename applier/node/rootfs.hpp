#pragma once

// File operations under the install root (--root), written by Ferry itself: every path is
// walked component by component with O_NOFOLLOW, so nothing is read or written through a
// symlink, and every file is replaced by rename, never written in place. Writes are made
// durable in batches: call sync() once a step's files are all in place.

#include "core/handles.hpp"
#include "core/sha256.hpp"

#include <filesystem>
#include <optional>
#include <string>

namespace ferry::applier {

class RootFs {
public:
    // Opens ROOT, which must be an existing folder.
    explicit RootFs(const std::filesystem::path& root);

    [[nodiscard]] const std::filesystem::path& root() const { return m_root; }
    // ROOT joined with the absolute path DEST, for messages and commands.
    [[nodiscard]] std::filesystem::path host_path(const std::string& dest) const;

    // Whether DEST exists as a regular file.
    [[nodiscard]] bool is_file(const std::string& dest) const;
    // Whether DEST exists (file or folder).
    [[nodiscard]] bool exists(const std::string& dest) const;
    // The content of the regular file DEST, if it exists.
    [[nodiscard]] std::optional<std::string> read(const std::string& dest, std::size_t max_size = 16u << 20) const;
    // SHA-256 of the regular file DEST, if it exists.
    [[nodiscard]] std::optional<Digest> hash(const std::string& dest) const;
    // Writes DEST atomically from the file SOURCE (a host path) with MODE; creates folders.
    void install_from(const std::string& dest, const std::filesystem::path& source, unsigned mode);
    // Like install_from, but hard-links SOURCE into place when it is on the same file system,
    // so a staged file is installed without copying its data. SOURCE must be a private copy
    // nothing else writes (a staged payload file): after this it is the installed file.
    void install_staged(const std::string& dest, const std::filesystem::path& source, unsigned mode);
    // Writes DEST atomically with DATA and MODE; creates folders.
    void install_data(const std::string& dest, std::string_view data, unsigned mode);
    // Removes the file DEST if it exists.
    void remove(const std::string& dest);
    // Removes the folder DEST if it exists and is empty.
    void remove_dir_if_empty(const std::string& dest);
    // Removes the temp file an interrupted install of DEST may have left beside it.
    void remove_temp(const std::string& dest);
    // Makes everything written under the root durable (syncfs).
    void sync() const;
    // Copies the regular file DEST to the host path TARGET (creating folders), not yet durable
    // (see sync_filesystem); false if DEST is absent.
    bool copy_out(const std::string& dest, const std::filesystem::path& target) const;
    // Opens the folder DEST (creating it and its parents when CREATE).
    [[nodiscard]] Fd open_dir(const std::string& dest, bool create) const;

private:
    // Opens DEST's parent folder and returns it with DEST's last component.
    [[nodiscard]] std::pair<Fd, std::string> open_parent(const std::string& dest, bool create) const;
    void install_fd(const std::string& dest, int source_fd, std::string_view data, unsigned mode);

    std::filesystem::path m_root;
    Fd m_fd;
};

// Copies the host file SOURCE to TARGET (fsynced, mode kept); creates TARGET's folders.
void copy_host_file(const std::filesystem::path& source, const std::filesystem::path& target);

} // namespace ferry::applier
