#pragma once

// The node as a command sees it: the lock, the state database and the install root, opened
// one way by every command that changes the node, and what they share.

#include "applier/node/plan.hpp"
#include "applier/node/rootfs.hpp"
#include "applier/state/lock.hpp"
#include "applier/state/state.hpp"
#include "core/defaults.hpp"
#include "keys/bundle.hpp"

#include <filesystem>
#include <string>

namespace ferry::applier {

struct SiteOptions {
    std::filesystem::path root = "/";
    std::filesystem::path state_dir = k_default_state_dir;
    bool progress = true;
};

// Refuses a state folder with no state database (resume, rollback and prune never create
// one); returns OPTIONS.
const SiteOptions& existing_node(const SiteOptions& options);

// The node for the length of one command: the lock held throughout, the state, the install
// root and the node's own key (made at first use). Opening it removes staging folders only a
// crash between commit and cleanup leaves.
struct Site {
    explicit Site(const SiteOptions& options);
    // A command that appended audit records and ends without write_receipt() (it failed) still
    // gets its receipt, as far as one can be written.
    ~Site();
    Site(const Site&) = delete;
    Site& operator=(const Site&) = delete;

    // Signs and writes the receipt of the audit records this command appended (none: nothing);
    // called before a command returns its result.
    void write_receipt();

    StateLock lock;
    StateDb state;
    RootFs root;
    keys::SecretKey node_key;

private:
    std::int64_t m_records_at_open = 0;
};

// What a node's audit record says about the bundle it concerns.
struct BundleFacts {
    std::string name;            // the bundle's name, or its file name when it could not be read
    std::string version;
    std::string manifest_sha256; // "" when the manifest could not be read
    std::vector<SigningKey> signing_keys; // the keys that counted toward the threshold
};

// The keys of AUTH that counted toward its threshold.
[[nodiscard]] std::vector<SigningKey> counted_keys(const keys::Authentication& auth);

// The facts of a bundle opened (and authenticated) as INFO.
[[nodiscard]] BundleFacts facts_of(const keys::BundleInfo& info);

// The facts of the bundle recorded RUN applied.
[[nodiscard]] BundleFacts run_facts(StateDb& state, std::int64_t run);

// Writes the keys as the audit records name them: "signing_keys" [{id, name}].
void write_signing_keys(JsonWriter& j, const std::vector<SigningKey>& keys);

// Refuses (adds to PLAN's refusals) a bundle with the installed name, version and sequence
// whose MANIFEST is not byte for byte the installed one: "nothing to do" is for that one only.
void refuse_if_another_manifest(Plan& plan, StateDb& state, const std::string& manifest);

// Appends an audit record of ACTION on BUNDLE (RUN 0: no run), DETAIL saying why or how.
void record(StateDb& state, const std::string& action, std::int64_t run, const BundleFacts& bundle,
            const std::string& detail);

} // namespace ferry::applier
