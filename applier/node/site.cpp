#include "site.hpp"

#include "core/error.hpp"
#include "core/json.hpp"
#include "core/sha256.hpp"

namespace ferry::applier {

namespace fs = std::filesystem;

namespace {

// Removes staging folders that only a crash between commit and cleanup can leave behind.
void remove_leftover_staging(StateDb& state) {
    for (const auto& r : state.runs()) {
        if (r.state != RunState::running) {
            fs::remove_all(state.layout().staging(r.id));
        }
    }
}

} // namespace

const SiteOptions& existing_node(const SiteOptions& options) {
    const fs::path database = StateLayout(options.state_dir).database();
    if (!fs::exists(database)) {
        throw Error(ErrorKind::usage,
                    database.string() + ": no state database: nothing was ever applied here",
                    "check --state-dir (the default is /var/lib/ferry)");
    }
    return options;
}

Site::Site(const SiteOptions& options)
    : lock(options.state_dir), state(options.state_dir), root(options.root) {
    remove_leftover_staging(state);
}

// A bundle with the installed name, version and sequence is "nothing to do" only when its
// manifest is byte for byte the installed one; any other is refused.
void refuse_if_another_manifest(Plan& plan, StateDb& state, const std::string& manifest) {
    const auto installed = state.installed();
    const std::string installed_hash = to_hex(sha256(installed->manifest));
    const std::string bundle_hash = to_hex(sha256(manifest));
    if (installed_hash != bundle_hash) {
        plan.refusals.push_back(
            plan.name + " " + plan.to_version + " (sequence " + std::to_string(plan.sequence) +
            ") is installed from another manifest (sha256 " + installed_hash +
            "); this bundle's manifest is sha256 " + bundle_hash +
            ": one release was built twice; ask the release team which is genuine");
    }
}

void record(StateDb& state, const std::string& action, std::int64_t run, const std::string& name,
            const std::string& version, const std::string& detail) {
    JsonWriter j;
    j.begin_object()
        .field("run", run)
        .field("bundle", name)
        .field("version", version)
        .field("detail", detail)
        .end_object();
    state.audit(action, j.str());
}

} // namespace ferry::applier
