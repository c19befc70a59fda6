#include "site.hpp"

#include "applier/node/receipt.hpp"
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
    : lock(options.state_dir), state(options.state_dir), root(options.root), node_key(open_node_key(state.layout())),
      m_records_at_open(state.audit_count()) {
    remove_leftover_staging(state);
}

Site::~Site() {
    try {
        write_receipt();
    } catch (...) {
        // The command is failing already: its own error is the one to report.
    }
}

void Site::write_receipt() {
    const std::int64_t records = state.audit_count();
    if (records > m_records_at_open) {
        (void)applier::write_receipt(state, node_key);
        m_records_at_open = records;
    }
}

std::vector<SigningKey> counted_keys(const keys::Authentication& auth) {
    std::vector<SigningKey> out;
    for (const auto& s : auth.signatures) {
        if (s.status == keys::SignatureCheck::Status::valid) {
            out.push_back({s.key_id, s.key_name});
        }
    }
    return out;
}

BundleFacts facts_of(const keys::BundleInfo& info) {
    BundleFacts f{info.manifest.name, info.manifest.version.str(), to_hex(sha256(info.head.manifest)), {}};
    if (info.auth) {
        f.signing_keys = counted_keys(*info.auth);
    }
    return f;
}

BundleFacts run_facts(StateDb& state, std::int64_t run) {
    for (const auto& r : state.runs()) {
        if (r.id == run) {
            return {r.name, r.version, to_hex(sha256(state.run_manifest(run))), state.run_signing_keys(run)};
        }
    }
    return {};
}

void write_signing_keys(JsonWriter& j, const std::vector<SigningKey>& keys) {
    j.key("signing_keys").begin_array();
    for (const auto& k : keys) {
        j.begin_object().field("id", k.id).field("name", k.name).end_object();
    }
    j.end_array();
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

void record(StateDb& state, const std::string& action, std::int64_t run, const BundleFacts& bundle,
            const std::string& detail) {
    JsonWriter j;
    j.begin_object()
        .field("run", run)
        .field("bundle", bundle.name)
        .field("version", bundle.version)
        .field("manifest_sha256", bundle.manifest_sha256);
    write_signing_keys(j, bundle.signing_keys);
    j.field("detail", detail);
    state.audit(action, j);
}

} // namespace ferry::applier
