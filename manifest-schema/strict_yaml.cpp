#include "strict_yaml.hpp"

#include "manifest-schema/yaml_fields.hpp"

#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/eventhandler.h>

#include <algorithm>
#include <sstream>

namespace ferry::schema {

bool is_canonical_integer(std::string_view text) {
    if (text.empty() || text.size() > 19 || (text[0] == '0' && text.size() > 1)) {
        return false;
    }
    return std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

bool plain_is_ambiguous(std::string_view text) {
    static constexpr std::string_view k_words[] = {
        "",     "~",    "null", "Null", "NULL", "yes",   "Yes",   "YES",   "no",  "No",  "NO",  "y",   "Y",
        "n",    "N",    "true", "True", "TRUE", "false", "False", "FALSE", "on",  "On",  "ON",  "off", "Off",
        "OFF",  "<<",   "=",    ".inf", ".Inf", ".INF",  ".nan",  ".NaN",  ".NAN"};
    if (std::find(std::begin(k_words), std::end(k_words), text) != std::end(k_words)) {
        return true;
    }
    std::string_view s = text;
    if (s[0] == '+' || s[0] == '-') {
        s.remove_prefix(1);
    }
    if (s == ".inf" || s == ".Inf" || s == ".INF") {
        return true;
    }
    if (s.empty() || !((s[0] >= '0' && s[0] <= '9') || s[0] == '.')) {
        return false;
    }
    // Numbers in every base and form YAML 1.1 and 1.2 know are made of these characters; a
    // plain scalar of them only is refused, number or not (a date, "1.2.3"): quote it.
    const auto only = [&](std::string_view chars) { return s.find_first_not_of(chars) == std::string_view::npos; };
    if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'o' || s[1] == 'b')) {
        const char base = s[1];
        s.remove_prefix(2);
        return only(base == 'x' ? "0123456789abcdefABCDEF_" : base == 'o' ? "01234567_" : "01_");
    }
    return only("0123456789_:.eE+-");
}

void emit_text(YAML::Emitter& out, const std::string& text) {
    if (is_canonical_integer(text) || plain_is_ambiguous(text)) {
        out << YAML::DoubleQuoted << text;
    } else {
        out << text;
    }
}

namespace {

// Walks the events of one document and refuses whatever is outside the strict subset.
class StrictHandler : public YAML::EventHandler {
public:
    StrictHandler(const std::string& file, ErrorKind kind, const std::vector<std::string_view>& integer_keys)
        : m_file(file), m_kind(kind), m_integer_keys(integer_keys) {}

    void OnDocumentStart(const YAML::Mark& mark) override {
        if (++m_documents > 1) {
            fail(mark, "a second YAML document is not allowed");
        }
    }
    void OnDocumentEnd() override {}
    void OnNull(const YAML::Mark& mark, YAML::anchor_t anchor) override {
        count(mark);
        check_anchor(mark, anchor);
        // A null's mark is where the next token starts: name the key's line instead.
        const bool value = !m_stack.empty() && m_stack.back().map && !m_stack.back().expect_key;
        fail(value ? m_stack.back().key_mark : mark,
             where() + "an empty or null value is not allowed (write \"\" for empty text, [] for an empty list)");
    }
    void OnAlias(const YAML::Mark& mark, YAML::anchor_t) override {
        fail(mark, "YAML aliases (*name) are not allowed in a manifest");
    }
    void OnAnchor(const YAML::Mark& mark, const std::string& name) override {
        fail(mark, "YAML anchors (&" + printable(name) + ") are not allowed in a manifest");
    }
    void OnScalar(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                  const std::string& value) override {
        count(mark);
        check_anchor(mark, anchor);
        check_tag(mark, tag);
        const bool plain = tag == "?";
        if (is_key()) {
            if (plain && value == "<<") {
                fail(mark, "YAML merge keys (<<) are not allowed in a manifest");
            }
            if (plain && plain_is_ambiguous(value)) {
                fail(mark, "the key " + quoted(value) + " is read as a non-string by some YAML readers");
            }
            m_stack.back().key = value;
            m_stack.back().key_mark = mark;
            m_stack.back().expect_key = false;
            return;
        }
        const std::string key = current_key();
        const bool integer = std::find(m_integer_keys.begin(), m_integer_keys.end(), key) != m_integer_keys.end();
        if (integer && !(plain && is_canonical_integer(value))) {
            fail(mark, where() + "expected a decimal integer without quotes or leading zeros, got " +
                           (plain ? printable(value) : quoted(value)) +
                           (plain && value.size() > 1 && value[0] == '0' ? " (YAML 1.1 readers take it for octal)" : ""));
        }
        if (!integer && plain && is_canonical_integer(value)) {
            fail(mark, where() + "the number " + value + " where text is expected: quote it");
        }
        if (!integer && plain && plain_is_ambiguous(value)) {
            fail(mark, where() + quoted(value) + " unquoted is read as a boolean, null or number by some YAML "
                                 "readers: quote it");
        }
        after_value();
    }
    void OnSequenceStart(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                         YAML::EmitterStyle::value) override {
        open(mark, tag, anchor, false);
    }
    void OnSequenceEnd() override { close(); }
    void OnMapStart(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                    YAML::EmitterStyle::value) override {
        open(mark, tag, anchor, true);
    }
    void OnMapEnd() override { close(); }

private:
    struct Frame {
        bool map;
        bool expect_key = true;
        std::string key; // of the value being read, in a map
        YAML::Mark key_mark{};
    };

    [[noreturn]] void fail(const YAML::Mark& mark, const std::string& message) const {
        throw Error(m_kind, m_file + ":" + std::to_string(mark.line + 1) + ": " + message);
    }
    // Counts a value, before the YAML reader would build it.
    void count(const YAML::Mark& mark) {
        if (++m_values > k_max_manifest_values) {
            fail(mark, "the manifest's YAML holds more than " + std::to_string(k_max_manifest_values) +
                           " values, the limit that bounds a reader's memory");
        }
    }
    void check_anchor(const YAML::Mark& mark, YAML::anchor_t anchor) const {
        if (anchor != YAML::NullAnchor) {
            fail(mark, "YAML anchors are not allowed in a manifest");
        }
    }
    void check_tag(const YAML::Mark& mark, const std::string& tag) const {
        if (tag != "?" && tag != "!") {
            fail(mark, "YAML tags (" + quoted(tag) + ") are not allowed in a manifest");
        }
    }
    [[nodiscard]] bool is_key() const { return !m_stack.empty() && m_stack.back().map && m_stack.back().expect_key; }
    // The key whose value is being read: of this map, or of the map holding this list.
    [[nodiscard]] std::string current_key() const {
        for (auto it = m_stack.rbegin(); it != m_stack.rend(); ++it) {
            if (it->map) {
                return it->key;
            }
        }
        return {};
    }
    [[nodiscard]] std::string where() const {
        const std::string key = current_key();
        return key.empty() ? std::string() : printable(key) + ": ";
    }
    void after_value() {
        if (!m_stack.empty() && m_stack.back().map) {
            m_stack.back().expect_key = true;
        }
    }
    void open(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor, bool map) {
        count(mark);
        check_anchor(mark, anchor);
        check_tag(mark, tag);
        if (is_key()) {
            fail(mark, "a list or mapping as a key is not allowed");
        }
        if (static_cast<int>(m_stack.size()) >= k_max_manifest_depth) {
            fail(mark, "YAML nested more than " + std::to_string(k_max_manifest_depth) +
                           " levels deep, the limit of a manifest (which needs 5)");
        }
        m_stack.push_back(Frame{map, true, {}, {}});
    }
    void close() {
        m_stack.pop_back();
        after_value();
    }

    const std::string& m_file;
    ErrorKind m_kind;
    const std::vector<std::string_view>& m_integer_keys;
    int m_documents = 0;
    std::size_t m_values = 0;
    std::vector<Frame> m_stack;
};

// Refuses, by line, what the event stream does not show: directives, document markers, and the
// characters YAML 1.1 reads as line breaks and YAML 1.2 does not.
void check_lines(std::string_view text, const std::string& file, ErrorKind kind) {
    std::size_t line = 1;
    for (std::size_t start = 0; start < text.size();) {
        std::size_t end = text.find('\n', start);
        if (end == std::string_view::npos) {
            end = text.size();
        }
        const std::string_view l = text.substr(start, end - start);
        const auto fail = [&](const std::string& message) {
            throw Error(kind, file + ":" + std::to_string(line) + ": " + message);
        };
        if (l.starts_with('%')) {
            fail("YAML directives (" + quoted(l.substr(0, 16)) + ") are not allowed in a manifest");
        }
        for (const std::string_view marker : {"---", "..."}) {
            if (l.starts_with(marker) && (l.size() == 3 || l[3] == ' ' || l[3] == '\t' || l[3] == '\r')) {
                fail("YAML document markers (" + std::string(marker) + ") are not allowed in a manifest");
            }
        }
        for (const std::string_view raw : {"\xc2\x85", "\xe2\x80\xa8", "\xe2\x80\xa9"}) {
            if (l.find(raw) != std::string_view::npos) {
                fail("a raw line break U+0085, U+2028 or U+2029, which YAML readers disagree on: write it "
                     "escaped in double quotes (\\N, \\L, \\P)");
            }
        }
        ++line;
        start = end + 1;
    }
}

} // namespace

void check_strict_yaml(std::string_view text, const std::string& file, ErrorKind kind,
                       const std::vector<std::string_view>& integer_keys) {
    check_lines(text, file, kind);
    std::istringstream in{std::string(text)};
    YAML::Parser parser(in);
    StrictHandler handler(file, kind, integer_keys);
    try {
        while (parser.HandleNextDocument(handler)) {
        }
    } catch (const YAML::DeepRecursion& e) {
        throw Error(kind, file + ":" + std::to_string(e.mark.line + 1) + ": YAML nested more than " +
                              std::to_string(k_max_yaml_depth) + " levels deep, the YAML reader's limit");
    } catch (const YAML::ParserException& e) {
        throw Error(kind, file + ":" + std::to_string(e.mark.line + 1) + ": YAML syntax error: " + e.msg);
    }
}

} // namespace ferry::schema
