#include "part_source.hpp"

#include "core/error.hpp"
#include "core/fs.hpp"

#include <fcntl.h>

namespace ferry {

PartSource::PartSource(const std::filesystem::path& first, std::uint64_t first_size) {
    append(first, first_size);
}

void PartSource::append(const std::filesystem::path& file, std::uint64_t size) {
    m_parts.push_back({file, size});
}

std::size_t PartSource::read(void* data, std::size_t size) {
    auto* out = static_cast<char*>(data);
    std::size_t total = 0;
    while (total < size && m_index < m_parts.size()) {
        const Part& part = m_parts[m_index];
        if (m_done == part.size) {
            m_fd = Fd();
            ++m_index;
            m_done = 0;
            continue;
        }
        if (!m_fd.valid()) {
            m_fd = open_regular_file(part.file);
            ::posix_fadvise(m_fd.get(), 0, 0, POSIX_FADV_SEQUENTIAL);
        }
        const auto want =
            static_cast<std::size_t>(std::min<std::uint64_t>(size - total, part.size - m_done));
        const std::size_t n = read_full(m_fd.get(), out + total, want, part.file.string());
        m_last = m_index;
        m_done += n;
        total += n;
        if (n < want) {
            throw Error(ErrorKind::verification,
                        part.file.filename().string() + " is truncated: it ends after " +
                            std::to_string(m_done) + " of its " + std::to_string(part.size) +
                            " bytes",
                        "copy the part from the original media again");
        }
    }
    return total;
}

} // namespace ferry
