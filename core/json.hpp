#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ferry {

// A small streaming JSON writer for --json output; commas are placed automatically.
class JsonWriter {
public:
    JsonWriter& begin_object();
    JsonWriter& end_object();
    JsonWriter& begin_array();
    JsonWriter& end_array();
    JsonWriter& key(std::string_view k);
    JsonWriter& value(std::string_view s);
    JsonWriter& value(const char* s) { return value(std::string_view(s)); }
    JsonWriter& value(std::int64_t n);
    JsonWriter& value(std::uint64_t n);
    JsonWriter& value(int n) { return value(static_cast<std::int64_t>(n)); }
    JsonWriter& value(bool b);
    JsonWriter& null();
    // Shorthand for key(k).value(v).
    template <typename T> JsonWriter& field(std::string_view k, const T& v) {
        key(k);
        return value(v);
    }
    // The document, with a trailing newline.
    [[nodiscard]] std::string str() const { return m_out + "\n"; }

private:
    void before_value();
    std::string m_out;
    std::vector<bool> m_first; // one per open container: no element written yet
    bool m_after_key = false;
};

// S as a quoted JSON string.
[[nodiscard]] std::string json_quote(std::string_view s);

} // namespace ferry
