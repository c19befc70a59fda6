#pragma once

// The strict subset of YAML a manifest is written in, so that every YAML reader (yaml-cpp,
// PyYAML, a JSON Schema validator on either) reads a manifest the same way or refuses it.

#include "core/error.hpp"

#include <yaml-cpp/yaml.h>

#include <string>
#include <string_view>
#include <vector>

namespace ferry::schema {

// How deep a manifest's YAML may nest (it needs 5 levels: procedure, health, a check, its command).
inline constexpr int k_max_manifest_depth = 16;

// How many values (scalars, lists, mappings) the YAML reader may build for a manifest: each
// costs about 560 bytes in yaml-cpp, so this bounds verify's memory (docs/format.md). The file
// list in the bundler's layout has its own reader and does not count.
inline constexpr std::size_t k_max_manifest_values = 200000;

// Whether TEXT is a decimal integer that every YAML reader reads alike: 0, or digits without a
// leading zero.
[[nodiscard]] bool is_canonical_integer(std::string_view text);

// Whether TEXT, written as a plain (unquoted) scalar, could be read as something other than
// text by some YAML reader: a YAML 1.1 boolean (yes, on, ...), null, a number in any base or
// form (0644, 0x1f, 1_000, 1:30, 1e3, .5), or a merge key.
[[nodiscard]] bool plain_is_ambiguous(std::string_view text);

// Writes TEXT as a string every YAML reader reads as TEXT: plain when that is safe, else quoted.
void emit_text(YAML::Emitter& out, const std::string& text);

// Refuses TEXT, as FILE, unless it is in the strict subset: one document without directives or
// document markers; no tags but "!", no anchors, aliases or merge keys, no null values; under
// the keys INTEGER_KEYS a plain decimal integer, elsewhere text that no reader takes for
// anything else; at most k_max_manifest_depth levels deep and k_max_manifest_values values;
// no raw U+0085, U+2028 or U+2029 (line breaks to YAML 1.1 readers, not to YAML 1.2 ones).
void check_strict_yaml(std::string_view text, const std::string& file, ErrorKind kind,
                       const std::vector<std::string_view>& integer_keys);

} // namespace ferry::schema
