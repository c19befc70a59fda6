#include "applier/node/image_target.hpp"
#include "core/error.hpp"
#include "core/sha256.hpp"
#include "scratch.hpp"

#include <doctest/doctest.h>

using namespace ferry;
using namespace ferry::applier;

namespace {

// The node's image target from an images.yaml of TEXT below DIR.
ImageTarget target_of(const test::Scratch& dir, const std::string& text) {
    dir.write("root/etc/ferry/images.yaml", text);
    return load_image_target(dir / "root", dir / "state/images");
}

schema::ManifestFile image_file(ImageFormat format) {
    schema::ManifestFile f{"app/image/a.tar", "app", "image", 10, 0644, sha256("x"), "", ""};
    f.image_format = format;
    return f;
}

using Argv = std::vector<std::string>;

} // namespace

TEST_CASE("load_image_target: containerd") {
    const test::Scratch dir;
    const std::string file = (dir / "root/etc/ferry/images.yaml").string();
    SUBCASE("the defaults: containerd's own socket, the namespace default") {
        const auto t = target_of(dir, "target: containerd\n");
        CHECK(t.kind == ImageTargetKind::containerd);
        CHECK(t.address == "/run/containerd/containerd.sock");
        CHECK(t.ctr_namespace == "default");
        CHECK(describe_target(t) ==
              "containerd /run/containerd/containerd.sock (namespace default)");
    }
    SUBCASE("a socket and a namespace") {
        const auto t = target_of(
            dir, "target: containerd\naddress: /run/k3s/containerd.sock\nnamespace: k8s.io\n");
        CHECK(t.address == "/run/k3s/containerd.sock");
        CHECK(t.ctr_namespace == "k8s.io");
    }
    SUBCASE("errors name the file, the line and the key") {
        CHECK_THROWS_WITH(
            target_of(dir, "target: containerd\naddress: run/c.sock\n"),
            (file + ":2: address: \"run/c.sock\" is not the absolute path of containerd's socket")
                .c_str());
        CHECK_THROWS_WITH(target_of(dir, "target: containerd\nnamespace: \"a b\"\n"),
                          (file +
                           ":2: namespace: \"a b\" is not a containerd namespace (letters, digits, "
                           "'.', '_', '-')")
                              .c_str());
        CHECK_THROWS_WITH(target_of(dir, "target: registry\naddress: r:5000\nnamespace: x\n"),
                          (file + ":3: namespace: only a containerd target has namespace").c_str());
        CHECK_THROWS_WITH(
            target_of(dir, "target: podman\naddress: /x\n"),
            (file + ":2: address: only a registry or containerd target has address").c_str());
        CHECK_THROWS_WITH(
            target_of(dir, "target: containerdd\n"),
            (file + ":1: target: unknown image target \"containerdd\" (registry, oci-layout, "
                    "podman, docker or containerd)")
                .c_str());
    }
}

TEST_CASE("containerd_name") {
    CHECK(containerd_name("app:1.0.0", ImageFormat::oci_archive) == "app:1.0.0");
    CHECK(containerd_name("app:1.0.0", ImageFormat::docker_archive) ==
          "docker.io/library/app:1.0.0");
    CHECK(containerd_name("site/app:1", ImageFormat::docker_archive) == "docker.io/site/app:1");
    CHECK(containerd_name("registry.site/app:1", ImageFormat::docker_archive) ==
          "registry.site/app:1");
    CHECK(containerd_name("localhost/app:1", ImageFormat::docker_archive) == "localhost/app:1");
}

TEST_CASE("push_argv: the command each target gets") {
    const test::Scratch dir;
    const auto oci = image_file(ImageFormat::oci_archive);
    const auto docker = image_file(ImageFormat::docker_archive);
    SUBCASE("containerd: ctr imports the archive on its socket, in its namespace") {
        const auto t =
            target_of(dir, "target: containerd\naddress: /s/c.sock\nnamespace: k8s.io\n");
        CHECK(push_argv(t, oci, "/b/a.tar", "app:1") == Argv{"ctr", "--address", "/s/c.sock",
                                                             "--namespace", "k8s.io", "images",
                                                             "import", "/b/a.tar"});
        CHECK(destination(t, "app:1", ImageFormat::oci_archive) == "containerd:k8s.io/app:1");
        CHECK(destination(t, "app:1", ImageFormat::docker_archive) ==
              "containerd:k8s.io/docker.io/library/app:1");
        CHECK(ctr_argv(t, {"images", "ls", "name==app:1"}) == Argv{"ctr", "--address", "/s/c.sock",
                                                                   "--namespace", "k8s.io",
                                                                   "images", "ls", "name==app:1"});
    }
    SUBCASE("a registry: skopeo keeps an OCI archive's digests") {
        const auto t = target_of(dir, "target: registry\naddress: r:5000\ntls: false\n");
        CHECK(push_argv(t, oci, "/b/a.tar", "app:1") ==
              Argv{"skopeo", "copy", "--quiet", "--preserve-digests", "--dest-tls-verify=false",
                   "oci-archive:/b/a.tar:app:1", "docker://r:5000/app:1"});
        CHECK(push_argv(t, docker, "/b/a.tar", "app:1") ==
              Argv{"skopeo", "copy", "--quiet", "--dest-tls-verify=false",
                   "docker-archive:/b/a.tar:app:1", "docker://r:5000/app:1"});
    }
    SUBCASE("podman: containers-storage") {
        const auto t = target_of(dir, "target: podman\n");
        CHECK(push_argv(t, oci, "/b/a.tar", "app:1") == Argv{"skopeo", "copy", "--quiet",
                                                             "oci-archive:/b/a.tar:app:1",
                                                             "containers-storage:app:1"});
    }
}

TEST_CASE("ctr_listed_digest") {
    const std::string d = "sha256:" + to_hex(sha256("m"));
    const std::string text =
        "REF       TYPE                                       DIGEST  SIZE    PLATFORMS   LABELS\n"
        "app:1.0.0 application/vnd.oci.image.manifest.v1+json " +
        d + " 710.0 B linux/amd64 -\n";
    CHECK(ctr_listed_digest(text, "app:1.0.0") == d);
    CHECK(!ctr_listed_digest(text, "app:1.0"));
    CHECK(!ctr_listed_digest("REF TYPE DIGEST SIZE PLATFORMS LABELS\n", "app:1.0.0"));
}
