#include "tar_scan.hpp"

#include "core/error.hpp"

#include <algorithm>
#include <charconv>
#include <cstring>

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
    std::uint64_t v = 0;
    if (end > i && std::from_chars(field + i, field + end, v, 8).ec != std::errc()) {
        return std::nullopt;
    }
    return v;
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

} // namespace

void TarScanner::fail(const std::string& message) const {
    throw Error(ErrorKind::verification, "payload tar, header at offset " + std::to_string(m_offset) + ": " + message);
}

void TarScanner::feed(const char* data, std::size_t size) {
    while (size > 0 && m_state != State::done) {
        if (m_state == State::skip) {
            const auto k = static_cast<std::size_t>(std::min<std::uint64_t>(size, m_need));
            m_need -= k;
            data += k;
            size -= k;
            if (m_need == 0) {
                m_state = State::header;
                m_need = k_block;
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
        } else {
            on_pax();
        }
    }
}

void TarScanner::on_header() {
    const std::string b = std::move(m_buf);
    m_buf.clear();
    if (std::all_of(b.begin(), b.end(), [](char c) { return c == 0; })) {
        m_state = State::done; // the end-of-archive marker
        return;
    }
    const auto field_size = number(&b[124], 12);
    if (!field_size) {
        fail("unreadable size field");
    }
    const char type = b[156];
    if (type == 'x') {
        if (*field_size > k_max_pax) {
            fail("pax header of " + std::to_string(*field_size) + " bytes");
        }
        m_pax_size = *field_size;
        m_state = State::pax;
        m_need = round_block(*field_size);
        m_offset += k_block;
        if (m_need == 0) {
            on_pax();
        }
        return;
    }
    if (type == 'g') {
        fail("global pax headers are not allowed");
    }
    if (type == 'L' || type == 'K') {
        fail("GNU long-name headers are not allowed");
    }
    if (type == 'S') {
        fail("sparse files are not allowed");
    }
    std::string name(b.data(), ::strnlen(b.data(), 100));
    if (std::memcmp(&b[257], "ustar", 5) == 0 && b[345] != '\0') {
        name = std::string(&b[345], ::strnlen(&b[345], 155)) + "/" + name;
    }
    if (m_path && escapes(name)) {
        fail("the ustar name " + quoted(name) + " escapes the root behind the pax path " + quoted(*m_path) +
             " that overrides it");
    }
    const std::uint64_t data = m_size.value_or(*field_size);
    m_path.reset();
    m_size.reset();
    m_offset += k_block + round_block(data);
    m_need = round_block(data);
    m_state = m_need > 0 ? State::skip : State::header;
    if (m_need == 0) {
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
            if (value.find('\0') != std::string_view::npos) {
                fail("the pax path " + quoted(value) + " holds a NUL byte");
            }
            m_path = std::string(value);
        } else if (key == "size") {
            std::uint64_t v = 0;
            if (std::from_chars(value.data(), value.data() + value.size(), v).ec != std::errc()) {
                fail("malformed pax size");
            }
            m_size = v;
        } else if (key.starts_with("GNU.sparse")) {
            fail("sparse files are not allowed");
        }
        pos += len;
    }
    m_buf.clear();
    m_offset += round_block(m_pax_size);
    m_state = State::header;
    m_need = k_block;
}

} // namespace ferry
