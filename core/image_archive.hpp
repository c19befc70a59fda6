#pragma once

// Reading a container image archive's (or OCI layout folder's) own index: which images it holds,
// under which references, and their digests; packing a layout folder as an archive
// (docs/format.md, "Images").

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ferry {

// How an image file is laid out.
enum class ImageFormat {
    oci_archive,    // a tar of an OCI image layout (index.json, blobs/sha256/...)
    docker_archive, // what `docker save` writes (manifest.json, RepoTags)
    oci_layout,     // a folder of an OCI image layout; a bundle carries it as an oci_archive
};

// The format's name in specs and manifests ("oci-archive", "docker-archive", "oci-layout").
[[nodiscard]] std::string_view image_format_name(ImageFormat format);

// The format NAME stands for, or nullopt.
[[nodiscard]] std::optional<ImageFormat> parse_image_format(std::string_view name);

// One image an archive holds.
struct ArchiveImage {
    std::vector<std::string> refs; // "NAME:TAG" as the archive names it
    std::string digest;            // "sha256:HEX" of the image manifest; empty in a docker archive
    std::string config;            // "sha256:HEX" of the image configuration (the image id)
    bool operator==(const ArchiveImage&) const = default;
};

// The images FILE (a folder for oci_layout) holds. Every blob is hashed against its name and
// every blob a manifest names must be present; anything else is an input Error saying what is
// wrong and where.
[[nodiscard]] std::vector<ArchiveImage> read_image_archive(const std::filesystem::path& file,
                                                           ImageFormat format);

// Writes the OCI layout folder DIR to FD as an oci_archive: its oci-layout, index.json and
// blobs/sha256/... sorted, owned by root, mode 0644, dated MTIME, so the same folder gives the
// same bytes. Each blob is hashed again as it is packed; WHAT names FD in errors.
void write_layout_archive(const std::filesystem::path& dir, int fd, const std::string& what,
                          std::int64_t mtime);

// The image of IMAGES that carries REF, or nullptr.
[[nodiscard]] const ArchiveImage* find_image(const std::vector<ArchiveImage>& images,
                                             std::string_view ref);

// The config digest an image manifest (JSON TEXT) names, or nullopt if TEXT is not one.
[[nodiscard]] std::optional<std::string> manifest_config_digest(std::string_view text);

// Why REF is not a reference of the form NAME:TAG (lower-case path components, a tag), or nullopt.
[[nodiscard]] std::optional<std::string> image_ref_problem(std::string_view ref);

} // namespace ferry
