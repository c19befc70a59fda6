#include "error.hpp"

#include "core/text.hpp"

#include <cerrno>
#include <cstring>

namespace ferry {

Error::Error(ErrorKind kind, std::string message, std::string hint)
    : std::runtime_error(std::move(message)), m_kind(kind), m_hint(std::move(hint)) {}

Error Error::with_context(const std::string& context) const {
    return Error(m_kind, context + ": " + what(), m_hint);
}

std::string printable(std::string_view text) {
    static constexpr char k_hex[] = "0123456789abcdef";
    std::string out;
    for (std::size_t i = 0; i < text.size();) {
        const auto cp = decode_utf8(text, i);
        if (!cp || cp->value < 0x20 || cp->value == 0x7f) {
            const auto u = static_cast<unsigned char>(text[i]);
            out += "\\x";
            out += k_hex[u >> 4];
            out += k_hex[u & 0xf];
            ++i;
            continue;
        }
        if (is_unsafe_code_point(cp->value)) {
            out += "\\u";
            for (int shift = 12; shift >= 0; shift -= 4) {
                out += k_hex[(cp->value >> shift) & 0xf];
            }
        } else {
            out.append(text.substr(i, cp->length));
        }
        i += cp->length;
    }
    return out;
}

std::string quoted(std::string_view text) {
    std::string escaped;
    escaped.reserve(text.size() + 2);
    for (const char c : text) {
        if (c == '"' || c == '\\') {
            escaped.push_back('\\');
        }
        escaped.push_back(c);
    }
    std::string out(1, '"');
    out.append(printable(escaped));
    out.push_back('"');
    return out;
}

std::string_view kind_name(ErrorKind kind) {
    switch (kind) {
    case ErrorKind::usage:
        return "usage";
    case ErrorKind::input:
        return "input";
    case ErrorKind::io:
        return "io";
    case ErrorKind::verification:
        return "verification";
    case ErrorKind::policy:
        return "policy";
    case ErrorKind::rolled_back:
        return "rolled_back";
    case ErrorKind::failed:
        return "failed";
    case ErrorKind::interrupted:
        return "interrupted";
    case ErrorKind::internal:
        return "internal";
    }
    return "internal";
}

std::string_view failure_result(ErrorKind kind) {
    switch (kind) {
    case ErrorKind::policy:
        return "refused";
    case ErrorKind::verification:
        return "not_verified";
    case ErrorKind::rolled_back:
    case ErrorKind::failed:
        return "failed";
    case ErrorKind::interrupted:
        return "interrupted";
    case ErrorKind::usage:
    case ErrorKind::input:
    case ErrorKind::io:
    case ErrorKind::internal:
        return "error";
    }
    return "error";
}

int exit_code(ErrorKind kind) {
    switch (kind) {
    case ErrorKind::usage:
        return 2;
    case ErrorKind::input:
    case ErrorKind::io:
    case ErrorKind::internal:
        return 1;
    case ErrorKind::verification:
        return 3;
    case ErrorKind::policy:
        return 4;
    case ErrorKind::rolled_back:
        return 5;
    case ErrorKind::failed:
        return 6;
    case ErrorKind::interrupted:
        return 7;
    }
    return 1;
}

void throw_errno(const std::string& what) {
    throw Error(ErrorKind::io, what + ": " + std::strerror(errno));
}

} // namespace ferry
