#pragma once

// The manifest: the signed, complete description of a bundle (docs/format.md, "Manifest").

#include "core/limits.hpp"
#include "core/payload.hpp"
#include "core/time.hpp"
#include "manifest-schema/procedure.hpp"
#include "manifest-schema/spec.hpp"

#include <string>
#include <vector>

namespace ferry::schema {

inline constexpr std::string_view k_format = "ferry-bundle/1";

// One reference an image file carries, with the digests the node checks after loading it.
struct ImageRef {
    std::string ref;    // NAME:TAG
    std::string digest; // "sha256:HEX" of the image manifest; empty for a docker archive
    std::string config; // "sha256:HEX" of the image configuration
};

struct ManifestFile {
    std::string path;
    std::string component;
    std::string role;
    std::uint64_t size = 0;
    unsigned mode = 0;
    Digest sha256{};
    std::string dest;        // empty when the file is not installed
    std::string config_mode; // config files only
    std::optional<ImageFormat> image_format{}; // set for images the node pushes or loads
    std::vector<ImageRef> images{};          // their references, with image_format
};

struct ManifestComponent {
    std::string name;
    std::string version;
    std::uint64_t files = 0; // how many entries of `files` belong to it
    std::uint64_t bytes = 0; // and their total size
};

struct Manifest {
    std::string name;
    Version version;
    std::uint64_t sequence = 0;
    UnixTime created = 0;
    UnixTime expires = 0;
    Compatibility compatible;
    std::string upgrade_from;
    std::optional<Version> min_applier_version; // absent: any applier that reads the manifest
    std::vector<std::string> breaking_changes;
    std::string release_notes;
    std::vector<ManifestComponent> components;
    Procedure procedure;
    std::vector<ManifestFile> files;
    PayloadSummary payload;

    // The part of the manifest the payload reader checks.
    [[nodiscard]] PayloadIndex payload_index() const;
};

// The manifest's YAML text; the same model always gives the same bytes.
[[nodiscard]] std::string emit_manifest(const Manifest& manifest);

// Parses and validates manifest TEXT (already authenticated); errors are verification errors
// naming WHERE and the line.
[[nodiscard]] Manifest parse_manifest(std::string_view text, const std::string& where);

// Checks M against the site's LIMITS (file count, each file's size, the total, path lengths);
// throws a verification Error naming the limit and where it is set.
void check_limits(const Manifest& m, const Limits& limits, const std::string& where);

// Like parse_manifest, but skips the `files` list when the manifest is in the layout Ferry
// writes (files then payload, last): for inspecting a bundle of any size quickly. The result
// has no files; the components' totals say how many there are.
[[nodiscard]] Manifest parse_manifest_summary(std::string_view text, const std::string& where);

} // namespace ferry::schema
