#include "yaml_fields.hpp"

#include <yaml-cpp/depthguard.h>

#include <algorithm>
#include <charconv>

namespace ferry::schema {

namespace {

std::size_t edit_distance(std::string_view a, std::string_view b) {
    std::vector<std::size_t> row(b.size() + 1);
    for (std::size_t j = 0; j <= b.size(); ++j) {
        row[j] = j;
    }
    for (std::size_t i = 1; i <= a.size(); ++i) {
        std::size_t diagonal = row[0];
        row[0] = i;
        for (std::size_t j = 1; j <= b.size(); ++j) {
            const std::size_t above = row[j];
            row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
            diagonal = above;
        }
    }
    return row[b.size()];
}

} // namespace

YAML::Node load_yaml(std::string_view text, const std::string& file, ErrorKind kind) {
    try {
        return YAML::Load(std::string(text));
    } catch (const YAML::DeepRecursion& e) {
        throw Error(kind, file + ":" + std::to_string(e.mark.line + 1) + ": YAML nested more than " +
                              std::to_string(k_max_yaml_depth) + " levels deep, the YAML reader's limit");
    } catch (const YAML::ParserException& e) {
        throw Error(kind, file + ":" + std::to_string(e.mark.line + 1) + ": YAML syntax error: " + e.msg);
    }
}

std::optional<std::string> did_you_mean(std::string_view word,
                                        const std::vector<std::string_view>& allowed) {
    std::optional<std::string> best;
    std::size_t best_distance = std::max<std::size_t>(2, word.size() / 3) + 1;
    for (const auto candidate : allowed) {
        const std::size_t d = edit_distance(word, candidate);
        if (d < best_distance) {
            best_distance = d;
            best = std::string(candidate);
        }
    }
    return best;
}

std::string location(const std::string& file, const YAML::Node& node) {
    const YAML::Mark mark = node.Mark();
    if (mark.line < 0) {
        return file;
    }
    return file + ":" + std::to_string(mark.line + 1);
}

std::string scalar(const YAML::Node& node, const std::string& file, const std::string& context,
                   ErrorKind kind) {
    if (!node.IsScalar()) {
        throw Error(kind, location(file, node) + ": " + context + ": expected a single value");
    }
    return node.Scalar();
}

Fields::Fields(const YAML::Node& node, std::string file, std::string context,
               std::vector<std::string_view> allowed, ErrorKind kind)
    : m_node(node), m_file(std::move(file)), m_context(std::move(context)), m_kind(kind) {
    if (!m_node.IsMap()) {
        throw Error(m_kind, location(m_file, m_node) + ": " +
                                (m_context.empty() ? std::string("document") : m_context) +
                                ": expected a mapping of keys to values");
    }
    std::vector<std::string> seen;
    for (const auto& item : m_node) {
        const std::string key = item.first.IsScalar() ? item.first.Scalar() : "?";
        if (std::find(seen.begin(), seen.end(), key) != seen.end()) {
            // YAML readers disagree on which of two equal keys counts: refuse them all.
            throw Error(m_kind, location(m_file, item.first) + ": duplicate key \"" + key + "\"" +
                                    (m_context.empty() ? std::string() : " in " + m_context));
        }
        seen.push_back(key);
        if (std::find(allowed.begin(), allowed.end(), key) != allowed.end()) {
            continue;
        }
        std::string message = location(m_file, item.first) + ": unknown key \"" + key + "\"";
        if (!m_context.empty()) {
            message += " in " + m_context;
        }
        if (const auto guess = did_you_mean(key, allowed)) {
            message += " (did you mean \"" + *guess + "\"?)";
        }
        throw Error(m_kind, message);
    }
}

std::string Fields::child_context(std::string_view key) const {
    return m_context.empty() ? std::string(key) : m_context + "." + std::string(key);
}

void Fields::fail(std::string_view key, const std::string& message, const std::string& hint) const {
    const YAML::Node at = has(key) ? get(key) : m_node;
    throw Error(m_kind, location(m_file, at) + ": " + child_context(key) + ": " + message, hint);
}

bool Fields::has(std::string_view key) const {
    return static_cast<bool>(m_node[std::string(key)]) && !m_node[std::string(key)].IsNull();
}

YAML::Node Fields::get(std::string_view key) const { return m_node[std::string(key)]; }

YAML::Node Fields::require(std::string_view key) const {
    if (!has(key)) {
        throw Error(m_kind, location(m_file, m_node) + ": missing key \"" + child_context(key) + "\"");
    }
    return get(key);
}

std::string Fields::str(std::string_view key) const {
    return scalar(require(key), m_file, child_context(key), m_kind);
}

std::optional<std::string> Fields::opt_str(std::string_view key) const {
    if (!has(key)) {
        return std::nullopt;
    }
    return str(key);
}

std::uint64_t Fields::u64(std::string_view key) const {
    const std::string text = str(key);
    std::uint64_t value = 0;
    const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (text.empty() || ec != std::errc() || ptr != text.data() + text.size()) {
        fail(key, "expected a non-negative integer, got \"" + text + "\"");
    }
    if (text.size() > 1 && text[0] == '0') {
        // PyYAML, like every YAML 1.1 reader, takes 0644 for octal (420).
        fail(key, "expected a decimal integer without leading zeros, got \"" + text + "\"",
             "YAML 1.1 readers take a number with a leading zero for octal");
    }
    return value;
}

std::optional<std::uint64_t> Fields::opt_u64(std::string_view key) const {
    if (!has(key)) {
        return std::nullopt;
    }
    return u64(key);
}

std::vector<std::string> Fields::str_list(std::string_view key) const {
    std::vector<std::string> out;
    std::size_t i = 0;
    for (const auto& node : list(key)) {
        out.push_back(scalar(node, m_file, child_context(key) + "[" + std::to_string(i++) + "]", m_kind));
    }
    return out;
}

Fields Fields::sub(std::string_view key, std::vector<std::string_view> allowed) const {
    return Fields(require(key), m_file, child_context(key), std::move(allowed), m_kind);
}

std::vector<YAML::Node> Fields::list(std::string_view key) const {
    if (!has(key)) {
        return {};
    }
    const YAML::Node node = get(key);
    if (!node.IsSequence()) {
        fail(key, "expected a list");
    }
    return {node.begin(), node.end()};
}

} // namespace ferry::schema
