#include "text.hpp"

#include <cstdio>

namespace ferry {

std::optional<CodePoint> decode_utf8(std::string_view text, std::size_t at) {
    const auto c = static_cast<unsigned char>(text[at]);
    if (c < 0x80) {
        return CodePoint{c, 1};
    }
    std::size_t length = 0;
    char32_t value = 0;
    char32_t min = 0;
    if (c >= 0xc2 && c <= 0xdf) {
        length = 2;
        value = c & 0x1f;
        min = 0x80;
    } else if (c >= 0xe0 && c <= 0xef) {
        length = 3;
        value = c & 0x0f;
        min = 0x800;
    } else if (c >= 0xf0 && c <= 0xf4) {
        length = 4;
        value = c & 0x07;
        min = 0x10000;
    } else {
        return std::nullopt;
    }
    if (at + length > text.size()) {
        return std::nullopt;
    }
    for (std::size_t k = 1; k < length; ++k) {
        const auto b = static_cast<unsigned char>(text[at + k]);
        if ((b & 0xc0) != 0x80) {
            return std::nullopt;
        }
        value = value << 6 | (b & 0x3f);
    }
    if (value < min || value > 0x10ffff || (value >= 0xd800 && value <= 0xdfff)) {
        return std::nullopt;
    }
    return CodePoint{value, length};
}

bool is_unsafe_code_point(char32_t c) {
    return c < 0x20 || (c >= 0x7f && c <= 0x9f) || c == 0x061c || c == 0x200e || c == 0x200f ||
           (c >= 0x202a && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069) || c == 0x2028 || c == 0x2029;
}

std::string code_point_name(char32_t c) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "U+%04X", static_cast<unsigned>(c));
    return buf;
}

std::optional<std::string> text_problem(std::string_view text) {
    for (std::size_t i = 0; i < text.size();) {
        const auto cp = decode_utf8(text, i);
        if (!cp) {
            return "is not valid UTF-8 (byte " + std::to_string(i) + ")";
        }
        const char32_t c = cp->value;
        if (c < 0x20 || c == 0x7f) {
            return "must not contain control characters (NUL, newline, tab, ...)";
        }
        if (c >= 0x80 && c <= 0x9f) {
            return "must not contain the C1 control character " + code_point_name(c);
        }
        if (c == 0x2028 || c == 0x2029) {
            return "must not contain the line or paragraph separator " + code_point_name(c);
        }
        if (is_unsafe_code_point(c)) {
            return "must not contain the bidirectional control " + code_point_name(c);
        }
        i += cp->length;
    }
    return std::nullopt;
}

std::string shell_quoted(const std::vector<std::string>& argv) {
    std::string out;
    for (const auto& arg : argv) {
        const bool plain = !arg.empty() && arg.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                                                 "0123456789_-+=./:,@%") == std::string::npos;
        std::string word = plain ? arg : "'";
        if (!plain) {
            for (const char c : arg) {
                word += c == '\'' ? std::string("'\\''") : std::string(1, c);
            }
            word += "'";
        }
        out += (out.empty() ? "" : " ") + word;
    }
    return out;
}

} // namespace ferry
