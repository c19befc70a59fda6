#include "core/envelope.hpp"
#include "core/error.hpp"
#include "core/fs.hpp"
#include "scratch.hpp"

#include <doctest/doctest.h>
#include <fcntl.h>

using namespace ferry;

namespace {

std::string write_envelope(const test::Scratch& dir, const std::string& payload) {
    AtomicFile f(dir / "b.ferry");
    EnvelopeWriter w(f.fd(), "b.ferry", 1790000000);
    w.add(k_manifest_member, "format: ferry-bundle/1\n");
    w.add("signatures/0123456789ABCDEF.minisig", "sig\n");
    w.add(k_payload_member, payload);
    w.finish();
    f.commit();
    return read_file(dir / "b.ferry");
}

BundleHead read_head(const test::Scratch& dir, const std::string& bytes) {
    const auto path = dir.write("x.ferry", bytes);
    Fd fd = open_regular_file(path);
    EnvelopeReader r(fd.get(), "x.ferry");
    BundleHead head = read_bundle_head(r);
    std::string rest(r.remaining(), '\0');
    CHECK(r.read_some(rest.data(), rest.size()) == rest.size());
    expect_bundle_end(r);
    return head;
}

} // namespace

TEST_CASE("core::EnvelopeWriter and read_bundle_head") {
    const test::Scratch dir;
    const std::string bytes = write_envelope(dir, "PAYLOAD");
    CHECK(bytes.size() % 512 == 0);
    CHECK(bytes.size() == 512 * 6 + 1024);

    SUBCASE("round trip") {
        const BundleHead head = read_head(dir, bytes);
        CHECK(head.manifest == "format: ferry-bundle/1\n");
        REQUIRE(head.signatures.size() == 1);
        CHECK(head.signatures[0].key_id == "0123456789ABCDEF");
        CHECK(head.signatures[0].text == "sig\n");
        CHECK(head.payload_size == 7);
    }
    SUBCASE("a flipped byte in a header") {
        std::string bad = bytes;
        bad[10] ^= 1;
        REQUIRE_THROWS_WITH_AS(read_head(dir, bad), "envelope header at offset 0: bad header checksum",
                               Error);
    }
    SUBCASE("non-zero padding after a member") {
        std::string bad = bytes;
        bad[512 + 100] = 'X'; // after the 23-byte manifest
        REQUIRE_THROWS_WITH_AS(read_head(dir, bad),
                               "envelope: the padding after member manifest.yaml is not zero (at offset 612)", Error);
    }
    SUBCASE("a header field in another byte-form") {
        // uid 1, checksum fixed: a valid tar header, but not the one the format writes.
        std::string bad = bytes;
        bad[1024 + 114] = '1';
        unsigned sum = 0;
        for (std::size_t i = 0; i < 512; ++i) {
            sum += (i >= 148 && i < 156) ? ' ' : static_cast<unsigned char>(bad[1024 + i]);
        }
        std::snprintf(&bad[1024 + 148], 8, "%06o", sum);
        bad[1024 + 155] = ' ';
        REQUIRE_THROWS_WITH_AS(read_head(dir, bad),
                               "envelope header at offset 1024: the uid field is \"0000001\\x00\", the format "
                               "writes \"0000000\\x00\"",
                               Error);
    }
    SUBCASE("data after the end marker") {
        REQUIRE_THROWS_WITH_AS(read_head(dir, bytes + "x"), "data after the end of the archive at offset 4096",
                               Error);
    }
    SUBCASE("truncated") {
        REQUIRE_THROWS_WITH_AS(read_head(dir, bytes.substr(0, 1600)),
                               "truncated bundle: end of file at offset 1600 inside padding of signatures/0123456789ABCDEF.minisig",
                               Error);
    }
    SUBCASE("missing end marker") {
        CHECK_THROWS_AS(read_head(dir, bytes.substr(0, bytes.size() - 1024)), Error);
    }
}

TEST_CASE("core::read_bundle_head member rules") {
    const test::Scratch dir;
    auto build = [&](const std::vector<std::pair<std::string, std::string>>& members) {
        AtomicFile f(dir / "m.ferry");
        EnvelopeWriter w(f.fd(), "m.ferry", 0);
        for (const auto& [name, data] : members) {
            w.add(name, data);
        }
        w.finish();
        f.commit();
        return read_file(dir / "m.ferry");
    };
    SUBCASE("manifest first") {
        REQUIRE_THROWS_WITH_AS(read_head(dir, build({{"payload.tar.zst", "x"}})),
                               "not a Ferry bundle: the first member is \"payload.tar.zst\", expected \"manifest.yaml\"",
                               Error);
    }
    SUBCASE("no signature") {
        REQUIRE_THROWS_WITH_AS(read_head(dir, build({{"manifest.yaml", "m"}, {"payload.tar.zst", "x"}})),
                               "bundle carries no signature", Error);
    }
    SUBCASE("duplicate signature member") {
        const std::string sig = "signatures/0123456789ABCDEF.minisig";
        REQUIRE_THROWS_WITH_AS(read_head(dir, build({{"manifest.yaml", "m"}, {sig, "a"}, {sig, "a"}, {"payload.tar.zst", "x"}})),
                               "duplicate member \"signatures/0123456789ABCDEF.minisig\"", Error);
    }
    SUBCASE("unexpected member") {
        REQUIRE_THROWS_WITH_AS(read_head(dir, build({{"manifest.yaml", "m"}, {"evil.sh", "a"}, {"payload.tar.zst", "x"}})),
                               "unexpected member \"evil.sh\" at offset 1024", Error);
    }
    SUBCASE("a member after the payload") {
        REQUIRE_THROWS_WITH_AS(read_head(dir, build({{"manifest.yaml", "m"}, {"signatures/0123456789ABCDEF.minisig", "s"},
                                                     {"payload.tar.zst", "x"}, {"extra", "y"}})),
                               "unexpected member \"extra\" after the payload", Error);
    }
}
