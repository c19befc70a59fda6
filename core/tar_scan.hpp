#pragma once

// A second, independent reading of the payload tar's headers, run on the same bytes the tar
// reader gets. It refuses what the format never writes and tar readers disagree on: a pax
// path with a NUL byte (cut short by some readers, not by others), a ustar name that escapes
// the root behind the pax path that overrides it (a reader without pax support would use
// it), global pax headers, GNU long-name headers and sparse files.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ferry {

class TarScanner {
public:
    // Scans the next SIZE bytes of the tar; throws a verification Error at the first fault.
    void feed(const char* data, std::size_t size);

private:
    void on_header();
    void on_pax();
    [[noreturn]] void fail(const std::string& message) const;

    enum class State { header, pax, skip, done };
    State m_state = State::header;
    std::string m_buf;
    std::uint64_t m_need = 512;
    std::uint64_t m_pax_size = 0;        // the size field of the pax header being read
    std::uint64_t m_offset = 0;          // where the block being read starts in the tar
    std::optional<std::string> m_path;   // from the pending pax header
    std::optional<std::uint64_t> m_size; // from the pending pax header
};

} // namespace ferry
