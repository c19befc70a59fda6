#pragma once

// Where a node sends a bundle's images, from its own configuration (ROOT/etc/ferry/images.yaml,
// docs/operator.md "Images"), and the skopeo (or containerd's ctr) commands that push them there
// and read them back.

#include "manifest-schema/manifest.hpp"

#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace ferry::applier {

// The kinds of place an image can go.
enum class ImageTargetKind { registry, oci_layout, podman, docker, containerd };

struct ImageTarget {
    ImageTargetKind kind = ImageTargetKind::oci_layout;
    std::string address;          // registry: HOST[:PORT][/PREFIX]; containerd: its socket
    std::string ctr_namespace;    // containerd: the namespace images are imported into
    bool tls = true;              // registry: HTTPS with verified certificates, else plain HTTP
    std::string authfile;         // registry: credentials (containers-auth.json), or empty
    std::filesystem::path layout; // oci_layout: the folder, as a host path
    unsigned attempts = 3;        // pushes tried before giving up
    std::string source;           // the configuration file, or "default" when there is none
};

// The node's image target, from ROOT/etc/ferry/images.yaml; the OCI layout DEFAULT_LAYOUT (in
// the state folder) when the node has no image configuration. Errors name the file, the line
// and the key.
[[nodiscard]] ImageTarget load_image_target(const std::filesystem::path& root,
                                            const std::filesystem::path& default_layout);

// The target in a few words ("registry 127.0.0.1:5000 (plain HTTP)").
[[nodiscard]] std::string describe_target(const ImageTarget& target);

// Where REF of an image of FORMAT goes on TARGET, as skopeo names it
// ("docker://127.0.0.1:5000/greeter:1.0.0"), or "containerd:NAMESPACE/NAME" for containerd.
[[nodiscard]] std::string destination(const ImageTarget& target, const std::string& ref,
                                      ImageFormat format);

// The name containerd gives REF when it imports an image of FORMAT: a docker archive's
// references are normalized (docker.io/library/NAME:TAG), an OCI archive's kept as written.
[[nodiscard]] std::string containerd_name(const std::string& ref, ImageFormat format);

// The command that sends REF of the image file FILE (F's format) to TARGET.
[[nodiscard]] std::vector<std::string> push_argv(const ImageTarget& target,
                                                 const schema::ManifestFile& f,
                                                 const std::filesystem::path& file,
                                                 const std::string& ref);

// `ctr` with TARGET's socket and namespace, then ARGS.
[[nodiscard]] std::vector<std::string> ctr_argv(const ImageTarget& target,
                                                const std::vector<std::string>& args);

// The manifest digest `ctr images ls` (its output TEXT) lists for NAME, or nullopt.
[[nodiscard]] std::optional<std::string> ctr_listed_digest(const std::string& text,
                                                           const std::string& name);

// What TARGET holds under a reference: the digests read back from it.
struct TargetImage {
    bool found = false;
    std::string digest; // sha256 of the manifest as the target serves it
    std::string config; // the config digest that manifest names
    std::string detail; // why it was not found
};

// Whether what TARGET holds is the signed image SIGNED (the manifest digest where the format
// keeps it, else the config digest).
[[nodiscard]] bool same_image(const TargetImage& held, const schema::ImageRef& signed_ref,
                              ImageFormat format);

// Reads REF of an image of FORMAT back from TARGET with `skopeo inspect --raw` (containerd:
// `ctr images ls`, then `ctr content get` of the manifest); the commands' output goes to LOG.
[[nodiscard]] TargetImage read_target(const ImageTarget& target, const std::string& ref,
                                      ImageFormat format, const std::filesystem::path& log);

// Checks that the image archive FILE holds each reference of F with its signed digests;
// throws a verification Error naming the image otherwise.
void check_image_file(const std::filesystem::path& file, const schema::ManifestFile& f);

// Pushes REF of the archive FILE (F's format) to TARGET, retried up to its attempts, then reads
// it back and compares digests; SAY reports progress. Throws a failed Error naming the image.
void push_image(const ImageTarget& target, const schema::ManifestFile& f,
                const std::filesystem::path& file, const schema::ImageRef& ref,
                const std::filesystem::path& log,
                const std::function<void(const std::string&)>& say);

// Every image reference of M, with the file that carries it.
[[nodiscard]] std::vector<std::pair<const schema::ManifestFile*, const schema::ImageRef*>>
image_refs(const schema::Manifest& m);

} // namespace ferry::applier
