#include "handles.hpp"

#include "error.hpp"

#include <archive_entry.h>
#include <unistd.h>

namespace ferry {

void ArchiveEntryDeleter::operator()(archive_entry* e) const { archive_entry_free(e); }

Fd& Fd::operator=(Fd&& other) noexcept {
    if (this != &other) {
        if (m_fd >= 0) {
            ::close(m_fd);
        }
        m_fd = other.release();
    }
    return *this;
}

Fd::~Fd() {
    if (m_fd >= 0) {
        ::close(m_fd);
    }
}

int Fd::release() {
    const int fd = m_fd;
    m_fd = -1;
    return fd;
}

void Fd::close(const char* what) {
    const int fd = release();
    if (fd >= 0 && ::close(fd) != 0) {
        throw_errno(std::string("closing ") + what);
    }
}

} // namespace ferry
