#include "tar_scan.hpp"

#include "core/error.hpp"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <utility>

namespace ferry {

namespace {

constexpr std::uint64_t k_block = 512;
constexpr std::uint64_t k_max_pax = 1u << 20;

std::uint64_t round_block(std::uint64_t n) { return (n + k_block - 1) / k_block * k_block; }

// A tar number field: octal digits, or base-256 when the top bit is set; nullopt if malformed.
std::optional<std::uint64_t> number(const char* field, std::size_t width) {
    const auto first = static_cast<unsigned char>(field[0]);
    if ((first & 0x80) != 0) {
        if (first != 0x80) {
            return std::nullopt; // negative, or too large to be honest
        }
        std::uint64_t v = 0;
        for (std::size_t i = 1; i < width; ++i) {
            if (v >> 55 != 0) {
                return std::nullopt;
            }
            v = v << 8 | static_cast<unsigned char>(field[i]);
        }
        return v;
    }
    std::size_t i = 0;
    while (i < width && field[i] == ' ') {
        ++i;
    }
    std::size_t end = i;
    while (end < width && field[end] >= '0' && field[end] <= '7') {
        ++end;
    }
    // After the digits only NULs and spaces: "12x" is read as 10 by some readers, refused by others.
    for (std::size_t j = end; j < width; ++j) {
        if (field[j] != '\0' && field[j] != ' ') {
            return std::nullopt;
        }
    }
    std::uint64_t v = 0;
    if (end > i && std::from_chars(field + i, field + end, v, 8).ec != std::errc()) {
        return std::nullopt;
    }
    return v;
}

// The unsigned ustar checksum of header block B.
std::uint64_t checksum(const std::string& b) {
    std::uint64_t sum = 0;
    for (std::size_t i = 0; i < k_block; ++i) {
        sum += (i >= 148 && i < 156) ? ' ' : static_cast<unsigned char>(b[i]);
    }
    return sum;
}

// Whether NAME could lead a tar reader outside the folder it extracts into.
bool escapes(std::string_view name) {
    if (name.starts_with('/')) {
        return true;
    }
    std::size_t start = 0;
    for (;;) {
        const std::size_t slash = name.find('/', start);
        if (name.substr(start, slash == std::string_view::npos ? slash : slash - start) == "..") {
            return true;
        }
        if (slash == std::string_view::npos) {
            return false;
        }
        start = slash + 1;
    }
}

// A type flag as it reads in a message: '2', or 0x00 when it is not printable.
std::string type_flag(unsigned char type) {
    if (type > 0x20 && type < 0x7f) {
        return std::string("'") + static_cast<char>(type) + "'";
    }
    static constexpr char k_hex[] = "0123456789abcdef";
    return std::string("0x") + k_hex[type >> 4] + k_hex[type & 0xf];
}

// The string fields of a ustar header (offset, width, name): after their terminating NUL only
// NULs may follow, and the last 12 bytes of the block are zero.
struct StringField {
    std::size_t offset;
    std::size_t width;
    const char* name;
};
constexpr StringField k_string_fields[] = {{0, 100, "name"},   {157, 100, "link name"}, {265, 32, "owner name"},
                                           {297, 32, "group name"}, {345, 155, "prefix"}, {500, 12, "padding"}};

} // namespace

std::string tar_type_name(unsigned char type) {
    switch (type) {
    case '0':
        return "a regular file";
    case '\0':
        return "an old-style regular file";
    case '1':
        return "a hardlink";
    case '2':
        return "a symlink";
    case '3':
        return "a character device";
    case '4':
        return "a block device";
    case '5':
        return "a directory";
    case '6':
        return "a FIFO";
    case '7':
        return "a contiguous file";
    case 'x':
        return "a pax extended header";
    case 'g':
        return "a global pax header";
    case 'X':
        return "a Solaris extended header";
    case 'A':
        return "a Solaris ACL header";
    case 'E':
        return "a Solaris extended attribute header";
    case 'I':
        return "a star inode metadata header";
    case 'D':
        return "a GNU directory dump";
    case 'K':
        return "a GNU long link name header";
    case 'L':
        return "a GNU long name header";
    case 'M':
        return "a GNU multi-volume continuation";
    case 'N':
        return "a GNU old long name header";
    case 'S':
        return "a GNU sparse file";
    case 'V':
        return "a GNU volume header";
    default:
        return "an unknown header type";
    }
}

void TarScanner::fail(const std::string& message) const {
    throw Error(ErrorKind::verification, "payload tar, header at offset " + std::to_string(m_header) + ": " + message);
}

void TarScanner::feed(const char* data, std::size_t size) {
    while (size > 0 && m_state != State::done) {
        if (m_state == State::data) {
            const auto k = static_cast<std::size_t>(std::min<std::uint64_t>(size, m_need));
            m_need -= k;
            m_offset += k;
            data += k;
            size -= k;
            if (m_need == 0) {
                m_state = m_padding > 0 ? State::padding : State::header;
                m_need = m_padding > 0 ? m_padding : k_block;
            }
            continue;
        }
        const auto k = static_cast<std::size_t>(std::min<std::uint64_t>(size, m_need - m_buf.size()));
        m_buf.append(data, k);
        data += k;
        size -= k;
        if (m_buf.size() < m_need) {
            continue;
        }
        if (m_state == State::header) {
            on_header();
        } else if (m_state == State::pax) {
            on_pax();
        } else {
            on_padding();
        }
    }
}

void TarScanner::on_padding() {
    const auto it = std::find_if(m_buf.begin(), m_buf.end(), [](char c) { return c != 0; });
    if (it != m_buf.end()) {
        throw Error(ErrorKind::verification,
                    "payload tar, offset " + std::to_string(m_offset + static_cast<std::uint64_t>(it - m_buf.begin())) +
                        ": the padding after the data of the entry at offset " + std::to_string(m_header) +
                        " is not zero");
    }
    m_offset += m_buf.size();
    m_buf.clear();
    m_state = State::header;
    m_need = k_block;
}

void TarScanner::on_header() {
    const std::string b = std::move(m_buf);
    m_buf.clear();
    m_header = m_offset;
    m_offset += k_block;
    if (std::all_of(b.begin(), b.end(), [](char c) { return c == 0; })) {
        if (m_after_pax) {
            fail("the archive ends after a pax header, without the file it describes");
        }
        m_state = State::done; // the end-of-archive marker
        return;
    }
    if (std::memcmp(&b[257], "ustar\0" "00", 8) != 0) {
        fail("not a POSIX ustar header (magic " + quoted(std::string_view(&b[257], 8)) + ")");
    }
    const auto stored = number(&b[148], 8);
    if (!stored || *stored != checksum(b)) {
        fail("bad header checksum");
    }
    for (const auto& f : k_string_fields) {
        const std::string_view value(&b[f.offset], f.width);
        const std::size_t end = f.offset == 500 ? 0 : value.find('\0');
        if (end != std::string_view::npos && value.find_first_not_of('\0', end) != std::string_view::npos) {
            fail(f.offset == 500 ? std::string("the last 12 bytes of the header (its padding) are not zero")
                                 : std::string("non-zero bytes after the end of the ") + f.name + " field");
        }
    }
    const auto field_size = number(&b[124], 12);
    if (!field_size) {
        fail("unreadable size field");
    }
    const auto type = static_cast<unsigned char>(b[156]);
    if (type == '0') {
        on_regular(b, *field_size);
        return;
    }
    std::string name(b.data(), ::strnlen(b.data(), 100));
    if (type == 'x') {
        if (m_after_pax) {
            fail("two pax headers in a row");
        }
        if (*field_size > k_max_pax) {
            fail("pax header of " + std::to_string(*field_size) + " bytes (at most " + std::to_string(k_max_pax) + ")");
        }
        m_pax_size = *field_size;
        m_state = State::pax;
        m_need = round_block(*field_size);
        if (m_need == 0) {
            on_pax();
        }
        return;
    }
    if (m_path) {
        name = *m_path;
    }
    std::string what = quoted(name) + " is " + tar_type_name(type) + " (type " + type_flag(type) + ")";
    if ((type == '1' || type == '2') && b[157] != '\0') {
        what += " to " + quoted(std::string_view(&b[157], ::strnlen(&b[157], 100)));
    }
    fail(what + ": only regular files (type '0') and pax extended headers (type 'x') are allowed");
}

void TarScanner::on_regular(const std::string& b, std::uint64_t field_size) {
    std::string name(b.data(), ::strnlen(b.data(), 100));
    if (b[345] != '\0') {
        name = std::string(&b[345], ::strnlen(&b[345], 155)) + "/" + name;
    }
    if (b[157] != '\0') {
        fail("the regular file " + quoted(m_path.value_or(name)) + " carries a link name");
    }
    if (m_path && escapes(name)) {
        fail("the ustar name " + quoted(name) + " escapes the root behind the pax path " + quoted(*m_path) +
             " that overrides it");
    }
    const std::uint64_t data = m_size.value_or(field_size);
    m_path.reset();
    m_size.reset();
    m_after_pax = false;
    m_need = data;
    m_padding = round_block(data) - data;
    if (m_need > 0) {
        m_state = State::data;
    } else {
        m_state = State::header;
        m_need = k_block;
    }
}

void TarScanner::on_pax() {
    const std::string_view records(m_buf.data(), static_cast<std::size_t>(m_pax_size));
    std::size_t pos = 0;
    while (pos < records.size()) {
        const std::size_t space = records.find(' ', pos);
        std::size_t len = 0;
        if (space == std::string_view::npos ||
            std::from_chars(records.data() + pos, records.data() + space, len).ec != std::errc() ||
            len <= space - pos || pos + len > records.size() || records[pos + len - 1] != '\n') {
            fail("malformed pax record");
        }
        const std::string_view record = records.substr(space + 1, pos + len - space - 2);
        const std::size_t eq = record.find('=');
        if (eq == std::string_view::npos) {
            fail("malformed pax record");
        }
        const std::string_view key = record.substr(0, eq);
        const std::string_view value = record.substr(eq + 1);
        if (key == "path") {
            if (m_path) {
                fail("the pax header has two path records");
            }
            if (value.find('\0') != std::string_view::npos) {
                fail("the pax path " + quoted(value) + " holds a NUL byte");
            }
            if (value.empty()) {
                fail("the pax path is empty");
            }
            m_path = std::string(value);
        } else if (key == "size") {
            if (m_size) {
                fail("the pax header has two size records");
            }
            std::uint64_t v = 0;
            const auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
            if (value.empty() || ec != std::errc() || ptr != value.data() + value.size()) {
                fail("malformed pax size " + quoted(value));
            }
            m_size = v;
        } else if (key == "mtime") {
            // libarchive writes it for times before 1970 or from 2038 on; read by no one here.
            const std::size_t dot = value.find('.');
            const std::string_view whole = value.substr(0, dot);
            const std::string_view part = dot == std::string_view::npos ? "0" : value.substr(dot + 1);
            const auto digits = [](std::string_view v) {
                return !v.empty() && v.find_first_not_of("0123456789") == std::string_view::npos;
            };
            if (std::exchange(m_mtime, true) || !digits(whole) || !digits(part)) {
                fail("malformed or repeated pax mtime " + quoted(value));
            }
        } else if (key.starts_with("GNU.sparse")) {
            fail("the pax key " + quoted(key) + " describes a sparse file: sparse files are not allowed");
        } else {
            fail("the pax key " + quoted(key) + " is not allowed (only path, size and mtime)");
        }
        pos += len;
    }
    if (m_buf.find_first_not_of('\0', records.size()) != std::string::npos) {
        fail("the padding after the pax records is not zero");
    }
    m_offset += m_buf.size();
    m_buf.clear();
    m_after_pax = true;
    m_mtime = false;
    m_state = State::header;
    m_need = k_block;
}

} // namespace ferry
