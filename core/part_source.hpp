#pragma once

// A bundle's parts read one after the other as one stream, without joining them on disk.

#include "core/envelope.hpp"
#include "core/handles.hpp"

#include <cstdint>
#include <filesystem>
#include <vector>

namespace ferry {

// Reads each part up to the size it must have, then the next; a part that ends early is
// reported by name as truncated.
class PartSource : public ByteSource {
public:
    // Starts with the first part alone, FIRST_SIZE bytes of it.
    PartSource(const std::filesystem::path& first, std::uint64_t first_size);

    // Appends the next part, SIZE bytes of FILE.
    void append(const std::filesystem::path& file, std::uint64_t size);
    std::size_t read(void* data, std::size_t size) override;
    // The part the last byte read came from.
    [[nodiscard]] const std::filesystem::path& current() const { return m_parts[m_last].file; }

private:
    struct Part {
        std::filesystem::path file;
        std::uint64_t size = 0;
    };
    std::vector<Part> m_parts;
    std::size_t m_index = 0;  // the part being read
    std::size_t m_last = 0;   // the part the last byte came from
    std::uint64_t m_done = 0; // bytes of it read
    Fd m_fd;
};

} // namespace ferry
