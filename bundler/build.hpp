#pragma once

// ferry-bundler's work: building a bundle from a spec and co-signing one.

#include "keys/key.hpp"
#include "keys/trust_store.hpp"
#include "manifest-schema/manifest.hpp"

#include <filesystem>
#include <vector>

namespace ferry::bundler {

struct BuildOptions {
    std::filesystem::path spec;
    std::vector<std::filesystem::path> keys;
    std::filesystem::path out_dir = ".";  // where NAME-VERSION.ferry goes, unless output is set
    std::filesystem::path output;         // the bundle's own path; empty: out_dir/NAME-VERSION.ferry
    int level = 3;
    int threads = 0; // 0: one per core
    bool force = false;
    bool progress = true;
    bool unsigned_bundle = false; // no key: for offline signing (sign, or manifest and attach)
    // The self-check: each frame decompressed again and the tar read back as it is written,
    // then the signatures, manifest and chunks read back from the file. Off only for trials.
    bool self_check = true;
};

struct BuildResult {
    std::filesystem::path bundle;
    schema::Manifest manifest;
    std::vector<std::string> signers; // key ids, in the order the keys were given
};

// Loads the secret key at PATH, asking for its passphrase when it has one.
[[nodiscard]] keys::SecretKey load_key(const std::filesystem::path& path);

// Builds NAME-VERSION.ferry (or OPTIONS.output) from a spec, signs it with every key, verifies the result and only
// then renames it into place: a failure or Ctrl-C leaves no bundle and no temp file.
[[nodiscard]] BuildResult build_bundle(const BuildOptions& options);

// What a rebuild found.
struct RebuildCheck {
    std::filesystem::path bundle;
    std::uint64_t size = 0;
    bool identical = false;
    bool rebuilt_manifest_identical = false;
    std::vector<std::string> differences; // where the rebuild differs, for people
};

// Rebuilds the spec of OPTIONS as BUNDLE was built (its creation time, its signatures carried
// over) into a temporary file that is removed, and compares the two byte for byte: the
// signatures, which cover the manifest, then hold for the rebuild too. Writes nothing else.
[[nodiscard]] RebuildCheck check_rebuild(const BuildOptions& options, const std::filesystem::path& bundle);

// Adds a signature by KEY to BUNDLE without recompressing its payload; writes OUT (BUNDLE when
// empty) atomically after verifying the new signature and the payload.
[[nodiscard]] std::string sign_bundle(const std::filesystem::path& bundle, const std::filesystem::path& key,
                                      const std::filesystem::path& out, bool progress);

// The exact bytes of BUNDLE's manifest.yaml, which its signatures cover: what an offline
// signing station signs (`minisign -S -l`, or `ferry-bundler sign --detached`).
[[nodiscard]] std::string manifest_bytes(const std::filesystem::path& bundle);

// Signs FILE (a manifest carried to an offline signing station) with KEY as minisign -S -l
// does, writing the signature to OUT (FILE.minisig when empty); returns the key id.
[[nodiscard]] std::string sign_detached(const std::filesystem::path& file, const std::filesystem::path& key,
                                        const std::filesystem::path& out);

struct AttachResult {
    std::string key_id;
    std::string key_name; // when found in a trust store
    std::string trusted_comment;
};

// Adds SIGNATURE_FILE, a minisign signature (legacy Ed25519) of BUNDLE's manifest, after
// checking it with PUB, or with the key of TRUST that made it; writes OUT (BUNDLE when empty)
// atomically, the payload copied byte for byte.
[[nodiscard]] AttachResult attach_signature(const std::filesystem::path& bundle, const std::filesystem::path& signature_file,
                                            const keys::PublicKey* pub, const keys::TrustStore* trust,
                                            const std::filesystem::path& out, bool progress);

} // namespace ferry::bundler
