// Fuzz target: keys::parse_signature, a minisign signature file.
//
// Oracle, besides "no crash, only ferry::Error": the parser accepts exactly the layout
// format_signature writes, so an accepted file formats back to the same bytes; and checking
// the signature against a key must not crash whatever it says.

#include "fuzz.hpp"

#include "keys/signature.hpp"

#include <string>

namespace {

using namespace ferry;

void check_signature(std::string_view text) {
    const keys::Signature sig = keys::parse_signature(text, "KEYID.minisig");
    const std::string again = keys::format_signature(sig);
    if (again != text) {
        std::fprintf(stderr, "formatted back:\n%s\n", again.c_str());
        fuzz::finding("format_signature(parse_signature(x)) != x");
    }
    fuzz::check(keys::parse_signature(again, "again.minisig") == sig,
                "parse_signature(format_signature(s)) != s");
    // Ed25519 over arbitrary data must simply fail to verify (the key is not the signer's).
    keys::PublicKey key;
    key.id = sig.id;
    key.key.fill(0x42);
    const std::string message = "manifest";
    (void)keys::verify_signature(
        key, sig, {reinterpret_cast<const std::uint8_t*>(message.data()), message.size()});
}

} // namespace

FERRY_FUZZ_TARGET(signature) {
    ferry::fuzz::expect_errors([&] { check_signature(ferry::fuzz::as_text(data, size)); });
    return 0;
}
