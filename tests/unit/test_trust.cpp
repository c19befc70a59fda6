// Roles, thresholds and trust-store rotation: keys::authenticate and keys::check_trust_update.

#include "core/error.hpp"
#include "keys/key.hpp"
#include "keys/signature.hpp"
#include "keys/trust_bundle.hpp"
#include "keys/trust_store.hpp"

#include <doctest/doctest.h>

#include <map>
#include <string>
#include <vector>

using ferry::Error;
using ferry::ErrorKind;
using ferry::UnixTime;
using namespace ferry::keys;

namespace {

constexpr UnixTime k_now = 1'800'000'000;
constexpr UnixTime k_later = k_now + 86400 * 365;

struct Signer {
    std::string name;
    SecretKey key = generate_secret_key();
    std::string id() const { return key_id_hex(key.id()); }
};

std::string entry(const Signer& s, const std::string& roles, UnixTime expires = k_later) {
    return "  - {name: " + s.name + ", id: \"" + s.id() + "\", public_key: \"" + public_key_base64(s.key.public_key()) +
           "\", expires: " + ferry::format_time(expires) + ", roles: [" + roles + "]}\n";
}

std::string store_text(std::uint64_t version, std::uint64_t release, std::uint64_t trust, const std::string& entries) {
    return "version: " + std::to_string(version) + "\nthresholds: {release: " + std::to_string(release) +
           ", trust: " + std::to_string(trust) + "}\nkeys:\n" + entries;
}

std::vector<ferry::BundleHead::Signature> sign_all(const std::string& text, const std::vector<const Signer*>& signers) {
    std::vector<ferry::BundleHead::Signature> out;
    for (const Signer* s : signers) {
        const std::span<const std::uint8_t> message(reinterpret_cast<const std::uint8_t*>(text.data()), text.size());
        out.push_back({s->id(), format_signature(sign_message(s->key, message, "timestamp:1\tfile:x", "u"))});
    }
    return out;
}

TrustBundle bundle_of(const std::string& text, const std::vector<const Signer*>& signers) {
    return {"trust-v2.ferry", {text, sign_all(text, signers)}};
}

} // namespace

TEST_CASE("keys::authenticate roles") {
    const Signer rel{"rel"};
    const Signer ops{"ops"};
    const Signer both{"both"};
    const TrustStore store = parse_trust_store(
        store_text(1, 1, 1, entry(rel, "release") + entry(ops, "trust") + entry(both, "release, trust")), "trust.yaml");
    const std::string manifest = "format: ferry-bundle/1\n";

    SUBCASE("a key without the release role does not count, and the message says why") {
        const auto sigs = sign_all(manifest, {&ops});
        CHECK_THROWS_WITH_AS((void)authenticate(manifest, sigs, store, TrustRole::release, k_now, "manifest"),
                             ("manifest signed by 0 trusted release key(s), 1 required [" + ops.id() +
                              " (ops): ignored, not a release key (roles: trust)]")
                                 .c_str(),
                             Error);
    }
    SUBCASE("a release key does not count for a trust store") {
        const auto sigs = sign_all(manifest, {&rel});
        CHECK_THROWS_WITH_AS((void)authenticate(manifest, sigs, store, TrustRole::trust, k_now, "trust.yaml"),
                             ("trust.yaml signed by 0 trusted trust key(s), 1 required [" + rel.id() +
                              " (rel): ignored, not a trust key (roles: release)]")
                                 .c_str(),
                             Error);
    }
    SUBCASE("counted keys and ignored ones are both reported") {
        const auto sigs = sign_all(manifest, {&rel, &ops});
        const Authentication auth = authenticate(manifest, sigs, store, TrustRole::release, k_now, "manifest");
        CHECK(auth.valid == 1);
        CHECK(auth.threshold == 1);
        REQUIRE(auth.signatures.size() == 2);
        CHECK(auth.signatures[0].status == SignatureCheck::Status::valid);
        CHECK(auth.signatures[1].status == SignatureCheck::Status::wrong_role);
        CHECK(ignored_text(auth) == ops.id() + " (ops): ignored, not a release key (roles: trust)");
    }
    SUBCASE("a key with both roles counts for each") {
        const auto sigs = sign_all(manifest, {&both});
        CHECK(authenticate(manifest, sigs, store, TrustRole::release, k_now, "manifest").valid == 1);
        CHECK(authenticate(manifest, sigs, store, TrustRole::trust, k_now, "trust.yaml").valid == 1);
    }
}

TEST_CASE("keys::authenticate thresholds per role") {
    const Signer a{"a"};
    const Signer b{"b"};
    const Signer c{"c"};
    const TrustStore store = parse_trust_store(
        store_text(1, 2, 1, entry(a, "release") + entry(b, "release") + entry(c, "release, trust", k_now - 1)),
        "trust.yaml");
    const std::string manifest = "m\n";
    CHECK(authenticate(manifest, sign_all(manifest, {&a, &b}), store, TrustRole::release, k_now, "manifest").valid == 2);
    SUBCASE("an expired key does not count") {
        CHECK_THROWS_WITH_AS((void)authenticate(manifest, sign_all(manifest, {&a, &c}), store, TrustRole::release, k_now,
                                                "manifest"),
                             doctest::Contains((c.id() + " (c): key expired").c_str()), Error);
    }
    SUBCASE("one key twice counts once") {
        auto sigs = sign_all(manifest, {&a});
        sigs.push_back(sigs.front());
        CHECK_THROWS_WITH_AS((void)authenticate(manifest, sigs, store, TrustRole::release, k_now, "manifest"),
                             doctest::Contains("manifest signed by 1 trusted release key(s), 2 required"), Error);
    }
    SUBCASE("thresholds that the unexpired keys cannot meet") {
        CHECK_THROWS_WITH_AS(check_thresholds_reachable(store, k_now, "new.yaml"),
                             "new.yaml: thresholds.trust is 1 but only 0 trust key(s) are unexpired: nothing could ever "
                             "be signed",
                             Error);
        CHECK_NOTHROW(check_thresholds_reachable(store, k_now - 10, "new.yaml"));
    }
}

TEST_CASE("keys::check_trust_update") {
    const Signer old1{"old-1"};
    const Signer old2{"old-2"};
    const Signer new1{"new-1"};
    const Signer rel{"rel"};
    const TrustStore current = parse_trust_store(
        store_text(4, 1, 2, entry(old1, "trust") + entry(old2, "trust") + entry(rel, "release")), "trust.yaml");
    const std::string next = store_text(5, 1, 1, entry(new1, "release, trust") + entry(rel, "release"));

    SUBCASE("accepted when both stores' trust thresholds sign the next version") {
        const TrustUpdate u = check_trust_update(current, bundle_of(next, {&old1, &old2, &new1}), k_now);
        CHECK(u.store.version == 5);
        CHECK(u.by_current.valid == 2);
        CHECK(u.by_new.valid == 1);
    }
    SUBCASE("signed only by the current store's keys") {
        CHECK_THROWS_WITH_AS((void)check_trust_update(current, bundle_of(next, {&old1, &old2}), k_now),
                             ("trust-v2.ferry: not signed by the trust threshold of the new trust store (version 5): "
                              "trust.yaml signed by 0 trusted trust key(s), 1 required [" +
                              old1.id() + ": unknown key; " + old2.id() + ": unknown key]")
                                 .c_str(),
                             Error);
    }
    SUBCASE("signed only by the new store's keys") {
        try {
            (void)check_trust_update(current, bundle_of(next, {&new1}), k_now);
            FAIL("accepted");
        } catch (const Error& e) {
            CHECK(e.kind() == ErrorKind::verification);
            CHECK(std::string(e.what()) == "trust-v2.ferry: not signed by the trust threshold of the current trust store "
                                           "(version 4): trust.yaml signed by 0 trusted trust key(s), 2 required [" +
                                               new1.id() + ": unknown key]");
        }
    }
    SUBCASE("a release key of the current store does not count") {
        CHECK_THROWS_WITH_AS((void)check_trust_update(current, bundle_of(next, {&old1, &rel, &new1}), k_now),
                             doctest::Contains((rel.id() + " (rel): ignored, not a trust key (roles: release)").c_str()), Error);
    }
    SUBCASE("versions") {
        for (const auto& [version, message] :
             std::vector<std::pair<int, std::string>>{{4, "carries trust store version 4, not newer than the current trust store (version 4)"},
                                                      {3, "carries trust store version 3, not newer than"},
                                                      {6, "carries trust store version 6, skipping version(s) after the current trust store (version 4)"}}) {
            CAPTURE(version);
            const std::string text = store_text(version, 1, 1, entry(new1, "release, trust"));
            try {
                (void)check_trust_update(current, bundle_of(text, {&old1, &old2, &new1}), k_now);
                FAIL("accepted");
            } catch (const Error& e) {
                CHECK(e.kind() == ErrorKind::policy);
                CHECK(std::string(e.what()).find(message) != std::string::npos);
            }
        }
    }
    SUBCASE("a new store with no keys, or thresholds it cannot meet") {
        CHECK_THROWS_WITH_AS((void)check_trust_update(current, bundle_of(store_text(5, 1, 1, ""), {&old1, &old2}), k_now),
                             doctest::Contains("the trust store lists no keys"), Error);
        CHECK_THROWS_WITH_AS(
            (void)check_trust_update(current, bundle_of(store_text(5, 1, 2, entry(new1, "release, trust")), {&old1, &old2, &new1}),
                                     k_now),
            "trust-v2.ferry:trust.yaml:2: thresholds.trust: must be between 1 and the number of keys with the trust role (1)",
            Error);
        CHECK_THROWS_WITH_AS(
            (void)check_trust_update(current,
                                     bundle_of(store_text(5, 1, 1, entry(new1, "release, trust", k_now - 5)), {&old1, &old2, &new1}),
                                     k_now),
            doctest::Contains("thresholds.release is 1 but only 0 release key(s) are unexpired"), Error);
    }
}
