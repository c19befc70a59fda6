#include "canonical.hpp"

#include "manifest-schema/strict_yaml.hpp"

#include <algorithm>
#include <charconv>
#include <set>

namespace ferry::schema {

namespace {

// Reads the value of "PREFIXvalue" lines: a double-quoted string with only \" and \\ escapes.
std::optional<std::string> unquote(std::string_view v) {
    if (v.size() < 2 || v.front() != '"' || v.back() != '"') {
        return std::nullopt;
    }
    std::string out;
    for (std::size_t i = 1; i + 1 < v.size(); ++i) {
        char c = v[i];
        if (c == '\\') {
            if (i + 2 >= v.size() || (v[i + 1] != '"' && v[i + 1] != '\\')) {
                return std::nullopt;
            }
            c = v[++i];
        } else if (c == '"') {
            return std::nullopt;
        }
        out.push_back(c);
    }
    return out;
}

// A plain scalar of letters, digits, '.', '_' and '-' only, which no YAML reader takes for
// anything but text (or, for SIZE, a decimal integer): read the same by any YAML parser.
std::optional<std::string> plain(std::string_view v, bool integer = false) {
    if (integer ? !is_canonical_integer(v) : (v.empty() || is_canonical_integer(v) || plain_is_ambiguous(v))) {
        return std::nullopt;
    }
    for (const char c : v) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                        c == '_' || c == '-';
        if (!ok) {
            return std::nullopt;
        }
    }
    return std::string(v);
}

bool starts(std::string_view line, std::string_view prefix, std::string_view& value) {
    if (!line.starts_with(prefix)) {
        return false;
    }
    value = line.substr(prefix.size());
    return true;
}

bool valid(const ManifestFile& f) {
    return !payload_path_problem(f.path) && std::find(k_roles.begin(), k_roles.end(), f.role) != k_roles.end() &&
           valid_name(f.component) && f.path.starts_with(f.component + "/" + f.role + "/") &&
           (f.dest.empty() || !dest_path_problem(f.dest)) &&
           (f.config_mode.empty() ||
            std::find(k_config_modes.begin(), k_config_modes.end(), f.config_mode) != k_config_modes.end());
}

} // namespace

std::optional<std::vector<ManifestFile>> parse_canonical_files(std::string_view block) {
    std::vector<ManifestFile> files;
    std::set<std::string> dests;
    // The keys of an entry, in the order emit_manifest writes them; dest and config_mode optional.
    static constexpr std::string_view k_keys[] = {"    component: ", "    role: ",   "    type: ",
                                                  "    size: ",      "    mode: ",   "    sha256: ",
                                                  "    dest: ",      "    config_mode: "};
    std::size_t next_key = 0;
    auto finish = [&]() -> bool {
        if (files.empty()) {
            return true;
        }
        const ManifestFile& f = files.back();
        if (next_key < 6 || !valid(f)) {
            return false;
        }
        if (files.size() > 1 && !(files[files.size() - 2].path < f.path)) {
            return false;
        }
        return f.dest.empty() || dests.insert(f.dest).second;
    };
    while (!block.empty()) {
        const std::size_t eol = block.find('\n');
        if (eol == std::string_view::npos) {
            return std::nullopt;
        }
        const std::string_view line = block.substr(0, eol);
        block.remove_prefix(eol + 1);
        std::string_view v;
        if (starts(line, "  - path: ", v)) {
            if (!finish()) {
                return std::nullopt;
            }
            auto path = unquote(v);
            if (!path) {
                return std::nullopt;
            }
            files.emplace_back();
            files.back().path = std::move(*path);
            next_key = 0;
            continue;
        }
        if (files.empty()) {
            return std::nullopt;
        }
        ManifestFile& f = files.back();
        std::size_t k = next_key;
        while (k < std::size(k_keys) && !starts(line, k_keys[k], v)) {
            // Only dest and config_mode may be left out.
            if (k < 6) {
                return std::nullopt;
            }
            ++k;
        }
        if (k == std::size(k_keys)) {
            return std::nullopt;
        }
        next_key = k + 1;
        std::optional<std::string> s = (k == 4 || k == 6) ? unquote(v) : plain(v, k == 3);
        if (!s) {
            return std::nullopt;
        }
        switch (k) {
        case 0:
            f.component = std::move(*s);
            break;
        case 1:
            f.role = std::move(*s);
            break;
        case 2:
            if (*s != "file") {
                return std::nullopt;
            }
            break;
        case 3: {
            const auto [ptr, ec] = std::from_chars(s->data(), s->data() + s->size(), f.size);
            if (ec != std::errc() || ptr != s->data() + s->size()) {
                return std::nullopt;
            }
            break;
        }
        case 4: {
            const auto mode = parse_mode(*s);
            if (!mode) {
                return std::nullopt;
            }
            f.mode = *mode;
            break;
        }
        case 5:
            if (!parse_digest_hex(*s, f.sha256)) {
                return std::nullopt;
            }
            break;
        case 6:
            f.dest = std::move(*s);
            break;
        default:
            f.config_mode = std::move(*s);
        }
    }
    if (!finish()) {
        return std::nullopt;
    }
    return files;
}

} // namespace ferry::schema
