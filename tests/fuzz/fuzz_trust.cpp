// Fuzz target: keys::parse_trust_store, the site's trust.yaml.
//
// Oracles, besides "no crash, only ferry::Error": an accepted store has, for each role, a
// threshold between 1 and the number of keys holding the role, and distinct names, ids and
// public keys, each id matching its key;
// and the document as emit_trust_store writes it (limits included) parses again and emits the
// same bytes.

#include "fuzz.hpp"

#include "keys/trust_store.hpp"
#include "manifest-schema/trust.hpp"

#include <algorithm>
#include <set>
#include <string>

namespace {

using namespace ferry;

void check_store(const keys::TrustStore& store) {
    fuzz::check(store.version >= 1, "accepted trust store has version 0");
    for (const auto role : schema::k_trust_roles) {
        const auto holders = static_cast<std::uint64_t>(
            std::count_if(store.keys.begin(), store.keys.end(), [&](const auto& k) { return k.has(role); }));
        fuzz::check(store.thresholds.of(role) >= 1 && store.thresholds.of(role) <= holders,
                    "accepted trust store has a threshold out of range");
    }
    std::set<std::string> names;
    std::set<keys::KeyId> ids;
    std::set<std::array<std::uint8_t, keys::k_public_key_size>> public_keys;
    for (const auto& k : store.keys) {
        fuzz::check(names.insert(k.name).second, "accepted trust store repeats a name");
        fuzz::check(ids.insert(k.key.id).second, "accepted trust store repeats a key id");
        fuzz::check(public_keys.insert(k.key.key).second, "accepted trust store repeats a key");
        fuzz::check(store.find(k.key.id) == &k, "TrustStore::find does not find a listed key");
    }
}

void check_round_trip(std::string_view text) {
    const schema::TrustStoreDoc doc = schema::parse_trust_store(text, "trust.yaml");
    const std::string first = schema::emit_trust_store(doc);
    std::string second;
    try {
        second = schema::emit_trust_store(schema::parse_trust_store(first, "emitted.yaml"));
    } catch (const Error& e) {
        std::fprintf(stderr, "emitted trust store:\n%s\nerror: %s\n", first.c_str(), e.what());
        fuzz::finding("emit_trust_store(parse_trust_store(x)) does not parse");
    }
    if (first != second) {
        std::fprintf(stderr, "first emit:\n%s\nsecond emit:\n%s\n", first.c_str(), second.c_str());
        fuzz::finding("emit_trust_store does not round-trip");
    }
}

} // namespace

FERRY_FUZZ_TARGET(trust) {
    const std::string_view text = ferry::fuzz::as_text(data, size);
    ferry::fuzz::expect_errors([&] { check_store(ferry::keys::parse_trust_store(text, "trust.yaml")); });
    ferry::fuzz::expect_errors([&] { check_round_trip(text); });
    return 0;
}
