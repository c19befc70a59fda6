#pragma once

// Checked access to YAML documents: every error names the file, the line and the key.

#include "core/error.hpp"

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ferry::schema {

// How deep yaml-cpp lets a document nest (its DepthGuard) before it refuses it.
inline constexpr int k_max_yaml_depth = 2000;

// Parses TEXT as one YAML document; syntax errors name FILE and the line.
[[nodiscard]] YAML::Node load_yaml(std::string_view text, const std::string& file, ErrorKind kind);

// The allowed name closest to WORD, if it is close enough to be a likely misspelling.
[[nodiscard]] std::optional<std::string> did_you_mean(std::string_view word,
                                                      const std::vector<std::string_view>& allowed);

// A YAML mapping whose keys are checked against a fixed list.
class Fields {
public:
    // CONTEXT names the mapping in messages ("components[0]"); empty for the top level.
    Fields(const YAML::Node& node, std::string file, std::string context,
           std::vector<std::string_view> allowed, ErrorKind kind);

    [[nodiscard]] bool has(std::string_view key) const;
    [[nodiscard]] YAML::Node get(std::string_view key) const;
    [[nodiscard]] YAML::Node require(std::string_view key) const;
    [[nodiscard]] std::string str(std::string_view key) const;
    [[nodiscard]] std::optional<std::string> opt_str(std::string_view key) const;
    [[nodiscard]] std::uint64_t u64(std::string_view key) const;
    [[nodiscard]] std::optional<std::uint64_t> opt_u64(std::string_view key) const;
    [[nodiscard]] std::vector<std::string> str_list(std::string_view key) const;
    // A mapping nested under KEY (which must be a mapping).
    [[nodiscard]] Fields sub(std::string_view key, std::vector<std::string_view> allowed) const;
    // Each element of the sequence under KEY (empty if absent).
    [[nodiscard]] std::vector<YAML::Node> list(std::string_view key) const;

    // Throws "FILE:LINE: CONTEXT.KEY: MESSAGE", pointing at KEY's value (or the mapping).
    [[noreturn]] void fail(std::string_view key, const std::string& message,
                           const std::string& hint = {}) const;
    [[nodiscard]] std::string child_context(std::string_view key) const;
    [[nodiscard]] const std::string& file() const { return m_file; }
    [[nodiscard]] ErrorKind kind() const { return m_kind; }

private:
    YAML::Node m_node;
    std::string m_file;
    std::string m_context;
    ErrorKind m_kind;
};

// "FILE:LINE" for a node (LINE 1-based).
[[nodiscard]] std::string location(const std::string& file, const YAML::Node& node);

// The scalar NODE as a string; throws if it is not a scalar.
[[nodiscard]] std::string scalar(const YAML::Node& node, const std::string& file,
                                 const std::string& context, ErrorKind kind);

} // namespace ferry::schema
