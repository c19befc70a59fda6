#include "trust.hpp"

#include "manifest-schema/yaml_fields.hpp"

#include <algorithm>
#include <limits>
#include <set>

namespace ferry::schema {

namespace {

std::vector<TrustRole> parse_roles(const Fields& k) {
    std::vector<TrustRole> roles;
    for (const auto& name : k.str_list("roles")) {
        const auto* found = std::find_if(k_trust_roles.begin(), k_trust_roles.end(),
                                         [&](TrustRole r) { return role_name(r) == name; });
        if (found == k_trust_roles.end()) {
            const auto guess = did_you_mean(name, {"release", "trust"});
            k.fail("roles", "unknown role \"" + name + "\"" + (guess ? " (did you mean \"" + *guess + "\"?)" : ""),
                   "a key's roles are release (signs software bundles) and trust (signs trust stores)");
        }
        if (std::find(roles.begin(), roles.end(), *found) != roles.end()) {
            k.fail("roles", "role \"" + name + "\" is listed twice");
        }
        roles.push_back(*found);
    }
    if (roles.empty()) {
        k.fail("roles", "the key has no role", "give it [release], [trust] or [release, trust]");
    }
    return roles;
}

} // namespace

std::string_view role_name(TrustRole role) {
    return role == TrustRole::release ? "release" : "trust";
}

TrustStoreDoc parse_trust_store(std::string_view text, const std::string& file) {
    const ErrorKind kind = ErrorKind::input;
    const Fields f(load_yaml(text, file, kind), file, "", {"version", "thresholds", "keys", "limits"}, kind);
    TrustStoreDoc doc;
    doc.version = f.u64("version");
    if (doc.version < 1) {
        f.fail("version", "must be 1 or more");
    }
    const Fields th = f.sub("thresholds", {"release", "trust"});
    doc.thresholds.release = th.u64("release");
    doc.thresholds.trust = th.u64("trust");
    std::set<std::string> names;
    std::set<std::string> ids;
    std::set<std::string> keys;
    std::size_t i = 0;
    for (const auto& node : f.list("keys")) {
        const Fields k(node, file, "keys[" + std::to_string(i++) + "]",
                       {"name", "id", "public_key", "expires", "roles"}, kind);
        TrustedKeyEntry entry;
        entry.where = location(file, node);
        entry.name = k.str("name");
        entry.id = k.str("id");
        entry.public_key = k.str("public_key");
        const std::string expires = k.str("expires");
        const auto t = parse_time(expires);
        if (!t) {
            k.fail("expires", "\"" + expires + "\" is not a UTC time like 2027-01-31T00:00:00Z");
        }
        entry.expires = *t;
        entry.roles = parse_roles(k);
        if (!names.insert(entry.name).second) {
            k.fail("name", "key name \"" + entry.name + "\" is listed twice");
        }
        if (!ids.insert(entry.id).second) {
            k.fail("id", "key id " + entry.id + " is listed twice");
        }
        if (!keys.insert(entry.public_key).second) {
            k.fail("public_key", "the same public key is listed twice (as \"" + entry.name +
                                     "\" and an earlier entry)",
                   "a key counts once towards the threshold, whatever its names");
        }
        doc.keys.push_back(std::move(entry));
    }
    if (f.has("limits")) {
        const Fields l = f.sub("limits", {"manifest_bytes", "files", "file_bytes", "total_bytes", "window_log", "path_bytes"});
        const auto bounded = [&](std::string_view key, std::uint64_t fallback, std::uint64_t cap,
                                 std::uint64_t least = 1) {
            const std::uint64_t v = l.opt_u64(key).value_or(fallback);
            if (v < least || v > cap) {
                l.fail(key, "must be between " + std::to_string(least) + " and " + std::to_string(cap));
            }
            return v;
        };
        const Limits d;
        const std::uint64_t any = std::numeric_limits<std::uint64_t>::max();
        doc.limits.manifest_bytes = bounded("manifest_bytes", d.manifest_bytes, k_cap_manifest_bytes);
        doc.limits.files = bounded("files", d.files, any);
        doc.limits.file_bytes = bounded("file_bytes", d.file_bytes, any);
        doc.limits.total_bytes = bounded("total_bytes", d.total_bytes, any);
        doc.limits.path_bytes = bounded("path_bytes", d.path_bytes, k_cap_path_bytes);
        doc.limits.window_log =
            static_cast<int>(bounded("window_log", static_cast<std::uint64_t>(d.window_log), k_cap_window_log, 10));
    }
    if (doc.keys.empty()) {
        f.fail("keys", "the trust store lists no keys");
    }
    for (const TrustRole role : k_trust_roles) {
        const auto holders = static_cast<std::uint64_t>(std::count_if(doc.keys.begin(), doc.keys.end(), [&](const auto& k) {
            return std::find(k.roles.begin(), k.roles.end(), role) != k.roles.end();
        }));
        const std::uint64_t threshold = doc.thresholds.of(role);
        if (threshold < 1 || threshold > holders) {
            th.fail(role_name(role), "must be between 1 and the number of keys with the " + std::string(role_name(role)) +
                                        " role (" + std::to_string(holders) + ")");
        }
    }
    return doc;
}

std::string emit_trust_store(const TrustStoreDoc& doc) {
    YAML::Emitter out;
    out << YAML::BeginMap << YAML::Key << "version" << YAML::Value << doc.version;
    out << YAML::Key << "thresholds" << YAML::Value << YAML::BeginMap;
    for (const TrustRole role : k_trust_roles) {
        out << YAML::Key << std::string(role_name(role)) << YAML::Value << doc.thresholds.of(role);
    }
    out << YAML::EndMap;
    out << YAML::Key << "keys" << YAML::Value << YAML::BeginSeq;
    for (const auto& k : doc.keys) {
        out << YAML::BeginMap;
        out << YAML::Key << "name" << YAML::Value << k.name;
        out << YAML::Key << "id" << YAML::Value << YAML::DoubleQuoted << k.id;
        out << YAML::Key << "public_key" << YAML::Value << k.public_key;
        out << YAML::Key << "expires" << YAML::Value << format_time(k.expires);
        std::vector<std::string> roles;
        for (const TrustRole r : k.roles) {
            roles.emplace_back(role_name(r));
        }
        out << YAML::Key << "roles" << YAML::Value << YAML::Flow << roles;
        out << YAML::EndMap;
    }
    out << YAML::EndSeq;
    const Limits& l = doc.limits;
    const Limits d;
    if (l.manifest_bytes != d.manifest_bytes || l.files != d.files || l.file_bytes != d.file_bytes ||
        l.total_bytes != d.total_bytes || l.window_log != d.window_log || l.path_bytes != d.path_bytes) {
        out << YAML::Key << "limits" << YAML::Value << YAML::BeginMap;
        out << YAML::Key << "manifest_bytes" << YAML::Value << l.manifest_bytes;
        out << YAML::Key << "files" << YAML::Value << l.files;
        out << YAML::Key << "file_bytes" << YAML::Value << l.file_bytes;
        out << YAML::Key << "total_bytes" << YAML::Value << l.total_bytes;
        out << YAML::Key << "window_log" << YAML::Value << l.window_log;
        out << YAML::Key << "path_bytes" << YAML::Value << l.path_bytes;
        out << YAML::EndMap;
    }
    out << YAML::EndMap;
    return std::string(out.c_str()) + "\n";
}

std::string trust_key_entry(const TrustedKeyEntry& key, std::size_t indent) {
    const std::string pad(indent, ' ');
    std::string roles;
    for (const TrustRole r : key.roles) {
        roles += (roles.empty() ? "" : ", ") + std::string(role_name(r));
    }
    // The id quoted: one of only decimal digits would otherwise read as a YAML integer.
    return pad + "- name: " + key.name + "\n" + pad + "  id: \"" + key.id + "\"\n" + pad + "  public_key: \"" +
           key.public_key + "\"\n" + pad + "  expires: " + format_time(key.expires) + "\n" + pad + "  roles: [" +
           roles + "]\n";
}

std::string append_trust_key(std::string_view text, const TrustedKeyEntry& key, const std::string& file) {
    std::vector<std::string_view> lines;
    for (std::size_t at = 0; at < text.size();) {
        const std::size_t end = text.find('\n', at);
        const std::size_t next = end == std::string_view::npos ? text.size() : end + 1;
        lines.push_back(text.substr(at, next - at));
        at = next;
    }
    const auto content = [](std::string_view line) {
        const std::size_t first = line.find_first_not_of(" \t\r\n");
        return first != std::string_view::npos && line[first] != '#';
    };
    const auto is_keys_line = [](std::string_view line) {
        if (line.substr(0, 5) != "keys:") {
            return false;
        }
        const std::string_view rest = line.substr(5);
        const std::size_t first = rest.find_first_not_of(" \t\r\n");
        return first == std::string_view::npos || rest[first] == '#';
    };
    const std::string by_hand = "add the entry by hand (`ferry-bundler key generate --print-entry` prints it)";
    const auto keys_line = std::find_if(lines.begin(), lines.end(), is_keys_line);
    if (keys_line == lines.end()) {
        throw Error(ErrorKind::input, file + ": no top-level \"keys:\" list written one item a line to add the key to",
                    by_hand);
    }
    // The list ends at the next line of content that starts a top-level key; comments and blank
    // lines just before it belong to what follows.
    auto end = std::find_if(keys_line + 1, lines.end(),
                            [&](std::string_view l) { return content(l) && l[0] != ' ' && l[0] != '-'; });
    while (end != keys_line + 1 && !content(*(end - 1))) {
        --end;
    }
    std::size_t indent = 2;
    const auto first_item = std::find_if(keys_line + 1, end, content);
    if (first_item != end) {
        indent = first_item->find_first_not_of(' ');
        if (first_item->substr(indent, 2) != "- ") {
            throw Error(ErrorKind::input, file + ": its \"keys:\" list is not written one item a line", by_hand);
        }
    }
    std::string out;
    for (auto it = lines.begin(); it != end; ++it) {
        out += *it;
    }
    if (!out.empty() && out.back() != '\n') {
        out += '\n';
    }
    out += trust_key_entry(key, indent);
    for (auto it = end; it != lines.end(); ++it) {
        out += *it;
    }
    return out;
}

} // namespace ferry::schema
