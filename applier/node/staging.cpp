#include "staging.hpp"

#include "core/error.hpp"
#include "core/fs.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace ferry::applier {

StagingSink::StagingSink(std::filesystem::path dir) : m_dir(std::move(dir)) {
    std::filesystem::create_directories(m_dir.parent_path());
    if (::mkdir(m_dir.c_str(), 0700) != 0) {
        throw_errno("creating the staging folder " + m_dir.string());
    }
}

void StagingSink::begin_file(const ExpectedFile& file) {
    // Payload paths were checked when the manifest was parsed: relative, no "." or "..".
    m_current = m_dir / file.path;
    std::error_code ec;
    std::filesystem::create_directories(m_current.parent_path(), ec);
    if (ec) {
        throw Error(ErrorKind::io, "staging " + m_current.string() + ": " + ec.message());
    }
    m_fd = Fd(::open(m_current.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!m_fd.valid()) {
        throw_errno("staging " + m_current.string());
    }
}

void StagingSink::data(const void* bytes, std::size_t size) {
    write_all(m_fd.get(), bytes, size, "staging " + m_current.string());
}

void StagingSink::end_file() {
    // Start writing the file back now, while later files are verified, so that the one sync
    // of the staging folder at the end finds little left to write. Only a hint: that sync
    // is what makes the files durable.
    ::sync_file_range(m_fd.get(), 0, 0, SYNC_FILE_RANGE_WRITE);
    m_fd.close(m_current.c_str());
}

void CaptureSink::begin_file(const ExpectedFile& file) {
    const auto it = m_out.find(file.path);
    m_current = it == m_out.end() ? nullptr : &it->second;
}

void CaptureSink::data(const void* bytes, std::size_t size) {
    if (m_current != nullptr && m_current->size() + size <= (1u << 20)) {
        m_current->append(static_cast<const char*>(bytes), size);
    }
}

} // namespace ferry::applier
