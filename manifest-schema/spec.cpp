#include "spec.hpp"

#include "core/fs.hpp"

#include <algorithm>
#include <cstdio>

namespace ferry::schema {

bool valid_name(std::string_view name) {
    if (name.empty() || name.size() > 64) {
        return false;
    }
    for (std::size_t i = 0; i < name.size(); ++i) {
        const char c = name[i];
        const bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
        if (!alnum && (i == 0 || (c != '.' && c != '_' && c != '-'))) {
            return false;
        }
    }
    return true;
}

std::optional<unsigned> parse_mode(std::string_view text) {
    if (text.size() != 4 || text[0] != '0') {
        return std::nullopt;
    }
    unsigned mode = 0;
    for (const char c : text.substr(1)) {
        if (c < '0' || c > '7') {
            return std::nullopt;
        }
        mode = mode * 8 + static_cast<unsigned>(c - '0');
    }
    return mode;
}

std::string format_mode(unsigned mode) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "%04o", mode & 07777);
    return buf;
}

namespace {

// An image's format and the references its archive must carry; both or neither.
void parse_image_fields(const Fields& f, SpecFile& out) {
    if (!f.has("format") && !f.has("refs")) {
        return;
    }
    if (out.role != "image") {
        f.fail(f.has("format") ? "format" : "refs", "only image files have a format and refs");
    }
    const std::string format = f.str("format");
    out.image_format = parse_image_format(format);
    if (!out.image_format) {
        f.fail("format", "unknown image format " + ferry::quoted(format) + " (oci-archive, docker-archive or oci-layout)");
    }
    out.image_refs = f.str_list("refs");
    if (out.image_refs.empty()) {
        f.fail("refs", "an image needs at least one reference (NAME:TAG) its archive carries");
    }
    for (const auto& ref : out.image_refs) {
        if (const auto problem = image_ref_problem(ref)) {
            f.fail("refs", ferry::quoted(ref) + " " + *problem);
        }
        if (std::count(out.image_refs.begin(), out.image_refs.end(), ref) > 1) {
            f.fail("refs", ferry::quoted(ref) + " is listed twice");
        }
    }
    if (out.dest) {
        f.fail("dest", "an image with refs goes where the node's image configuration says, not to a dest");
    }
    out.refs_where = location(f.file(), f.get("refs")) + ": " + f.child_context("refs");
    out.source_where = location(f.file(), f.get("source")) + ": " + f.child_context("source");
}

SpecFile parse_file(const YAML::Node& node, const std::string& file, const std::string& context) {
    const Fields f(node, file, context, {"source", "role", "dest", "mode", "config_mode", "format", "refs"},
                   ErrorKind::input);
    SpecFile out;
    out.where = location(file, node);
    out.source = f.str("source");
    out.role = f.str("role");
    if (std::find(k_roles.begin(), k_roles.end(), out.role) == k_roles.end()) {
        std::string hint;
        if (const auto guess = did_you_mean(out.role, k_roles)) {
            hint = "did you mean \"" + *guess + "\"?";
        }
        f.fail("role", "unknown role \"" + out.role +
                           "\" (binary, image, migration, config, doc, script or applier)", hint);
    }
    out.dest = f.opt_str("dest");
    const bool needs_dest = out.role == "binary" || out.role == "config" || out.role == "doc" || out.role == "applier";
    if (needs_dest && !out.dest) {
        f.fail("dest", (out.role == "applier" ? "an " : "a ") + out.role + " file needs an install destination (dest)");
    }
    if (out.dest) {
        const bool folder = !out.dest->empty() && out.dest->back() == '/';
        if (const auto problem = dest_path_problem(folder ? out.dest->substr(0, out.dest->size() - 1) : *out.dest)) {
            f.fail("dest", "\"" + *out.dest + "\" " + *problem);
        }
    }
    const bool executable = out.role == "binary" || out.role == "script" || out.role == "applier";
    out.mode = executable ? 0755 : 0644;
    if (const auto mode = f.opt_str("mode")) {
        const auto parsed = parse_mode(*mode);
        if (!parsed) {
            f.fail("mode", "\"" + *mode + "\" is not an octal mode from 0000 to 0777",
                   "write it quoted, as \"0755\"; setuid, setgid and sticky bits are not allowed");
        }
        out.mode = *parsed;
    }
    if (const auto cm = f.opt_str("config_mode")) {
        if (out.role != "config") {
            f.fail("config_mode", "only config files have a config_mode");
        }
        if (std::find(k_config_modes.begin(), k_config_modes.end(), *cm) == k_config_modes.end()) {
            f.fail("config_mode", "unknown config_mode \"" + *cm + "\" (replace, keep or merge-env)");
        }
        out.config_mode = *cm;
    } else if (out.role == "config") {
        out.config_mode = "replace";
    }
    parse_image_fields(f, out);
    return out;
}

} // namespace

BundleSpec parse_spec(std::string_view text, const std::string& file) {
    const YAML::Node root = load_yaml(text, file, ErrorKind::input);
    const Fields f(root, file, "",
                   {"name", "version", "sequence", "expires", "expires_in_days", "compatible",
                    "upgrade_from", "min_applier_version", "release_notes", "breaking_changes", "components", "procedure"},
                   ErrorKind::input);
    BundleSpec spec;
    spec.name = f.str("name");
    if (!valid_name(spec.name)) {
        f.fail("name", "\"" + spec.name + "\" is not a valid name",
               "use lower-case letters, digits, '.', '_' and '-', starting with a letter or digit");
    }
    const std::string version = f.str("version");
    const auto parsed = parse_version(version);
    if (!parsed) {
        f.fail("version", "\"" + version + "\" is not a semantic version",
               "write MAJOR.MINOR.PATCH, for example 2.1.0");
    }
    spec.version = *parsed;
    spec.sequence = f.u64("sequence");
    if (spec.sequence == 0) {
        f.fail("sequence", "must be 1 or more");
    }
    if (f.has("expires") == f.has("expires_in_days")) {
        f.fail("expires", "give exactly one of \"expires\" and \"expires_in_days\"");
    }
    if (const auto expires = f.opt_str("expires")) {
        spec.expires = parse_time(*expires);
        if (!spec.expires) {
            f.fail("expires", "\"" + *expires + "\" is not a UTC time like 2027-01-31T00:00:00Z");
        }
    }
    spec.expires_in_days = f.opt_u64("expires_in_days");
    if (spec.expires_in_days && (*spec.expires_in_days == 0 || *spec.expires_in_days > 36500)) {
        f.fail("expires_in_days", "must be between 1 and 36500");
    }
    const Fields compat = f.sub("compatible", {"product", "channel"});
    spec.compatible = {compat.str("product"), compat.str("channel")};
    spec.upgrade_from = f.str("upgrade_from");
    if (!parse_range(spec.upgrade_from)) {
        f.fail("upgrade_from", "\"" + spec.upgrade_from + "\" is not a version range",
               "write comparators separated by spaces, for example \">=1.0.0 <2.0.0\"");
    }
    if (const auto min = f.opt_str("min_applier_version")) {
        spec.min_applier_version = parse_version(*min);
        if (!spec.min_applier_version) {
            f.fail("min_applier_version", ferry::quoted(*min) + " is not a semantic version",
                   "write the oldest ferry-applier version that applies this bundle correctly, for example \"0.2.0\"");
        }
    }
    spec.release_notes_file = f.opt_str("release_notes").value_or("");
    spec.breaking_changes = f.str_list("breaking_changes");
    std::size_t ci = 0;
    for (const auto& node : f.list("components")) {
        const std::string context = "components[" + std::to_string(ci++) + "]";
        const Fields c(node, file, context, {"name", "version", "files"}, ErrorKind::input);
        SpecComponent component;
        component.name = c.str("name");
        if (!valid_name(component.name)) {
            c.fail("name", "\"" + component.name + "\" is not a valid name");
        }
        for (const auto& other : spec.components) {
            if (other.name == component.name) {
                c.fail("name", "duplicate component \"" + component.name + "\"");
            }
        }
        component.version = c.str("version");
        if (!parse_version(component.version)) {
            c.fail("version", "\"" + component.version + "\" is not a semantic version");
        }
        std::size_t fi = 0;
        for (const auto& fnode : c.list("files")) {
            component.files.push_back(parse_file(fnode, file, context + ".files[" + std::to_string(fi++) + "]"));
        }
        if (component.files.empty()) {
            c.fail("files", "a component needs at least one file");
        }
        spec.components.push_back(std::move(component));
    }
    if (spec.components.empty()) {
        f.fail("components", "a bundle needs at least one component");
    }
    if (f.has("procedure")) {
        spec.procedure = parse_procedure(f);
    }
    return spec;
}

BundleSpec load_spec(const std::filesystem::path& path) {
    BundleSpec spec = parse_spec(read_file(path, 1u << 20), path.string());
    spec.path = path;
    return spec;
}

} // namespace ferry::schema
