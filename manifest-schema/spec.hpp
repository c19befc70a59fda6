#pragma once

// The bundle spec: what ferry-bundler build reads (docs/format.md, "Bundle spec").

#include "core/image_archive.hpp"
#include "core/time.hpp"
#include "manifest-schema/procedure.hpp"
#include "manifest-schema/version.hpp"

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace ferry::schema {

// "applier" is ferry-applier itself, installed last (docs/format.md, "Self-upgrade").
inline const std::vector<std::string_view> k_roles = {"binary", "image", "migration", "config",
                                                      "doc",    "script", "applier"};
inline const std::vector<std::string_view> k_config_modes = {"replace", "keep", "merge-env"};

struct SpecFile {
    std::string source;               // relative to the spec's folder; a file, folder/ or glob
    std::string role;
    std::optional<std::string> dest;  // absolute
    unsigned mode = 0;                // defaulted by role
    std::string config_mode;          // config files only
    std::optional<ImageFormat> image_format; // images the node pushes or loads (with refs)
    std::vector<std::string> image_refs;     // the references the image archive must carry
    std::string where;                // "spec.yaml:12", for messages
    std::string refs_where;           // "spec.yaml:14: components[0].files[2].refs", for messages
    std::string source_where;         // "spec.yaml:14: components[0].files[2].source", for messages
};

struct SpecComponent {
    std::string name;
    std::string version;
    std::vector<SpecFile> files;
};

struct Compatibility {
    std::string product;
    std::string channel;
};

struct BundleSpec {
    std::filesystem::path path; // the spec file
    std::string name;
    Version version;
    std::uint64_t sequence = 0;
    std::optional<UnixTime> expires;
    std::optional<std::uint64_t> expires_in_days;
    Compatibility compatible;
    std::string upgrade_from;
    std::optional<Version> min_applier_version; // the oldest ferry-applier that may apply it
    std::string release_notes_file;
    std::vector<std::string> breaking_changes;
    std::vector<SpecComponent> components;
    Procedure procedure;
};

// Reads and validates a spec file; errors name the file, the line and the key.
[[nodiscard]] BundleSpec load_spec(const std::filesystem::path& path);

// Parses spec TEXT; FILE names it in messages.
[[nodiscard]] BundleSpec parse_spec(std::string_view text, const std::string& file);

// Whether NAME is a valid bundle or component name.
[[nodiscard]] bool valid_name(std::string_view name);

// Parses an octal mode "0755"; nullopt unless it is 0000-0777.
[[nodiscard]] std::optional<unsigned> parse_mode(std::string_view text);

// Formats a mode as four octal digits.
[[nodiscard]] std::string format_mode(unsigned mode);

} // namespace ferry::schema
