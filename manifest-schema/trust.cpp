#include "trust.hpp"

#include "manifest-schema/yaml_fields.hpp"

#include <limits>
#include <set>

namespace ferry::schema {

TrustStoreDoc parse_trust_store(std::string_view text, const std::string& file) {
    const ErrorKind kind = ErrorKind::input;
    const Fields f(load_yaml(text, file, kind), file, "", {"threshold", "keys", "limits"}, kind);
    TrustStoreDoc doc;
    doc.threshold = f.u64("threshold");
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
        entry.roles = k.str_list("roles");
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
    if (doc.threshold < 1 || doc.threshold > doc.keys.size()) {
        f.fail("threshold", "must be between 1 and the number of keys (" +
                                std::to_string(doc.keys.size()) + ")");
    }
    return doc;
}

std::string emit_trust_store(const TrustStoreDoc& doc) {
    YAML::Emitter out;
    out << YAML::BeginMap << YAML::Key << "threshold" << YAML::Value << doc.threshold;
    out << YAML::Key << "keys" << YAML::Value << YAML::BeginSeq;
    for (const auto& k : doc.keys) {
        out << YAML::BeginMap;
        out << YAML::Key << "name" << YAML::Value << k.name;
        out << YAML::Key << "id" << YAML::Value << YAML::DoubleQuoted << k.id;
        out << YAML::Key << "public_key" << YAML::Value << k.public_key;
        out << YAML::Key << "expires" << YAML::Value << format_time(k.expires);
        out << YAML::Key << "roles" << YAML::Value << YAML::Flow << k.roles;
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

} // namespace ferry::schema
