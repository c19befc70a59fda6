#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ferry::schema {

// A semantic version MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD].
struct Version {
    unsigned long major = 0;
    unsigned long minor = 0;
    unsigned long patch = 0;
    std::string prerelease;
    std::string build;

    // -1, 0 or 1, by semver precedence (build metadata ignored).
    [[nodiscard]] int compare(const Version& other) const;
    [[nodiscard]] std::string str() const;
};

// Parses a semantic version; nullopt if TEXT is not one.
[[nodiscard]] std::optional<Version> parse_version(std::string_view text);

// A version range: space-separated comparators (>=1.0.0 <2.0.0) that must all hold.
struct VersionRange {
    struct Comparator {
        std::string op; // one of >= > <= < =
        Version version;
    };
    std::vector<Comparator> comparators;

    [[nodiscard]] bool contains(const Version& v) const;
};

// Parses a version range; nullopt if TEXT is not one.
[[nodiscard]] std::optional<VersionRange> parse_range(std::string_view text);

} // namespace ferry::schema
