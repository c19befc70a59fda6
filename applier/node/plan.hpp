#pragma once

// What an apply would do, worked out without changing anything: the policy checks
// (compatibility, sequence, upgrade path, breaking changes, disk space) and each file's fate.

#include "applier/node/rootfs.hpp"
#include "applier/state/state.hpp"
#include "manifest-schema/manifest.hpp"

#include <optional>
#include <string>
#include <vector>

namespace ferry::applier {

struct PolicyOptions {
    bool allow_downgrade = false;
    bool allow_major = false;
    bool ack_breaking = false;
};

// What happens to one installed path.
struct FileAction {
    enum class Kind { create, replace, unchanged, keep_site, merge_env, remove };
    Kind kind = Kind::create;
    std::string dest;    // where it goes (for keep_site: the .ferry-new path beside it)
    std::string path;    // payload path; empty for remove
    std::string role;
    std::string config_mode;
    unsigned mode = 0;
    std::uint64_t size = 0;
    std::string sha256;
    std::string note;    // e.g. the keys a merge adds and drops
};

struct Plan {
    std::string name;
    std::string from_version; // empty when nothing is installed
    std::string to_version;
    std::uint64_t sequence = 0;
    bool already_installed = false;
    std::vector<std::string> refusals;  // policy problems; apply stops at the first
    std::vector<FileAction> files;
    std::vector<std::string> pending_migrations;
    std::vector<std::string> applied_migrations;
    std::string database;               // host path of the migrated database, if any
    std::vector<std::string> backups;   // what will be backed up
    std::uint64_t stage_bytes = 0;
    std::uint64_t backup_bytes = 0;
    std::uint64_t free_bytes = 0;       // on the state folder's file system
    std::vector<std::string> image_loads;
};

// Works out the plan for manifest M at this site. Reads the root and the state, writes nothing.
// Free space is measured where SPACE_DIR (the state folder, or its nearest existing parent) is.
[[nodiscard]] Plan make_plan(const schema::Manifest& m, StateDb& state, const RootFs& root,
                             const PolicyOptions& options, const std::filesystem::path& space_dir);

// Why this ferry-applier is older than M's min_applier_version allows, or nullopt.
[[nodiscard]] std::optional<std::string> applier_too_old(const schema::Manifest& m);

// Throws a policy Error for the plan's first refusal, if any.
void enforce(const Plan& plan);

// A short word for an action ("new", "replace", ...).
[[nodiscard]] std::string action_word(FileAction::Kind kind);

} // namespace ferry::applier
