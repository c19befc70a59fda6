#pragma once

// merge-env configuration files: KEY=VALUE lines, comments and blank lines.

#include <string>
#include <vector>

namespace ferry::applier {

struct EnvMerge {
    std::string text;                 // the site's file with the bundle's new keys appended
    std::vector<std::string> added;   // keys the bundle adds, with its defaults
    std::vector<std::string> dropped; // keys the site has and the new version no longer lists
};

// Keeps every line of SITE as it is, appends the keys of BUNDLE that SITE lacks, and reports
// the keys of SITE that BUNDLE does not list.
[[nodiscard]] EnvMerge merge_env(const std::string& site, const std::string& bundle);

// The keys of an env file, in order.
[[nodiscard]] std::vector<std::string> env_keys(const std::string& text);

} // namespace ferry::applier
