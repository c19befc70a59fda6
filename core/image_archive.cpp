#include "core/image_archive.hpp"

#include "core/error.hpp"
#include "core/handles.hpp"
#include "core/sha256.hpp"

#include <archive_entry.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <map>
#include <set>

namespace ferry {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// Index, manifest and configuration documents are small; layers are only hashed.
constexpr std::size_t k_max_document = 4u << 20;
constexpr std::string_view k_ref_annotation = "org.opencontainers.image.ref.name";

struct ArchiveFiles {
    std::map<std::string, std::string> documents; // name -> content, for files up to k_max_document
    std::map<std::string, std::string> digests;   // name -> "sha256:HEX" of every regular file
};

std::string normalized(std::string name) {
    while (name.starts_with("./")) {
        name.erase(0, 2);
    }
    return name;
}

ArchiveFiles read_files(const fs::path& file) {
    ArchiveReadPtr a(archive_read_new());
    archive_read_support_format_tar(a.get());
    archive_read_support_filter_all(a.get());
    if (archive_read_open_filename(a.get(), file.c_str(), 1 << 16) != ARCHIVE_OK) {
        throw Error(ErrorKind::input,
                    file.string() + ": not a tar archive: " + archive_error_string(a.get()));
    }
    ArchiveFiles out;
    archive_entry* entry = nullptr;
    std::vector<char> buf(1 << 16);
    for (;;) {
        const int r = archive_read_next_header(a.get(), &entry);
        if (r == ARCHIVE_EOF) {
            break;
        }
        if (r != ARCHIVE_OK) {
            throw Error(ErrorKind::input,
                        file.string() + ": not a tar archive: " + archive_error_string(a.get()));
        }
        if (archive_entry_filetype(entry) != AE_IFREG) {
            continue;
        }
        const std::string name = normalized(archive_entry_pathname(entry));
        Sha256 hash;
        std::string content;
        const bool keep = archive_entry_size(entry) <= static_cast<la_int64_t>(k_max_document);
        for (;;) {
            const la_ssize_t n = archive_read_data(a.get(), buf.data(), buf.size());
            if (n < 0) {
                throw Error(ErrorKind::input,
                            file.string() + ": " + name + ": " + archive_error_string(a.get()));
            }
            if (n == 0) {
                break;
            }
            hash.update(buf.data(), static_cast<std::size_t>(n));
            if (keep) {
                content.append(buf.data(), static_cast<std::size_t>(n));
            }
        }
        out.digests[name] = "sha256:" + to_hex(hash.finish());
        if (keep) {
            out.documents[name] = std::move(content);
        }
    }
    return out;
}

json parse_document(const ArchiveFiles& files, const std::string& name, const fs::path& file) {
    const auto it = files.documents.find(name);
    if (it == files.documents.end()) {
        throw Error(ErrorKind::input, file.string() + ": has no " + name);
    }
    json j = json::parse(it->second, nullptr, false);
    if (j.is_discarded() || (!j.is_object() && !j.is_array())) {
        throw Error(ErrorKind::input, file.string() + ": " + name + " is not a JSON document");
    }
    return j;
}

std::string string_at(const json& j, const char* key, const std::string& what) {
    if (!j.is_object() || !j.contains(key) || !j[key].is_string()) {
        throw Error(ErrorKind::input, what + " has no \"" + key + "\" string");
    }
    return j[key].get<std::string>();
}

// Checks that the blob DIGEST is in the layout, with a name that matches its content.
std::string blob_name(const ArchiveFiles& files, const std::string& digest, const fs::path& file) {
    Digest parsed{};
    if (!digest.starts_with("sha256:") || !parse_digest_hex(digest.substr(7), parsed)) {
        throw Error(ErrorKind::input,
                    file.string() + ": " + ferry::quoted(digest) + " is not a sha256 digest");
    }
    const std::string name = "blobs/sha256/" + digest.substr(7);
    if (files.digests.count(name) == 0) {
        throw Error(ErrorKind::input, file.string() + ": blob " + digest + " is missing");
    }
    return name;
}

std::vector<ArchiveImage> read_oci(const ArchiveFiles& files, const fs::path& file) {
    for (const auto& [name, digest] : files.digests) {
        if (name.starts_with("blobs/sha256/") && "sha256:" + name.substr(13) != digest) {
            throw Error(ErrorKind::input, file.string() + ": " + name +
                                              ": its content's sha256 is " + digest.substr(7));
        }
    }
    const json index = parse_document(files, "index.json", file);
    if (!index.contains("manifests") || !index["manifests"].is_array()) {
        throw Error(ErrorKind::input, file.string() + ": index.json has no \"manifests\" list");
    }
    std::vector<ArchiveImage> out;
    for (const auto& m : index["manifests"]) {
        const std::string digest =
            string_at(m, "digest", file.string() + ": an entry of index.json");
        const std::string media =
            string_at(m, "mediaType", file.string() + ": index.json's entry " + digest);
        if (media != "application/vnd.oci.image.manifest.v1+json" &&
            media != "application/vnd.docker.distribution.manifest.v2+json") {
            throw Error(ErrorKind::input, file.string() + ": index.json's entry " + digest +
                                              " is a " + media + ", not an image manifest");
        }
        const std::string name = blob_name(files, digest, file);
        const json manifest = parse_document(files, name, file);
        const std::string what = file.string() + ": manifest " + digest;
        ArchiveImage image;
        image.digest = digest;
        image.config =
            string_at(manifest.value("config", json::object()), "digest", what + "'s config");
        (void)blob_name(files, image.config, file);
        if (!manifest.contains("layers") || !manifest["layers"].is_array()) {
            throw Error(ErrorKind::input, what + " has no \"layers\" list");
        }
        for (const auto& layer : manifest["layers"]) {
            (void)blob_name(files, string_at(layer, "digest", what + "'s layer"), file);
        }
        const json annotations = m.value("annotations", json::object());
        if (annotations.is_object() && annotations.contains(k_ref_annotation) &&
            annotations[k_ref_annotation].is_string()) {
            image.refs.push_back(annotations[k_ref_annotation].get<std::string>());
        }
        out.push_back(std::move(image));
    }
    return out;
}

std::vector<ArchiveImage> read_docker(const ArchiveFiles& files, const fs::path& file) {
    const json list = parse_document(files, "manifest.json", file);
    if (!list.is_array()) {
        throw Error(ErrorKind::input, file.string() + ": manifest.json is not a list");
    }
    std::vector<ArchiveImage> out;
    for (const auto& m : list) {
        const std::string config =
            normalized(string_at(m, "Config", file.string() + ": an entry of manifest.json"));
        const auto it = files.digests.find(config);
        if (it == files.digests.end()) {
            throw Error(ErrorKind::input,
                        file.string() + ": configuration " + config + " is missing");
        }
        ArchiveImage image;
        image.config = it->second;
        if (m.contains("Layers") && m["Layers"].is_array()) {
            for (const auto& layer : m["Layers"]) {
                if (!layer.is_string() ||
                    files.digests.count(normalized(layer.get<std::string>())) == 0) {
                    throw Error(ErrorKind::input,
                                file.string() + ": a layer of " + config + " is missing");
                }
            }
        }
        if (m.contains("RepoTags") && m["RepoTags"].is_array()) {
            for (const auto& tag : m["RepoTags"]) {
                if (tag.is_string()) {
                    image.refs.push_back(tag.get<std::string>());
                }
            }
        }
        out.push_back(std::move(image));
    }
    return out;
}

bool name_part_ok(std::string_view part) {
    // [a-z0-9]+ separated by one '.', '_', "__" or '-'s, as the distribution spec's path
    // components.
    if (part.empty() || !std::isalnum(static_cast<unsigned char>(part.front())) ||
        !std::isalnum(static_cast<unsigned char>(part.back()))) {
        return false;
    }
    return std::all_of(part.begin(), part.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
    });
}

} // namespace

std::string_view image_format_name(ImageFormat format) {
    return format == ImageFormat::oci_archive ? "oci-archive" : "docker-archive";
}

std::optional<ImageFormat> parse_image_format(std::string_view name) {
    if (name == "oci-archive") {
        return ImageFormat::oci_archive;
    }
    if (name == "docker-archive") {
        return ImageFormat::docker_archive;
    }
    return std::nullopt;
}

std::vector<ArchiveImage> read_image_archive(const fs::path& file, ImageFormat format) {
    const ArchiveFiles files = read_files(file);
    try {
        return format == ImageFormat::oci_archive ? read_oci(files, file)
                                                  : read_docker(files, file);
    } catch (const json::exception& e) {
        throw Error(ErrorKind::input, file.string() + ": " + e.what());
    }
}

const ArchiveImage* find_image(const std::vector<ArchiveImage>& images, std::string_view ref) {
    for (const auto& image : images) {
        if (std::find(image.refs.begin(), image.refs.end(), ref) != image.refs.end()) {
            return &image;
        }
    }
    return nullptr;
}

std::optional<std::string> manifest_config_digest(std::string_view text) {
    const json j = json::parse(text, nullptr, false);
    if (j.is_discarded() || !j.is_object() || !j.contains("config") || !j["config"].is_object() ||
        !j["config"].contains("digest") || !j["config"]["digest"].is_string()) {
        return std::nullopt;
    }
    return j["config"]["digest"].get<std::string>();
}

std::optional<std::string> image_ref_problem(std::string_view ref) {
    const std::size_t colon = ref.rfind(':');
    if (colon == std::string_view::npos || ref.find('@') != std::string_view::npos) {
        return "is not NAME:TAG (a repository name and a tag, like greeter:1.0.0)";
    }
    const std::string_view name = ref.substr(0, colon);
    const std::string_view tag = ref.substr(colon + 1);
    if (name.empty() || name.size() > 255) {
        return "has no repository name before the tag";
    }
    std::size_t start = 0;
    while (start <= name.size()) {
        const std::size_t slash = std::min(name.find('/', start), name.size());
        if (!name_part_ok(name.substr(start, slash - start))) {
            return "has a repository name that is not lower-case letters and digits separated by "
                   "'/', '.', '_' or '-' "
                   "(the node's registry address comes from its own configuration, not the bundle)";
        }
        start = slash + 1;
    }
    const bool tag_ok =
        !tag.empty() && tag.size() <= 128 && tag[0] != '.' && tag[0] != '-' &&
        std::all_of(tag.begin(), tag.end(), [](char c) {
            return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-';
        });
    if (!tag_ok) {
        return "has a tag that is not up to 128 letters, digits, '_', '.' or '-'";
    }
    return std::nullopt;
}

} // namespace ferry
