#include "applier/node/image_target.hpp"

#include "applier/node/command.hpp"
#include "core/defaults.hpp"
#include "core/error.hpp"
#include "core/fs.hpp"
#include "core/image_archive.hpp"
#include "core/sha256.hpp"
#include "manifest-schema/yaml_fields.hpp"

#include <algorithm>
#include <sstream>
#include <thread>
#include <unistd.h>

namespace ferry::applier {

namespace fs = std::filesystem;

namespace {

const std::vector<std::string_view> k_target_names = {"registry", "oci-layout", "podman", "docker",
                                                      "containerd"};
constexpr std::string_view k_containerd_socket = "/run/containerd/containerd.sock";
constexpr std::chrono::seconds k_push_timeout{1800};
constexpr std::chrono::seconds k_inspect_timeout{120};

std::vector<std::string> registry_options(const ImageTarget& t, const char* tls_flag,
                                          const char* auth_flag) {
    std::vector<std::string> out;
    if (t.kind == ImageTargetKind::registry) {
        if (!t.tls) {
            out.push_back(std::string(tls_flag) + "=false");
        }
        if (!t.authfile.empty()) {
            out.insert(out.end(), {auth_flag, t.authfile});
        }
    }
    return out;
}

std::string source_ref(const schema::ManifestFile& f, const fs::path& file,
                       const std::string& ref) {
    return std::string(image_format_name(*f.image_format)) + ":" + file.string() + ":" + ref;
}

// Why ctr failed, in its own words: its last "ctr: ..." line, or the command's description.
std::string ctr_reason(const CommandResult& r, std::chrono::milliseconds timeout) {
    const std::string& out = r.output_tail;
    const std::size_t at = out.rfind("ctr: ");
    if (r.timed_out || at == std::string::npos) {
        return describe(r, timeout);
    }
    const std::size_t end = out.find('\n', at);
    return out.substr(at + 5, end == std::string::npos ? std::string::npos : end - at - 5);
}

// Why ctr would fail without trying: containerd's socket is not there (ctr would wait 10 s for it).
std::optional<std::string> socket_missing(const ImageTarget& t) {
    std::error_code ec;
    if (t.kind != ImageTargetKind::containerd || fs::exists(t.address, ec)) {
        return std::nullopt;
    }
    return "containerd's socket " + t.address + " does not exist (is containerd running?)";
}

// Why skopeo failed, in its own words: the message of its last `level=fatal msg="..."` line
// without the "Error parsing image name ..." preamble, or the command's description.
std::string skopeo_reason(const CommandResult& r, std::chrono::milliseconds timeout) {
    const std::string& out = r.output_tail;
    const std::size_t at = out.rfind("msg=\"");
    if (r.timed_out || at == std::string::npos) {
        return describe(r, timeout);
    }
    std::string msg;
    for (std::size_t i = at + 5; i < out.size() && out[i] != '\n'; ++i) {
        if (out[i] == '\\' && i + 1 < out.size()) {
            msg += out[++i];
        } else if (out[i] == '"') {
            break;
        } else {
            msg += out[i];
        }
    }
    if (msg.starts_with("Error parsing image name ")) {
        if (const std::size_t colon = msg.find("\": "); colon != std::string::npos) {
            msg = msg.substr(colon + 3);
        }
    }
    return msg.empty() ? describe(r, timeout) : msg;
}

} // namespace

ImageTarget load_image_target(const fs::path& root, const fs::path& default_layout) {
    ImageTarget t;
    const fs::path config = root / fs::path(k_image_config).relative_path();
    if (!fs::exists(config)) {
        t.layout = default_layout;
        t.source = "default";
        return t;
    }
    const std::string file = config.string();
    const YAML::Node doc = schema::load_yaml(read_file(config, 1u << 20), file, ErrorKind::input);
    const schema::Fields f(
        doc, file, "", {"target", "address", "tls", "authfile", "attempts", "path", "namespace"},
        ErrorKind::input);
    t.source = file;
    const std::string kind = f.str("target");
    const auto it = std::find(k_target_names.begin(), k_target_names.end(), kind);
    if (it == k_target_names.end()) {
        std::string hint;
        if (const auto guess = schema::did_you_mean(kind, k_target_names)) {
            hint = "did you mean \"" + *guess + "\"?";
        }
        f.fail("target",
               "unknown image target " + ferry::quoted(kind) +
                   " (registry, oci-layout, podman, docker or containerd)",
               hint);
    }
    t.kind = static_cast<ImageTargetKind>(it - k_target_names.begin());
    const auto only_for = [&](std::string_view key, ImageTargetKind kind_needed, const char* name) {
        if (f.has(key) && t.kind != kind_needed) {
            f.fail(key, "only a " + std::string(name) + " target has " + std::string(key));
        }
    };
    if (f.has("address") && t.kind != ImageTargetKind::registry &&
        t.kind != ImageTargetKind::containerd) {
        f.fail("address", "only a registry or containerd target has address");
    }
    only_for("namespace", ImageTargetKind::containerd, "containerd");
    only_for("tls", ImageTargetKind::registry, "registry");
    only_for("authfile", ImageTargetKind::registry, "registry");
    only_for("path", ImageTargetKind::oci_layout, "oci-layout");
    if (t.kind == ImageTargetKind::registry) {
        t.address = f.str("address");
        if (t.address.empty() || t.address.find("://") != std::string::npos ||
            t.address.back() == '/') {
            f.fail("address", ferry::quoted(t.address) + " is not HOST[:PORT][/PREFIX]",
                   "write the registry without a scheme, for example registry.site:5000");
        }
        if (const auto tls = f.opt_str("tls")) {
            if (*tls != "true" && *tls != "false") {
                f.fail("tls", ferry::quoted(*tls) + " is not true or false");
            }
            t.tls = *tls == "true";
        }
        t.authfile = f.opt_str("authfile").value_or("");
        if (!t.authfile.empty() && t.authfile[0] != '/') {
            f.fail("authfile", ferry::quoted(t.authfile) + " must be an absolute path");
        }
    }
    if (t.kind == ImageTargetKind::containerd) {
        t.address = f.opt_str("address").value_or(std::string(k_containerd_socket));
        if (t.address.empty() || t.address[0] != '/') {
            f.fail("address",
                   ferry::quoted(t.address) + " is not the absolute path of containerd's socket",
                   "for example " + std::string(k_containerd_socket));
        }
        t.ctr_namespace = f.opt_str("namespace").value_or("default");
        const bool ns_ok = !t.ctr_namespace.empty() && t.ctr_namespace.size() <= 76 &&
                           std::isalnum(static_cast<unsigned char>(t.ctr_namespace.front())) &&
                           std::all_of(t.ctr_namespace.begin(), t.ctr_namespace.end(), [](char c) {
                               return std::isalnum(static_cast<unsigned char>(c)) || c == '.' ||
                                      c == '_' || c == '-';
                           });
        if (!ns_ok) {
            f.fail("namespace",
                   ferry::quoted(t.ctr_namespace) +
                       " is not a containerd namespace (letters, digits, '.', '_', '-')",
                   "Kubernetes' images live in the namespace k8s.io");
        }
    }
    if (t.kind == ImageTargetKind::oci_layout) {
        const std::string path = f.str("path");
        if (path.empty() || path[0] != '/') {
            f.fail("path", ferry::quoted(path) + " must be an absolute path (below --root)");
        }
        t.layout = root / fs::path(path).relative_path();
    }
    const auto attempts = f.opt_u64("attempts").value_or(3);
    if (attempts == 0 || attempts > 10) {
        f.fail("attempts", "must be between 1 and 10");
    }
    t.attempts = static_cast<unsigned>(attempts);
    return t;
}

std::string describe_target(const ImageTarget& t) {
    switch (t.kind) {
    case ImageTargetKind::registry:
        return "registry " + t.address + (t.tls ? std::string() : std::string(" (plain HTTP)"));
    case ImageTargetKind::oci_layout:
        return "OCI layout " + t.layout.string() + (t.source == "default" ? " (the default)" : "");
    case ImageTargetKind::podman:
        return "podman";
    case ImageTargetKind::docker:
        return "docker";
    case ImageTargetKind::containerd:
        return "containerd " + t.address + " (namespace " + t.ctr_namespace + ")";
    }
    return "?";
}

std::string containerd_name(const std::string& ref, ImageFormat format) {
    if (format != ImageFormat::docker_archive) {
        return ref;
    }
    // The distribution reference rules containerd applies: a first component with no '.' or ':'
    // that is not "localhost" is a path on docker.io, and a single component is an official image.
    const std::size_t slash = ref.find('/');
    const std::string first = ref.substr(0, slash);
    if (slash != std::string::npos &&
        (first.find_first_of(".:") != std::string::npos || first == "localhost")) {
        return ref;
    }
    return slash == std::string::npos ? "docker.io/library/" + ref : "docker.io/" + ref;
}

std::vector<std::string> ctr_argv(const ImageTarget& t, const std::vector<std::string>& args) {
    std::vector<std::string> argv = {"ctr", "--address", t.address, "--namespace", t.ctr_namespace};
    argv.insert(argv.end(), args.begin(), args.end());
    return argv;
}

std::optional<std::string> ctr_listed_digest(const std::string& text, const std::string& name) {
    // REF TYPE DIGEST SIZE PLATFORMS LABELS, one image a line after the header.
    std::istringstream lines(text);
    std::string line;
    while (std::getline(lines, line)) {
        std::istringstream fields(line);
        std::string listed;
        std::string type;
        std::string digest;
        if (fields >> listed >> type >> digest && listed == name && digest.starts_with("sha256:")) {
            return digest;
        }
    }
    return std::nullopt;
}

std::string destination(const ImageTarget& t, const std::string& ref, ImageFormat format) {
    switch (t.kind) {
    case ImageTargetKind::registry:
        return "docker://" + t.address + "/" + ref;
    case ImageTargetKind::oci_layout:
        return "oci:" + t.layout.string() + ":" + ref;
    case ImageTargetKind::podman:
        return "containers-storage:" + ref;
    case ImageTargetKind::docker:
        return "docker-daemon:" + ref;
    case ImageTargetKind::containerd:
        return "containerd:" + t.ctr_namespace + "/" + containerd_name(ref, format);
    }
    return ref;
}

bool same_image(const TargetImage& held, const schema::ImageRef& signed_ref, ImageFormat format) {
    if (!held.found || held.config != signed_ref.config) {
        return false;
    }
    // A registry or layout keeps an OCI archive's manifest byte for byte (--preserve-digests);
    // a docker archive's manifest, and what a runtime stores, are written anew.
    return format != ImageFormat::oci_archive || held.digest == signed_ref.digest;
}

namespace {

// Runs ARGV with its standard output in a file; the output, or why it failed, in OUT or DETAIL.
bool run_for_output(const ImageTarget& t, const std::vector<std::string>& argv,
                    const std::string& label, const fs::path& log, std::string& out,
                    std::string& detail) {
    if (const auto missing = socket_missing(t)) {
        detail = *missing;
        return false;
    }
    const fs::path file = log.parent_path() / (".inspect-" + std::to_string(::getpid()));
    CommandSpec spec{argv, k_inspect_timeout, {}, log, label};
    spec.stdout_to = file;
    const CommandResult r = run_command(spec);
    if (r.exit_code != 0) {
        detail = t.kind == ImageTargetKind::containerd ? ctr_reason(r, spec.timeout)
                                                       : skopeo_reason(r, spec.timeout);
        fs::remove(file);
        return false;
    }
    out = read_file(file, 16u << 20);
    fs::remove(file);
    return true;
}

} // namespace

TargetImage read_target(const ImageTarget& t, const std::string& ref, ImageFormat format,
                        const fs::path& log) {
    TargetImage held;
    std::string raw;
    if (t.kind == ImageTargetKind::containerd) {
        const std::string name = containerd_name(ref, format);
        std::string list;
        if (!run_for_output(t, ctr_argv(t, {"images", "ls", "name==" + name}),
                            "image inspect " + ref, log, list, held.detail)) {
            return held;
        }
        const auto digest = ctr_listed_digest(list, name);
        if (!digest) {
            held.detail =
                "containerd has no image " + name + " in the namespace " + t.ctr_namespace;
            return held;
        }
        if (!run_for_output(t, ctr_argv(t, {"content", "get", *digest}), "image manifest " + ref,
                            log, raw, held.detail)) {
            return held;
        }
    } else {
        std::vector<std::string> argv = {"skopeo", "inspect", "--raw"};
        for (auto& o : registry_options(t, "--tls-verify", "--authfile")) {
            argv.push_back(std::move(o));
        }
        argv.push_back(destination(t, ref, format));
        if (!run_for_output(t, argv, "image inspect " + ref, log, raw, held.detail)) {
            return held;
        }
    }
    held.digest = "sha256:" + to_hex(sha256(raw));
    held.config = manifest_config_digest(raw).value_or("");
    held.found = !held.config.empty();
    if (!held.found) {
        held.detail = "what it serves is not an image manifest";
    }
    return held;
}

void check_image_file(const fs::path& file, const schema::ManifestFile& f) {
    std::vector<ArchiveImage> images;
    try {
        images = read_image_archive(file, *f.image_format);
    } catch (const Error& e) {
        throw Error(ErrorKind::verification, "image " + f.path + ": " + e.what());
    }
    for (const auto& ref : f.images) {
        const ArchiveImage* image = find_image(images, ref.ref);
        if (image == nullptr) {
            throw Error(ErrorKind::verification, "image " + f.path + " does not hold " + ref.ref);
        }
        if (image->config != ref.config || image->digest != ref.digest) {
            throw Error(ErrorKind::verification,
                        "image " + f.path + ": " + ref.ref + " is " +
                            (image->digest.empty() ? image->config : image->digest) +
                            ", the manifest signed " +
                            (ref.digest.empty() ? ref.config : ref.digest),
                        "the bundle's image does not match its signed digest: nothing was pushed; "
                        "rebuild the bundle");
        }
    }
}

std::vector<std::string> push_argv(const ImageTarget& t, const schema::ManifestFile& f,
                                   const fs::path& file, const std::string& ref) {
    if (t.kind == ImageTargetKind::containerd) {
        // ctr imports every reference the archive holds; the one asked for is read back after.
        return ctr_argv(t, {"images", "import", file.string()});
    }
    std::vector<std::string> argv = {"skopeo", "copy", "--quiet"};
    const bool preserve =
        *f.image_format == ImageFormat::oci_archive &&
        (t.kind == ImageTargetKind::registry || t.kind == ImageTargetKind::oci_layout);
    if (preserve) {
        argv.emplace_back("--preserve-digests");
    }
    for (auto& o : registry_options(t, "--dest-tls-verify", "--dest-authfile")) {
        argv.push_back(std::move(o));
    }
    argv.push_back(source_ref(f, file, ref));
    argv.push_back(destination(t, ref, *f.image_format));
    return argv;
}

void push_image(const ImageTarget& t, const schema::ManifestFile& f, const fs::path& file,
                const schema::ImageRef& ref, const fs::path& log,
                const std::function<void(const std::string&)>& say) {
    const std::string dest = destination(t, ref.ref, *f.image_format);
    if (t.kind == ImageTargetKind::oci_layout) {
        fs::create_directories(t.layout);
    }
    const std::vector<std::string> argv = push_argv(t, f, file, ref.ref);
    const bool ctr = t.kind == ImageTargetKind::containerd;
    std::string last;
    bool pushed = false;
    for (unsigned attempt = 1; attempt <= t.attempts && !pushed; ++attempt) {
        say("  pushing image " + ref.ref + " to " + dest +
            (attempt > 1 ? " (attempt " + std::to_string(attempt) + " of " +
                               std::to_string(t.attempts) + ")"
                         : std::string()));
        const CommandSpec spec{argv, k_push_timeout, {}, log, "image push " + ref.ref};
        const auto missing = socket_missing(t);
        const CommandResult r = missing ? CommandResult{} : run_command(spec);
        pushed = !missing && r.exit_code == 0;
        if (!pushed) {
            last = missing ? *missing
                           : (ctr ? ctr_reason(r, spec.timeout) : skopeo_reason(r, spec.timeout));
            if (attempt < t.attempts) {
                std::this_thread::sleep_for(std::chrono::seconds(attempt));
            }
        }
    }
    if (!pushed) {
        throw Error(ErrorKind::failed,
                    "pushing image " + ref.ref + " to " + dest + " failed after " +
                        std::to_string(t.attempts) + " attempt(s): " + last,
                    "check that the " + describe_target(t) + " is reachable (" + t.source + ")");
    }
    const TargetImage held = read_target(t, ref.ref, *f.image_format, log);
    if (!same_image(held, ref, *f.image_format)) {
        throw Error(ErrorKind::failed,
                    "image " + ref.ref + " read back from " + dest + " is " +
                        (held.found ? held.digest + " (config " + held.config + ")"
                                    : "missing: " + held.detail) +
                        ", the manifest signed " +
                        (ref.digest.empty() ? "config " + ref.config : ref.digest));
    }
    say("  image " + ref.ref + " is " + (ref.digest.empty() ? "config " + ref.config : ref.digest) +
        " at " + dest);
}

std::vector<std::pair<const schema::ManifestFile*, const schema::ImageRef*>>
image_refs(const schema::Manifest& m) {
    std::vector<std::pair<const schema::ManifestFile*, const schema::ImageRef*>> out;
    for (const auto& f : m.files) {
        for (const auto& r : f.images) {
            out.emplace_back(&f, &r);
        }
    }
    return out;
}

} // namespace ferry::applier
