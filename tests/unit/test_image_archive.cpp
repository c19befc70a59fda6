#include "core/error.hpp"
#include "core/fs.hpp"
#include "core/handles.hpp"
#include "core/image_archive.hpp"
#include "core/sha256.hpp"
#include "manifest-schema/manifest.hpp"
#include "manifest-schema/spec.hpp"
#include "scratch.hpp"

#include <doctest/doctest.h>

#include <cstdlib>
#include <fcntl.h>

using namespace ferry;

namespace {

// Writes an image archive of FORMAT holding one file, with the sample's make-image.py.
std::filesystem::path make_image(const test::Scratch& dir, const std::string& format,
                                 const std::string& ref) {
    const auto content = dir.write("tool", "#!/bin/sh\necho tool\n");
    const auto out = dir / (format + ".tar");
    const std::string cmd =
        "/usr/bin/python3 " FERRY_SOURCE_DIR "/samples/make-image.py --format " + format + " '" +
        out.string() + "' " + ref + " tool='" + content.string() + "'";
    REQUIRE(std::system(cmd.c_str()) == 0);
    return out;
}

const std::string k_spec_head = R"(name: app
version: 1.0.0
sequence: 1
expires_in_days: 30
compatible: {product: app, channel: stable}
upgrade_from: ">=0.0.0"
components:
  - name: app
    version: 1.0.0
    files:
)";

} // namespace

TEST_CASE("image_ref_problem") {
    CHECK(!image_ref_problem("greeter:1.0.0"));
    CHECK(!image_ref_problem("site/tools/greeter_x-y:v1.0.0-rc.1"));
    CHECK(image_ref_problem("greeter") ==
          "is not NAME:TAG (a repository name and a tag, like greeter:1.0.0)");
    CHECK(image_ref_problem("greeter@sha256:00") ==
          "is not NAME:TAG (a repository name and a tag, like greeter:1.0.0)");
    CHECK(image_ref_problem("127.0.0.1:5000/greeter:1")
              ->starts_with("has a repository name that is not lower-case"));
    CHECK(image_ref_problem("Greeter:1")
              ->starts_with("has a repository name that is not lower-case"));
    CHECK(image_ref_problem("greeter:-x") ==
          "has a tag that is not up to 128 letters, digits, '_', '.' or '-'");
}

TEST_CASE("read_image_archive") {
    const test::Scratch dir;
    SUBCASE("an OCI archive: its reference, manifest digest and config digest") {
        const auto file = make_image(dir, "oci-archive", "app:1.0.0");
        const auto images = read_image_archive(file, ImageFormat::oci_archive);
        REQUIRE(images.size() == 1);
        CHECK(images[0].refs == std::vector<std::string>{"app:1.0.0"});
        CHECK(images[0].digest.starts_with("sha256:"));
        CHECK(images[0].config.starts_with("sha256:"));
        CHECK(find_image(images, "app:1.0.0") == &images[0]);
        CHECK(find_image(images, "app:2.0.0") == nullptr);
    }
    SUBCASE("a docker archive: its RepoTags and config digest, no manifest digest") {
        const auto file = make_image(dir, "docker-archive", "app:1.0.0");
        const auto images = read_image_archive(file, ImageFormat::docker_archive);
        REQUIRE(images.size() == 1);
        CHECK(images[0].refs == std::vector<std::string>{"app:1.0.0"});
        CHECK(images[0].digest.empty());
        CHECK(images[0].config.starts_with("sha256:"));
    }
    SUBCASE("the wrong format") {
        const auto file = make_image(dir, "docker-archive", "app:1.0.0");
        CHECK_THROWS_WITH(read_image_archive(file, ImageFormat::oci_archive),
                          (file.string() + ": has no index.json").c_str());
    }
    SUBCASE("a blob whose content does not match its name") {
        const auto file = make_image(dir, "oci-archive", "app:1.0.0");
        const std::string cmd =
            "/usr/bin/python3 -c 'import io, sys, tarfile\n"
            "members = [(m, tarfile.open(sys.argv[1]).extractfile(m.name).read()) for m in "
            "tarfile.open(sys.argv[1]).getmembers()]\n"
            "out = tarfile.open(sys.argv[1], \"w\")\n"
            "for m, d in members:\n"
            "    d = d.replace(b\"linux\", b\"LINUX\")\n"
            "    out.addfile(m, io.BytesIO(d))\n"
            "out.close()' '" +
            file.string() + "'";
        REQUIRE(std::system(cmd.c_str()) == 0);
        CHECK_THROWS_WITH(read_image_archive(file, ImageFormat::oci_archive),
                          doctest::Contains(": its content's sha256 is "));
    }
    SUBCASE("not a tar archive") {
        const auto file = dir.write("junk.tar", std::string(2000, 'x'));
        CHECK_THROWS_WITH(read_image_archive(file, ImageFormat::oci_archive),
                          doctest::Contains((file.string() + ": not a tar archive").c_str()));
    }
}

namespace {

// The OCI layout folder the sample's OCI archive holds, unpacked into DIR/layout.
std::filesystem::path make_layout(const test::Scratch& dir) {
    const auto archive = make_image(dir, "oci-archive", "app:1.0.0");
    const auto layout = dir / "layout";
    std::filesystem::create_directories(layout);
    const std::string cmd = "tar -xf '" + archive.string() + "' -C '" + layout.string() + "'";
    REQUIRE(std::system(cmd.c_str()) == 0);
    return layout;
}

// The blob file of DIGEST ("sha256:HEX") in the layout folder LAYOUT.
std::filesystem::path blob(const std::filesystem::path& layout, const std::string& digest) {
    return layout / "blobs" / "sha256" / digest.substr(7);
}

} // namespace

TEST_CASE("read_image_archive: an OCI layout folder") {
    const test::Scratch dir;
    const auto layout = make_layout(dir);
    const auto images = read_image_archive(layout, ImageFormat::oci_layout);
    REQUIRE(images.size() == 1);
    CHECK(images[0].refs == std::vector<std::string>{"app:1.0.0"});
    const auto from_archive = read_image_archive(dir / "oci-archive.tar", ImageFormat::oci_archive);
    CHECK(images[0].digest == from_archive[0].digest);
    CHECK(images[0].config == from_archive[0].config);
    const std::string where = layout.string() + "/";

    SUBCASE("no oci-layout file") {
        std::filesystem::remove(layout / "oci-layout");
        CHECK_THROWS_WITH(read_image_archive(layout, ImageFormat::oci_layout),
                          (where + "oci-layout: missing (an OCI image layout holds oci-layout, "
                                   "index.json and blobs/sha256/)")
                              .c_str());
    }
    SUBCASE("another layout version") {
        dir.write("layout/oci-layout", R"({"imageLayoutVersion": "2.0.0"})");
        CHECK_THROWS_WITH(
            read_image_archive(layout, ImageFormat::oci_layout),
            (where + "oci-layout: imageLayoutVersion is \"2.0.0\", not \"1.0.0\"").c_str());
    }
    SUBCASE("index.json is not JSON: the line and column") {
        dir.write("layout/index.json", "{\n  \"manifests\": [,\n");
        CHECK_THROWS_WITH(
            read_image_archive(layout, ImageFormat::oci_layout),
            doctest::Contains((where + "index.json:2:17: not JSON: syntax error").c_str()));
    }
    SUBCASE("a missing blob: which one, and what names it") {
        const std::string manifest = read_file(blob(layout, images[0].digest), 1 << 20);
        const std::string layer =
            manifest.substr(manifest.find("sha256:", manifest.find("layers")), 71);
        std::filesystem::remove(blob(layout, layer));
        CHECK_THROWS_WITH(read_image_archive(layout, ImageFormat::oci_layout),
                          (blob(layout, layer).string() + ": missing (named by manifest " +
                           images[0].digest + "'s layers[0])")
                              .c_str());
    }
    SUBCASE("a blob whose bytes do not match its name") {
        const auto config = blob(layout, images[0].config);
        const std::string changed = read_file(config, 1 << 20) + " ";
        dir.write(std::filesystem::relative(config, dir.path()).string(), changed);
        CHECK_THROWS_WITH(
            read_image_archive(layout, ImageFormat::oci_layout),
            (config.string() + ": its content's sha256 is " + to_hex(sha256(changed))).c_str());
    }
    SUBCASE("a file no layout holds") {
        dir.write("layout/blobs/notes.txt", "x");
        CHECK_THROWS_WITH(read_image_archive(layout, ImageFormat::oci_layout),
                          (where + "blobs/notes.txt: not part of an OCI image layout (oci-layout, "
                                   "index.json and regular files in blobs/sha256/)")
                              .c_str());
    }
    SUBCASE("a file, not a folder") {
        CHECK_THROWS_WITH(read_image_archive(dir / "oci-archive.tar", ImageFormat::oci_layout),
                          doctest::Contains("oci-archive.tar: not a folder"));
    }
}

TEST_CASE("write_layout_archive") {
    const test::Scratch dir;
    const auto layout = make_layout(dir);
    const auto pack = [&](const std::string& name, std::int64_t mtime) {
        const auto out = dir / name;
        const Fd fd(::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644));
        REQUIRE(fd.valid());
        write_layout_archive(layout, fd.get(), out.string(), mtime);
        return read_file(out, 1 << 20);
    };
    const std::string a = pack("a.tar", 1700000000);
    CHECK(a == pack("b.tar", 1700000000));
    CHECK(a != pack("c.tar", 1700000001));
    const auto images = read_image_archive(dir / "a.tar", ImageFormat::oci_archive);
    REQUIRE(images.size() == 1);
    CHECK(images == read_image_archive(layout, ImageFormat::oci_layout));
    const std::string list =
        "tar -tvf '" + (dir / "a.tar").string() + "' > '" + (dir / "list").string() + "'";
    REQUIRE(std::system(list.c_str()) == 0);
    const std::string listing = read_file(dir / "list", 1 << 20);
    CHECK(listing.find("blobs/sha256/" + images[0].digest.substr(7)) < listing.find("index.json"));
    CHECK(listing.find("index.json") < listing.find("oci-layout"));
    CHECK(listing.find("root/root") != std::string::npos);
    CHECK(listing.find("2023-11-14") != std::string::npos);
}

TEST_CASE("schema::parse_spec: an image's format and refs") {
    const auto spec = [](const std::string& file_line) {
        return schema::parse_spec(k_spec_head + file_line, "s.yaml");
    };
    const auto s = spec("      - {source: a.tar, role: image, format: oci-archive, refs: "
                        "[\"app:1.0.0\", \"app:stable\"]}\n");
    const auto& f = s.components[0].files[0];
    CHECK(f.image_format == ImageFormat::oci_archive);
    CHECK(f.image_refs == std::vector<std::string>{"app:1.0.0", "app:stable"});
    CHECK(f.refs_where == "s.yaml:11: components[0].files[0].refs");
    CHECK(f.source_where == "s.yaml:11: components[0].files[0].source");
    CHECK_THROWS_WITH(
        spec("      - {source: a, role: doc, dest: /a, format: oci-archive, refs: [\"a:1\"]}\n"),
        "s.yaml:11: components[0].files[0].format: only image files have a format and refs");
    CHECK_THROWS_WITH(spec("      - {source: a.tar, role: image, refs: [\"a:1\"]}\n"),
                      "s.yaml:11: missing key \"components[0].files[0].format\"");
    CHECK_THROWS_WITH(spec("      - {source: a.tar, role: image, format: oci, refs: [\"a:1\"]}\n"),
                      "s.yaml:11: components[0].files[0].format: unknown image format \"oci\" "
                      "(oci-archive, docker-archive or oci-layout)");
    CHECK_THROWS_WITH(spec("      - {source: a.tar, role: image, format: oci-archive, refs: []}\n"),
                      "s.yaml:11: components[0].files[0].refs: an image needs at least one "
                      "reference (NAME:TAG) its archive carries");
    CHECK_THROWS_WITH(spec("      - {source: a.tar, role: image, format: oci-archive, refs: "
                           "[\"a:1\", \"a:1\"]}\n"),
                      "s.yaml:11: components[0].files[0].refs: \"a:1\" is listed twice");
    CHECK_THROWS_WITH(
        spec("      - {source: a.tar, role: image, format: oci-archive, refs: [\"a\"]}\n"),
        "s.yaml:11: components[0].files[0].refs: \"a\" is not NAME:TAG (a repository name and a "
        "tag, like greeter:1.0.0)");
    CHECK_THROWS_WITH(spec("      - {source: a.tar, role: image, dest: /a.tar, format: "
                           "oci-archive, refs: [\"a:1\"]}\n"),
                      "s.yaml:11: components[0].files[0].dest: an image with refs goes where the "
                      "node's image configuration says, not to a dest");
}

TEST_CASE("schema::emit_manifest and parse_manifest: image refs") {
    schema::Manifest m;
    m.name = "app";
    m.version = *schema::parse_version("1.0.0");
    m.sequence = 1;
    m.created = 1790000000;
    m.expires = 1800000000;
    m.compatible = {"app", "stable"};
    m.upgrade_from = ">=0.0.0";
    m.components = {{"app", "1.0.0"}};
    const std::string d = "sha256:" + to_hex(sha256("manifest"));
    const std::string c = "sha256:" + to_hex(sha256("config"));
    schema::ManifestFile f{"app/image/a.tar", "app", "image", 10, 0644, sha256("x"), "", ""};
    f.image_format = ImageFormat::oci_archive;
    f.images = {{"app:1.0.0", d, c}, {"app:stable", d, c}};
    m.files = {f};
    m.payload.sha256 = sha256("p");
    m.payload.chunk_size = k_default_chunk_size;
    const std::string text = emit_manifest(m);
    CHECK(text.find("    image:\n      format: oci-archive\n      refs:\n        - ref: "
                    "\"app:1.0.0\"\n          digest: \"" +
                    d + "\"\n          config: \"" + c + "\"\n") != std::string::npos);
    const schema::Manifest back = schema::parse_manifest(text, "manifest.yaml");
    CHECK(emit_manifest(back) == text);
    REQUIRE(back.files[0].images.size() == 2);
    CHECK(back.files[0].images[1].ref == "app:stable");

    SUBCASE("a docker archive has no manifest digest") {
        std::string docker = text;
        docker.replace(docker.find("oci-archive"), 11, "docker-archive");
        CHECK_THROWS_WITH(schema::parse_manifest(docker, "manifest.yaml"),
                          doctest::Contains("files[0].image.refs[0].digest: a docker archive holds "
                                            "no image manifest to take a digest of"));
    }
    SUBCASE("a digest that is not sha256") {
        std::string bad = text;
        bad.replace(bad.find(d), 7, "sha512:");
        CHECK_THROWS_WITH(schema::parse_manifest(bad, "manifest.yaml"),
                          doctest::Contains("is not \"sha256:\" and 64 lower-case hex digits"));
    }
}
