#include "manifest.hpp"

#include "manifest-schema/canonical.hpp"
#include "manifest-schema/strict_yaml.hpp"

#include <algorithm>
#include <set>

namespace ferry::schema {

PayloadIndex Manifest::payload_index() const {
    PayloadIndex index;
    index.size = payload.size;
    index.chunk_size = payload.chunk_size;
    index.chunks = payload.chunks;
    for (const auto& f : files) {
        index.files.push_back({f.path, f.size, f.mode, f.sha256});
    }
    return index;
}

namespace {

// How many of M's files belong to COMPONENT, and their total size.
std::pair<std::uint64_t, std::uint64_t> count_files(const Manifest& m, const std::string& component) {
    std::uint64_t files = 0;
    std::uint64_t bytes = 0;
    for (const auto& f : m.files) {
        if (f.component == component) {
            ++files;
            bytes += f.size;
        }
    }
    return {files, bytes};
}

} // namespace

std::string emit_manifest(const Manifest& m) {
    YAML::Emitter out;
    out << YAML::BeginMap;
    out << YAML::Key << "format" << YAML::Value << std::string(k_format);
    out << YAML::Key << "name" << YAML::Value;
    emit_text(out, m.name);
    out << YAML::Key << "version" << YAML::Value << YAML::DoubleQuoted << m.version.str();
    out << YAML::Key << "sequence" << YAML::Value << m.sequence;
    out << YAML::Key << "created" << YAML::Value << format_time(m.created);
    out << YAML::Key << "expires" << YAML::Value << format_time(m.expires);
    out << YAML::Key << "compatible" << YAML::Value << YAML::BeginMap;
    out << YAML::Key << "product" << YAML::Value << YAML::DoubleQuoted << m.compatible.product;
    out << YAML::Key << "channel" << YAML::Value << YAML::DoubleQuoted << m.compatible.channel;
    out << YAML::EndMap;
    out << YAML::Key << "upgrade_from" << YAML::Value << YAML::DoubleQuoted << m.upgrade_from;
    if (m.min_applier_version) {
        // Written only when set, so that a manifest without it reads as before everywhere.
        out << YAML::Key << "min_applier_version" << YAML::Value << YAML::DoubleQuoted << m.min_applier_version->str();
    }
    out << YAML::Key << "breaking_changes" << YAML::Value << YAML::BeginSeq;
    for (const auto& b : m.breaking_changes) {
        out << YAML::DoubleQuoted << b;
    }
    out << YAML::EndSeq;
    out << YAML::Key << "release_notes" << YAML::Value << YAML::DoubleQuoted << m.release_notes;
    out << YAML::Key << "components" << YAML::Value << YAML::BeginSeq;
    for (const auto& c : m.components) {
        const auto [files, bytes] = count_files(m, c.name);
        out << YAML::Flow << YAML::BeginMap << YAML::Key << "name" << YAML::Value;
        emit_text(out, c.name);
        out << YAML::Key << "version" << YAML::Value << YAML::DoubleQuoted << c.version
            << YAML::Key << "files" << YAML::Value << files << YAML::Key << "bytes" << YAML::Value << bytes
            << YAML::EndMap;
    }
    out << YAML::EndSeq;
    emit_procedure(out, m.procedure);
    out << YAML::Key << "files" << YAML::Value << YAML::BeginSeq;
    for (const auto& f : m.files) {
        out << YAML::BeginMap;
        out << YAML::Key << "path" << YAML::Value << YAML::DoubleQuoted << f.path;
        out << YAML::Key << "component" << YAML::Value;
        emit_text(out, f.component);
        out << YAML::Key << "role" << YAML::Value << f.role;
        out << YAML::Key << "type" << YAML::Value << "file";
        out << YAML::Key << "size" << YAML::Value << f.size;
        out << YAML::Key << "mode" << YAML::Value << YAML::DoubleQuoted << format_mode(f.mode);
        out << YAML::Key << "sha256" << YAML::Value;
        emit_text(out, to_hex(f.sha256));
        if (!f.dest.empty()) {
            out << YAML::Key << "dest" << YAML::Value << YAML::DoubleQuoted << f.dest;
        }
        if (!f.config_mode.empty()) {
            out << YAML::Key << "config_mode" << YAML::Value << f.config_mode;
        }
        if (f.image_format) {
            out << YAML::Key << "image" << YAML::Value << YAML::BeginMap;
            out << YAML::Key << "format" << YAML::Value << std::string(image_format_name(*f.image_format));
            out << YAML::Key << "refs" << YAML::Value << YAML::BeginSeq;
            for (const auto& r : f.images) {
                out << YAML::BeginMap << YAML::Key << "ref" << YAML::Value << YAML::DoubleQuoted << r.ref;
                if (!r.digest.empty()) {
                    out << YAML::Key << "digest" << YAML::Value << YAML::DoubleQuoted << r.digest;
                }
                out << YAML::Key << "config" << YAML::Value << YAML::DoubleQuoted << r.config << YAML::EndMap;
            }
            out << YAML::EndSeq << YAML::EndMap;
        }
        out << YAML::EndMap;
    }
    out << YAML::EndSeq;
    out << YAML::Key << "payload" << YAML::Value << YAML::BeginMap;
    out << YAML::Key << "name" << YAML::Value << std::string(k_payload_member);
    out << YAML::Key << "compression" << YAML::Value << "zstd";
    out << YAML::Key << "size" << YAML::Value << m.payload.size;
    out << YAML::Key << "sha256" << YAML::Value;
    emit_text(out, to_hex(m.payload.sha256));
    out << YAML::Key << "chunk_size" << YAML::Value << m.payload.chunk_size;
    out << YAML::Key << "chunks" << YAML::Value << YAML::BeginSeq;
    for (const auto& c : m.payload.chunks) {
        emit_text(out, to_hex(c));
    }
    out << YAML::EndSeq << YAML::EndMap;
    out << YAML::EndMap;
    return std::string(out.c_str()) + "\n";
}

namespace {

Digest digest_field(const Fields& f, std::string_view key) {
    Digest d{};
    const std::string text = f.str(key);
    if (!parse_digest_hex(text, d)) {
        f.fail(key, "\"" + text + "\" is not a SHA-256 in lower-case hex");
    }
    return d;
}

UnixTime time_field(const Fields& f, std::string_view key) {
    const std::string text = f.str(key);
    const auto t = parse_time(text);
    if (!t) {
        f.fail(key, "\"" + text + "\" is not a UTC time like 2027-01-31T00:00:00Z");
    }
    return *t;
}

// "sha256:" and 64 lower-case hex digits, or an error at KEY.
std::string image_digest(const Fields& f, std::string_view key) {
    const std::string text = f.str(key);
    Digest d{};
    if (!text.starts_with("sha256:") || !parse_digest_hex(text.substr(7), d)) {
        f.fail(key, ferry::quoted(text) + " is not \"sha256:\" and 64 lower-case hex digits");
    }
    return text;
}

// An image file's `image` mapping: its format and its references with their digests.
void parse_image(const Fields& file, ManifestFile& out) {
    const Fields f = file.sub("image", {"format", "refs"});
    if (out.role != "image") {
        file.fail("image", "only image files have an image mapping");
    }
    out.image_format = parse_image_format(f.str("format"));
    if (!out.image_format || *out.image_format == ImageFormat::oci_layout) {
        // A bundle carries an OCI layout folder as the oci-archive the bundler packs it into.
        f.fail("format", "unknown image format " + ferry::quoted(f.str("format")) +
                             " (oci-archive or docker-archive)");
    }
    std::size_t i = 0;
    for (const auto& node : f.list("refs")) {
        const Fields r(node, f.file(), f.child_context("refs") + "[" + std::to_string(i++) + "]",
                       {"ref", "digest", "config"}, f.kind());
        ImageRef ref{r.str("ref"), "", image_digest(r, "config")};
        if (const auto problem = image_ref_problem(ref.ref)) {
            r.fail("ref", ferry::quoted(ref.ref) + " " + *problem);
        }
        if (*out.image_format == ImageFormat::oci_archive) {
            ref.digest = image_digest(r, "digest");
        } else if (r.has("digest")) {
            r.fail("digest", "a docker archive holds no image manifest to take a digest of");
        }
        for (const auto& earlier : out.images) {
            if (earlier.ref == ref.ref) {
                r.fail("ref", ferry::quoted(ref.ref) + " is listed twice");
            }
        }
        out.images.push_back(std::move(ref));
    }
    if (out.images.empty()) {
        f.fail("refs", "an image needs at least one reference");
    }
    if (!out.dest.empty()) {
        file.fail("dest", "an image with refs has no dest");
    }
}

ManifestFile parse_file(const YAML::Node& node, const std::string& where, const std::string& context) {
    const Fields f(node, where, context,
                   {"path", "component", "role", "type", "size", "mode", "sha256", "dest", "config_mode", "image"},
                   ErrorKind::verification);
    ManifestFile out;
    out.path = f.str("path");
    if (const auto problem = payload_path_problem(out.path)) {
        f.fail("path", ferry::quoted(out.path) + " " + *problem);
    }
    out.component = f.str("component");
    if (!valid_name(out.component)) {
        f.fail("component", ferry::quoted(out.component) + " is not a valid component name");
    }
    out.role = f.str("role");
    if (std::find(k_roles.begin(), k_roles.end(), out.role) == k_roles.end()) {
        f.fail("role", "unknown role \"" + out.role + "\"");
    }
    if (!out.path.starts_with(out.component + "/" + out.role + "/")) {
        f.fail("path", ferry::quoted(out.path) + " is not below its component and role, " +
                           ferry::quoted(out.component + "/" + out.role + "/"));
    }
    if (f.str("type") != "file") {
        f.fail("type", "only \"file\" entries are allowed");
    }
    out.size = f.u64("size");
    const std::string mode = f.str("mode");
    const auto parsed = parse_mode(mode);
    if (!parsed) {
        f.fail("mode", "\"" + mode + "\" is not a mode from 0000 to 0777");
    }
    out.mode = *parsed;
    out.sha256 = digest_field(f, "sha256");
    out.dest = f.opt_str("dest").value_or("");
    if (!out.dest.empty()) {
        if (const auto problem = dest_path_problem(out.dest)) {
            f.fail("dest", ferry::quoted(out.dest) + " " + *problem);
        }
    }
    out.config_mode = f.opt_str("config_mode").value_or("");
    if (!out.config_mode.empty() &&
        std::find(k_config_modes.begin(), k_config_modes.end(), out.config_mode) == k_config_modes.end()) {
        f.fail("config_mode", "unknown config_mode \"" + out.config_mode + "\"");
    }
    if (f.has("image")) {
        parse_image(f, out);
    }
    return out;
}

} // namespace

namespace {

// No listed path, and no destination, may lie below another: one of them would have to be a
// folder and a file at once, and installing would fail half-way.
void check_nesting(const Manifest& m, const std::string& where) {
    for (const bool dests : {false, true}) {
        std::set<std::string> all;
        for (const auto& f : m.files) {
            if (!(dests ? f.dest : f.path).empty()) {
                all.insert(dests ? f.dest : f.path);
            }
        }
        for (const auto& p : all) {
            for (std::size_t slash = p.find('/', 1); slash != std::string::npos; slash = p.find('/', slash + 1)) {
                if (all.count(p.substr(0, slash)) != 0) {
                    throw Error(ErrorKind::verification,
                                where + ": " + (dests ? "destination " : "payload path ") + ferry::quoted(p) +
                                    " lies below " + ferry::quoted(p.substr(0, slash)) + ", which is a file");
                }
            }
        }
    }
}

// The components' declared totals must match the file list, and every file must belong to one.
void check_totals(const Manifest& m, const std::string& where) {
    check_nesting(m, where);
    const ErrorKind kind = ErrorKind::verification;
    for (const auto& c : m.components) {
        const auto [files, bytes] = count_files(m, c.name);
        if (files != c.files || bytes != c.bytes) {
            throw Error(kind, where + ": component " + c.name + " declares " + std::to_string(c.files) +
                                  " files of " + std::to_string(c.bytes) + " bytes, the file list has " +
                                  std::to_string(files) + " of " + std::to_string(bytes));
        }
    }
    if (m.procedure.migrations) {
        // A step names a migration file of the list, as the JSON Schema's check requires.
        std::size_t i = 0;
        for (const auto& step : m.procedure.migrations->steps) {
            for (const auto& [key, path] : {std::pair{"up", &step.up}, std::pair{"down", &step.down}}) {
                const bool listed = path->empty() || std::any_of(m.files.begin(), m.files.end(), [&](const ManifestFile& f) {
                    return f.path == *path && f.role == "migration";
                });
                if (!listed) {
                    throw Error(kind, where + ": procedure.migrations.steps[" + std::to_string(i) + "]." + key + ": " +
                                          ferry::quoted(*path) + " is not a migration file of the list");
                }
            }
            ++i;
        }
    }
    const ManifestFile* applier = nullptr;
    for (const auto& file : m.files) {
        if (file.role == "applier") {
            if (applier != nullptr) {
                throw Error(kind, where + ": files " + ferry::quoted(applier->path) + " and " + ferry::quoted(file.path) +
                                      " are both the applier; a bundle carries at most one");
            }
            if (file.dest.empty()) {
                throw Error(kind, where + ": file " + ferry::quoted(file.path) + ": the applier needs a dest");
            }
            applier = &file;
        }
        if (const auto problem = never_installed_problem(file.role, !file.dest.empty(), !file.images.empty(), m.procedure)) {
            throw Error(kind, where + ": file " + ferry::quoted(file.path) + ": " + *problem);
        }
        const bool known = std::any_of(m.components.begin(), m.components.end(),
                                       [&](const ManifestComponent& c) { return c.name == file.component; });
        if (!known) {
            throw Error(kind, where + ": file " + file.path + " belongs to no listed component (" + file.component + ")");
        }
    }
}

// The keys whose values are integers; every other scalar of a manifest is text.
const std::vector<std::string_view> k_integer_keys = {"sequence", "files",   "bytes",    "size",
                                                      "chunk_size", "timeout", "interval", "retries"};

Manifest parse(std::string_view text, const std::string& where, bool with_files) {
    const ErrorKind kind = ErrorKind::verification;
    check_strict_yaml(text, where, kind, k_integer_keys);
    const YAML::Node root = load_yaml(text, where, kind);
    const Fields f(root, where, "",
                   {"format", "name", "version", "sequence", "created", "expires", "compatible",
                    "upgrade_from", "min_applier_version", "breaking_changes", "release_notes", "components", "procedure",
                    "files", "payload"},
                   kind);
    if (f.str("format") != k_format) {
        f.fail("format", "unsupported bundle format \"" + f.str("format") + "\" (this Ferry reads " +
                             std::string(k_format) + ")",
               "use a newer ferry-applier");
    }
    Manifest m;
    m.name = f.str("name");
    if (!valid_name(m.name)) {
        f.fail("name", ferry::quoted(m.name) + " is not a valid name (lower-case letters, digits, '.', '_', '-')");
    }
    const auto version = parse_version(f.str("version"));
    if (!version) {
        f.fail("version", "not a semantic version");
    }
    m.version = *version;
    m.sequence = f.u64("sequence");
    if (m.sequence == 0) {
        f.fail("sequence", "must be 1 or more");
    }
    m.created = time_field(f, "created");
    m.expires = time_field(f, "expires");
    const Fields compat = f.sub("compatible", {"product", "channel"});
    m.compatible = {compat.str("product"), compat.str("channel")};
    for (const auto key : {"product", "channel"}) {
        if (compat.str(key).empty()) {
            compat.fail(key, "must not be empty");
        }
    }
    m.upgrade_from = f.str("upgrade_from");
    if (!parse_range(m.upgrade_from)) {
        f.fail("upgrade_from", "not a version range");
    }
    if (const auto min = f.opt_str("min_applier_version")) {
        m.min_applier_version = parse_version(*min);
        if (!m.min_applier_version) {
            f.fail("min_applier_version", "not a semantic version");
        }
    }
    m.breaking_changes = f.str_list("breaking_changes");
    if (std::find(m.breaking_changes.begin(), m.breaking_changes.end(), "") != m.breaking_changes.end()) {
        f.fail("breaking_changes", "an empty entry");
    }
    m.release_notes = f.str("release_notes");
    std::size_t i = 0;
    for (const auto& node : f.list("components")) {
        const Fields c(node, where, "components[" + std::to_string(i++) + "]", {"name", "version", "files", "bytes"},
                       kind);
        m.components.push_back({c.str("name"), c.str("version"), c.u64("files"), c.u64("bytes")});
        if (!valid_name(m.components.back().name)) {
            c.fail("name", ferry::quoted(m.components.back().name) + " is not a valid component name");
        }
        if (!parse_version(m.components.back().version)) {
            c.fail("version", "not a semantic version");
        }
    }
    if (m.components.empty()) {
        f.fail("components", "must list at least one component");
    }
    (void)f.require("procedure");
    m.procedure = parse_procedure(f);
    std::set<std::string> dests;
    i = 0;
    if (with_files) {
        (void)f.require("files");
    }
    for (const auto& node : f.list("files")) {
        const std::string context = "files[" + std::to_string(i++) + "]";
        ManifestFile file = parse_file(node, where, context);
        if (!m.files.empty() && !(m.files.back().path < file.path)) {
            throw Error(kind, location(where, node) + ": " + context + ": \"" + file.path +
                                  "\" is out of order or listed twice");
        }
        if (!file.dest.empty() && !dests.insert(file.dest).second) {
            throw Error(kind, location(where, node) + ": " + context + ": destination \"" +
                                  file.dest + "\" is listed twice");
        }
        m.files.push_back(std::move(file));
    }
    const Fields p = f.sub("payload", {"name", "compression", "size", "sha256", "chunk_size", "chunks"});
    if (p.str("name") != k_payload_member || p.str("compression") != "zstd") {
        p.fail("name", "expected payload.tar.zst compressed with zstd");
    }
    m.payload.size = p.u64("size");
    m.payload.sha256 = digest_field(p, "sha256");
    m.payload.chunk_size = p.u64("chunk_size");
    const std::uint64_t cs = m.payload.chunk_size;
    if (cs < k_min_chunk_size || cs > k_max_chunk_size || (cs & (cs - 1)) != 0) {
        p.fail("chunk_size", "must be a power of two from 64 KiB to 64 MiB");
    }
    i = 0;
    for (const auto& node : p.list("chunks")) {
        Digest d{};
        const std::string hex = scalar(node, where, "payload.chunks[" + std::to_string(i++) + "]", kind);
        if (!parse_digest_hex(hex, d)) {
            throw Error(kind, location(where, node) + ": payload.chunks: \"" + hex +
                                  "\" is not a SHA-256 in lower-case hex");
        }
        m.payload.chunks.push_back(d);
    }
    if (m.payload.chunks.size() != (m.payload.size + cs - 1) / cs) {
        p.fail("chunks", "lists " + std::to_string(m.payload.chunks.size()) +
                             " chunks, a payload of " + std::to_string(m.payload.size) +
                             " bytes has " + std::to_string((m.payload.size + cs - 1) / cs));
    }
    if (with_files) {
        check_totals(m, where);
    }
    return m;
}

} // namespace

namespace {

// The text before the top-level `files:` key, the list itself, and the text from `payload:`,
// when the manifest is in the layout Ferry writes.
struct Split {
    std::string head_and_tail;
    std::size_t tail_size = 0; // the part of head_and_tail from `payload:` on
    std::string_view files;
};

std::optional<Split> split_files(std::string_view text) {
    const std::size_t files = text.find("\nfiles:\n");
    const std::size_t payload = text.find("\npayload:\n");
    if (files == std::string_view::npos || payload == std::string_view::npos || payload < files) {
        return std::nullopt;
    }
    Split s;
    s.head_and_tail = std::string(text.substr(0, files + 1));
    s.head_and_tail += text.substr(payload + 1);
    s.tail_size = text.size() - (payload + 1);
    const std::size_t list = files + 1 + std::string_view("files:\n").size();
    s.files = text.substr(list, payload + 1 - list);
    return s;
}

} // namespace

// Whether the head and tail are in the strict subset, and so small enough to load twice; if
// not, the full parser reports why, with the right line numbers.
bool strict_head_and_tail(const Split& split, const std::string& where) {
    try {
        check_strict_yaml(split.head_and_tail, where, ErrorKind::verification, k_integer_keys);
        return true;
    } catch (const Error&) {
        return false;
    }
}

// Whether the text around the cut really is the top level: in the parsed head and tail, the
// `payload` key must start exactly where the cut put it (not inside a scalar that swallowed
// the `files:` line), and there must be no other `files` key.
bool cut_at_top_level(const Split& split) {
    const YAML::Node root = YAML::Load(split.head_and_tail);
    if (!root.IsMap() || root["files"]) {
        return false;
    }
    const std::size_t expected = split.head_and_tail.size() - split.tail_size;
    for (const auto& item : root) {
        if (item.first.IsScalar() && item.first.Scalar() == "payload") {
            return static_cast<std::size_t>(item.first.Mark().pos) == expected;
        }
    }
    return false;
}

Manifest parse_manifest(std::string_view text, const std::string& where) {
    if (const auto split = split_files(text)) {
        auto files = parse_canonical_files(split->files);
        bool top_level = false;
        try {
            top_level = files && strict_head_and_tail(*split, where) && cut_at_top_level(*split);
        } catch (const YAML::Exception&) {
            top_level = false; // the full parser reports it
        }
        if (top_level) {
            Manifest m = parse(split->head_and_tail, where, false);
            m.files = std::move(*files);
            check_totals(m, where);
            return m;
        }
    }
    return parse(text, where, true);
}

void check_limits(const Manifest& m, const Limits& limits, const std::string& where) {
    const auto refuse = [&](const std::string& what, const std::string& key, std::uint64_t limit) {
        throw Error(ErrorKind::verification,
                    where + ": " + what + ", over the site's limit of " + std::to_string(limit),
                    "the limit is `limits." + key + "` in the trust store");
    };
    std::uint64_t files = 0;
    for (const auto& c : m.components) {
        files += c.files;
    }
    files = std::max<std::uint64_t>(files, m.files.size());
    if (files > limits.files) {
        refuse("lists " + std::to_string(files) + " files", "files", limits.files);
    }
    std::uint64_t total = 0;
    for (const auto& f : m.files) {
        if (f.size > limits.file_bytes) {
            refuse(f.path + " is " + std::to_string(f.size) + " bytes", "file_bytes", limits.file_bytes);
        }
        total += f.size;
        for (const std::string* p : {&f.path, &f.dest}) {
            if (p->size() > limits.path_bytes) {
                refuse("path " + p->substr(0, 64) + "... is " + std::to_string(p->size()) + " bytes", "path_bytes",
                       limits.path_bytes);
            }
        }
    }
    if (total > limits.total_bytes) {
        refuse("declares " + std::to_string(total) + " bytes of files", "total_bytes", limits.total_bytes);
    }
}

Manifest parse_manifest_summary(std::string_view text, const std::string& where) {
    if (const auto split = split_files(text)) {
        bool top_level = false;
        try {
            top_level = strict_head_and_tail(*split, where) && cut_at_top_level(*split);
        } catch (const YAML::Exception&) {
            top_level = false; // the full parser reports it
        }
        if (top_level) {
            return parse(split->head_and_tail, where, false);
        }
    }
    return parse(text, where, true);
}

} // namespace ferry::schema
