#include "core/image_archive.hpp"

#include "core/error.hpp"
#include "core/fs.hpp"
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

// Where a member of an image lives, for messages: "ARCHIVE: NAME", or "DIR/NAME" in a folder.
struct ImageSource {
    fs::path path;
    bool folder = false;
    [[nodiscard]] std::string at(const std::string& name) const {
        return folder ? (path / name).string() : path.string() + ": " + name;
    }
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

// Whether NAME (relative to a layout's folder) is one of the files an OCI image layout holds.
bool layout_member(const std::string& name) {
    return name == "oci-layout" || name == "index.json" ||
           (name.starts_with("blobs/sha256/") && name.find('/', 13) == std::string::npos);
}

// "sha256:HEX" of the regular file PATH; its content goes to CONTENT unless that is null.
std::string hash_file(const fs::path& path, std::string* content) {
    const Fd fd = open_regular_file(path);
    Sha256 hash;
    std::vector<char> buf(1 << 16);
    for (;;) {
        const std::size_t n = read_full(fd.get(), buf.data(), buf.size(), path.string());
        hash.update(buf.data(), n);
        if (content != nullptr) {
            content->append(buf.data(), n);
        }
        if (n < buf.size()) {
            break;
        }
    }
    return "sha256:" + to_hex(hash.finish());
}

// The layout folder's files, each checked to be a regular file an OCI image layout holds.
std::vector<std::string> layout_files(const ImageSource& src) {
    std::error_code ec;
    if (!fs::is_directory(src.path, ec)) {
        throw Error(ErrorKind::input, src.path.string() +
                                          ": not a folder (an oci-layout is the layout's folder, "
                                          "with oci-layout, index.json and blobs/sha256/)");
    }
    std::vector<std::string> out;
    for (auto it = fs::recursive_directory_iterator(src.path);
         it != fs::recursive_directory_iterator(); ++it) {
        const std::string name = fs::relative(it->path(), src.path).generic_string();
        if (it->is_symlink()) {
            throw Error(ErrorKind::input,
                        src.at(name) + ": is a symlink; a layout folder holds regular files only");
        }
        if (it->is_directory()) {
            continue;
        }
        if (!it->is_regular_file() || !layout_member(name)) {
            throw Error(ErrorKind::input, src.at(name) +
                                              ": not part of an OCI image layout (oci-layout, "
                                              "index.json and regular files in blobs/sha256/)");
        }
        out.push_back(name);
    }
    std::sort(out.begin(), out.end());
    return out;
}

ArchiveFiles read_folder(const ImageSource& src) {
    ArchiveFiles out;
    for (const auto& name : layout_files(src)) {
        const fs::path path = src.path / name;
        const bool keep = fs::file_size(path) <= k_max_document;
        std::string content;
        out.digests[name] = hash_file(path, keep ? &content : nullptr);
        if (keep) {
            out.documents[name] = std::move(content);
        }
    }
    return out;
}

// "LINE:COLUMN" of the byte at OFFSET (1-based, as json::parse_error counts) in TEXT.
std::string line_column(const std::string& text, std::size_t offset) {
    const std::size_t before = std::min(offset > 0 ? offset - 1 : 0, text.size());
    std::size_t line = 1;
    std::size_t line_start = 0;
    for (std::size_t i = 0; i < before; ++i) {
        if (text[i] == '\n') {
            ++line;
            line_start = i + 1;
        }
    }
    return std::to_string(line) + ":" + std::to_string(before - line_start + 1);
}

json parse_document(const ArchiveFiles& files, const std::string& name, const ImageSource& src) {
    const auto it = files.documents.find(name);
    if (it == files.documents.end()) {
        if (src.folder) {
            throw Error(ErrorKind::input, src.at(name) +
                                              ": missing (an OCI image layout holds oci-layout, "
                                              "index.json and blobs/sha256/)");
        }
        throw Error(ErrorKind::input, src.path.string() + ": has no " + name);
    }
    json j;
    try {
        j = json::parse(it->second);
    } catch (const json::parse_error& e) {
        const std::string what = e.what();
        const std::size_t colon = what.find(": ", what.find("column"));
        throw Error(ErrorKind::input,
                    src.at(name) + ":" + line_column(it->second, e.byte) + ": not JSON: " +
                        (colon == std::string::npos ? what : what.substr(colon + 2)));
    }
    if (!j.is_object() && !j.is_array()) {
        throw Error(ErrorKind::input, src.at(name) + " is not a JSON document");
    }
    return j;
}

std::string string_at(const json& j, const char* key, const std::string& what) {
    if (!j.is_object() || !j.contains(key) || !j[key].is_string()) {
        throw Error(ErrorKind::input, what + " has no \"" + key + "\" string");
    }
    return j[key].get<std::string>();
}

// Checks that the blob DIGEST, which NAMED_BY names, is in the layout.
void check_blob(const ArchiveFiles& files, const std::string& digest, const ImageSource& src,
                const std::string& named_by) {
    Digest parsed{};
    if (!digest.starts_with("sha256:") || !parse_digest_hex(digest.substr(7), parsed)) {
        throw Error(ErrorKind::input,
                    src.at(named_by) + ": " + ferry::quoted(digest) + " is not a sha256 digest");
    }
    const std::string name = "blobs/sha256/" + digest.substr(7);
    if (files.digests.count(name) == 0) {
        throw Error(ErrorKind::input, src.at(name) + ": missing (named by " + named_by + ")");
    }
}

void check_layout_version(const ArchiveFiles& files, const ImageSource& src) {
    const json layout = parse_document(files, "oci-layout", src);
    const std::string version = string_at(layout, "imageLayoutVersion", src.at("oci-layout"));
    if (version != "1.0.0") {
        throw Error(ErrorKind::input, src.at("oci-layout") + ": imageLayoutVersion is " +
                                          ferry::quoted(version) + ", not \"1.0.0\"");
    }
}

std::vector<ArchiveImage> read_oci(const ArchiveFiles& files, const ImageSource& src) {
    for (const auto& [name, digest] : files.digests) {
        if (name.starts_with("blobs/sha256/") && "sha256:" + name.substr(13) != digest) {
            throw Error(ErrorKind::input,
                        src.at(name) + ": its content's sha256 is " + digest.substr(7));
        }
    }
    const json index = parse_document(files, "index.json", src);
    if (!index.contains("manifests") || !index["manifests"].is_array()) {
        throw Error(ErrorKind::input, src.at("index.json") + " has no \"manifests\" list");
    }
    std::vector<ArchiveImage> out;
    std::size_t i = 0;
    for (const auto& m : index["manifests"]) {
        const std::string entry = "index.json manifests[" + std::to_string(i++) + "]";
        const std::string digest = string_at(m, "digest", src.at(entry));
        const std::string media = string_at(m, "mediaType", src.at(entry));
        if (media != "application/vnd.oci.image.manifest.v1+json" &&
            media != "application/vnd.docker.distribution.manifest.v2+json") {
            throw Error(ErrorKind::input, src.at(entry) + " (" + digest + ") is a " + media +
                                              ", not an image manifest");
        }
        check_blob(files, digest, src, entry);
        const std::string name = "blobs/sha256/" + digest.substr(7);
        const json manifest = parse_document(files, name, src);
        const std::string what = "manifest " + digest;
        ArchiveImage image;
        image.digest = digest;
        image.config = string_at(manifest.value("config", json::object()), "digest",
                                 src.at(name) + "'s config");
        check_blob(files, image.config, src, what + "'s config");
        if (!manifest.contains("layers") || !manifest["layers"].is_array()) {
            throw Error(ErrorKind::input, src.at(name) + " has no \"layers\" list");
        }
        std::size_t l = 0;
        for (const auto& layer : manifest["layers"]) {
            const std::string layer_what = what + "'s layers[" + std::to_string(l++) + "]";
            check_blob(files, string_at(layer, "digest", src.at(name) + " " + layer_what), src,
                       layer_what);
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
    const json list = parse_document(files, "manifest.json", ImageSource{file, false});
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
    switch (format) {
    case ImageFormat::oci_archive:
        return "oci-archive";
    case ImageFormat::docker_archive:
        return "docker-archive";
    case ImageFormat::oci_layout:
        return "oci-layout";
    }
    return "?";
}

std::optional<ImageFormat> parse_image_format(std::string_view name) {
    if (name == "oci-archive") {
        return ImageFormat::oci_archive;
    }
    if (name == "docker-archive") {
        return ImageFormat::docker_archive;
    }
    if (name == "oci-layout") {
        return ImageFormat::oci_layout;
    }
    return std::nullopt;
}

std::vector<ArchiveImage> read_image_archive(const fs::path& file, ImageFormat format) {
    const ImageSource src{file, format == ImageFormat::oci_layout};
    const ArchiveFiles files = src.folder ? read_folder(src) : read_files(file);
    try {
        if (src.folder) {
            check_layout_version(files, src);
        }
        return format == ImageFormat::docker_archive ? read_docker(files, file)
                                                     : read_oci(files, src);
    } catch (const json::exception& e) {
        throw Error(ErrorKind::input, file.string() + ": " + e.what());
    }
}

void write_layout_archive(const fs::path& dir, int fd, const std::string& what,
                          std::int64_t mtime) {
    const ImageSource src{dir, true};
    ArchiveWritePtr a(archive_write_new());
    if (archive_write_set_format_pax_restricted(a.get()) != ARCHIVE_OK ||
        archive_write_open_fd(a.get(), fd) != ARCHIVE_OK) {
        throw Error(ErrorKind::io, what + ": " + archive_error_string(a.get()));
    }
    std::vector<char> buf(1 << 16);
    for (const auto& name : layout_files(src)) {
        const fs::path path = dir / name;
        const Fd in = open_regular_file(path);
        const auto size = fs::file_size(path);
        ArchiveEntryPtr entry(archive_entry_new());
        archive_entry_set_pathname(entry.get(), name.c_str());
        archive_entry_set_filetype(entry.get(), AE_IFREG);
        archive_entry_set_perm(entry.get(), 0644);
        archive_entry_set_size(entry.get(), static_cast<la_int64_t>(size));
        archive_entry_set_mtime(entry.get(), mtime, 0);
        archive_entry_set_uid(entry.get(), 0);
        archive_entry_set_gid(entry.get(), 0);
        archive_entry_set_uname(entry.get(), "root");
        archive_entry_set_gname(entry.get(), "root");
        if (archive_write_header(a.get(), entry.get()) != ARCHIVE_OK) {
            throw Error(ErrorKind::io, what + ": " + name + ": " + archive_error_string(a.get()));
        }
        Sha256 hash;
        std::uint64_t done = 0;
        while (done < size) {
            const std::size_t want =
                static_cast<std::size_t>(std::min<std::uint64_t>(buf.size(), size - done));
            const std::size_t n = read_full(in.get(), buf.data(), want, path.string());
            if (n == 0) {
                break;
            }
            hash.update(buf.data(), n);
            if (archive_write_data(a.get(), buf.data(), n) != static_cast<la_ssize_t>(n)) {
                throw Error(ErrorKind::io, what + ": " + archive_error_string(a.get()));
            }
            done += n;
        }
        const std::string digest = "sha256:" + to_hex(hash.finish());
        if (done != size ||
            (name.starts_with("blobs/sha256/") && digest.substr(7) != name.substr(13))) {
            throw Error(ErrorKind::input,
                        src.at(name) +
                            ": changed while it was packed; its content's sha256 is now " +
                            digest.substr(7));
        }
    }
    if (archive_write_close(a.get()) != ARCHIVE_OK) {
        throw Error(ErrorKind::io, what + ": " + archive_error_string(a.get()));
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
