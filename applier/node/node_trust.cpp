#include "node_trust.hpp"

#include "core/defaults.hpp"
#include "core/envelope.hpp"
#include "core/error.hpp"
#include "core/fs.hpp"
#include "core/json.hpp"
#include "core/sha256.hpp"

namespace ferry::applier {

namespace fs = std::filesystem;

namespace {

// The node's trust store as an install path (what RootFs takes).
constexpr const char* k_dest = k_default_trust_store;

void log_change(StateDb& state, const std::string& action, const fs::path& source, const TrustChange& c,
                const std::string& error) {
    JsonWriter j;
    j.begin_object().field("trust_store", c.path.string()).field("source", fs::absolute(source).string());
    j.field("version", c.version).field("sha256", c.sha256).field("detail", error).end_object();
    state.audit(action, j.str());
}

} // namespace

keys::TrustStore load_site_trust(const fs::path& given, const fs::path& root) {
    if (!given.empty()) {
        return keys::load_trust_store(given);
    }
    return keys::load_trust_store(node_trust_store(root), keys::TrustOrigin::node_default);
}

TrustChange init_trust(const SiteOptions& options, const fs::path& file) {
    Site site(options);
    TrustChange change;
    change.path = site.root.host_path(k_dest);
    try {
        if (site.root.exists(k_dest)) {
            const auto current = site.root.read(k_dest, k_max_trust_store_size);
            if (current) {
                change.sha256 = to_hex(sha256(*current));
            }
            throw Error(ErrorKind::policy, change.path.string() + ": the node has a trust store already",
                        "it changes only through a trust bundle: `ferry-applier trust update BUNDLE`");
        }
        const std::string text = read_file(file, k_max_trust_store_size);
        const keys::TrustStore store = keys::parse_trust_store(text, file.string());
        keys::check_thresholds_reachable(store, now(), file.string());
        change.version = store.version;
        change.sha256 = to_hex(sha256(text));
        site.root.install_data(k_dest, text, 0644);
        site.root.sync();
    } catch (const Error& e) {
        log_change(site.state, "trust init refused", file, change, e.what());
        throw;
    }
    log_change(site.state, "trust initialized", file, change, "");
    return change;
}

} // namespace ferry::applier
