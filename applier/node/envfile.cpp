#include "envfile.hpp"

#include <algorithm>
#include <sstream>

namespace ferry::applier {

namespace {

// The key of a KEY=VALUE line, or "" for a comment, a blank or anything else.
std::string key_of(const std::string& line) {
    const std::size_t start = line.find_first_not_of(" \t");
    if (start == std::string::npos || line[start] == '#') {
        return {};
    }
    const std::size_t eq = line.find('=', start);
    if (eq == std::string::npos) {
        return {};
    }
    std::string key = line.substr(start, eq - start);
    if (key.starts_with("export ")) {
        key = key.substr(7);
    }
    while (!key.empty() && (key.back() == ' ' || key.back() == '\t')) {
        key.pop_back();
    }
    return key;
}

} // namespace

std::vector<std::string> env_keys(const std::string& text) {
    std::vector<std::string> keys;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
        if (const std::string k = key_of(line); !k.empty()) {
            keys.push_back(k);
        }
    }
    return keys;
}

EnvMerge merge_env(const std::string& site, const std::string& bundle) {
    EnvMerge out;
    out.text = site;
    const std::vector<std::string> site_keys = env_keys(site);
    const std::vector<std::string> bundle_keys = env_keys(bundle);
    std::istringstream in(bundle);
    std::string appended;
    for (std::string line; std::getline(in, line);) {
        const std::string k = key_of(line);
        if (!k.empty() && std::find(site_keys.begin(), site_keys.end(), k) == site_keys.end()) {
            appended += line + "\n";
            out.added.push_back(k);
        }
    }
    if (!appended.empty()) {
        if (!out.text.empty() && out.text.back() != '\n') {
            out.text += "\n";
        }
        out.text += "# added by ferry-applier from the new version's defaults\n" + appended;
    }
    for (const auto& k : site_keys) {
        if (std::find(bundle_keys.begin(), bundle_keys.end(), k) == bundle_keys.end()) {
            out.dropped.push_back(k);
        }
    }
    return out;
}

} // namespace ferry::applier
