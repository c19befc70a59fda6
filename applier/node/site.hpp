#pragma once

// The node as a command sees it: the lock, the state database and the install root, opened
// one way by every command that changes the node, and what they share.

#include "applier/node/plan.hpp"
#include "applier/node/rootfs.hpp"
#include "applier/state/lock.hpp"
#include "applier/state/state.hpp"
#include "core/defaults.hpp"

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
// root. Opening it removes staging folders only a crash between commit and cleanup leaves.
struct Site {
    explicit Site(const SiteOptions& options);
    StateLock lock;
    StateDb state;
    RootFs root;
};

// Refuses (adds to PLAN's refusals) a bundle with the installed name, version and sequence
// whose MANIFEST is not byte for byte the installed one: "nothing to do" is for that one only.
void refuse_if_another_manifest(Plan& plan, StateDb& state, const std::string& manifest);

// Appends an audit record of ACTION on bundle NAME VERSION (RUN 0: no run).
void record(StateDb& state, const std::string& action, std::int64_t run, const std::string& name,
            const std::string& version, const std::string& detail);

} // namespace ferry::applier
