#pragma once

// A second, independent reading of the payload tar's headers, run on the same bytes the tar
// reader gets. It is an allow-list: every header must be a POSIX ustar header with a valid
// checksum, of type '0' (a regular file) or 'x' (a pax extended header before a regular file,
// holding only the keys libarchive writes for Ferry, `path`, `size` and `mtime`, once each);
// any other type is refused by name. It also refuses what tar readers disagree on (a pax path
// with a NUL byte, a ustar name that escapes the root behind the pax path that overrides it)
// and any padding byte, in a header or after data, that is not zero: one payload, one byte-form.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ferry {

// What a tar header type flag stands for, in words ("a symlink", "a GNU volume header").
[[nodiscard]] std::string tar_type_name(unsigned char type);

class TarScanner {
public:
    // Scans the next SIZE bytes of the tar; throws a verification Error at the first fault.
    void feed(const char* data, std::size_t size);

private:
    void on_header();
    void on_regular(const std::string& b, std::uint64_t field_size);
    void on_pax();
    void on_padding();
    [[noreturn]] void fail(const std::string& message) const;

    enum class State { header, pax, data, padding, done };
    State m_state = State::header;
    std::string m_buf;
    std::uint64_t m_need = 512;
    std::uint64_t m_pax_size = 0;        // the size field of the pax header being read
    std::uint64_t m_padding = 0;         // zero bytes expected after the data being skipped
    std::uint64_t m_offset = 0;          // where the block being read starts in the tar
    std::uint64_t m_header = 0;          // where the header being checked starts
    bool m_after_pax = false;            // the last header was a pax header
    bool m_mtime = false;                // the pax header being read had an mtime
    std::optional<std::string> m_path;   // from the pending pax header
    std::optional<std::uint64_t> m_size; // from the pending pax header
};

} // namespace ferry
