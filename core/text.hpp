#pragma once

// The one rule for text that names things (payload paths, install paths): printable UTF-8.
// The JSON Schemas in manifest-schema/schemas/ spell the same rule as a character class, and
// manifest-schema/schemas/path-cases.json holds the cases both are tested against.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ferry {

// One decoded UTF-8 sequence.
struct CodePoint {
    char32_t value;
    std::size_t length; // in bytes
};

// The strict UTF-8 sequence at TEXT[AT], or nullopt if the bytes there are not one (overlong,
// a surrogate, above U+10FFFF, cut short, a stray continuation byte).
[[nodiscard]] std::optional<CodePoint> decode_utf8(std::string_view text, std::size_t at);

// Whether C may not appear in a name: C0 controls and DEL, C1 controls (U+0080 to U+009F),
// bidirectional controls (U+061C, U+200E, U+200F, U+202A to U+202E, U+2066 to U+2069) and
// the line and paragraph separators U+2028 and U+2029.
[[nodiscard]] bool is_unsafe_code_point(char32_t c);

// Why TEXT breaks the rule ("must not contain ..."), or nullopt if it is printable UTF-8.
[[nodiscard]] std::optional<std::string> text_problem(std::string_view text);

// "U+202E" for C.
[[nodiscard]] std::string code_point_name(char32_t c);

// ARGV as a shell would need it typed: each argument single-quoted where it has to be.
[[nodiscard]] std::string shell_quoted(const std::vector<std::string>& argv);

} // namespace ferry
