#include "applier/commands.hpp"
#include "applier/node/node_trust.hpp"
#include "applier/node/receipt.hpp"

#include "core/cli/cli.hpp"
#include "core/defaults.hpp"
#include "core/json.hpp"
#include "core/sha256.hpp"
#include "keys/key_file.hpp"
#include "keys/trust_store.hpp"

#include <algorithm>
#include <cstdio>
#include <memory>

namespace ferry::applier {

namespace {

void add_site_options(CLI::App* cmd, SiteOptions& site) {
    cmd->add_option("--root", site.root,
                    "Install root: the node's trust store is " + std::string(k_default_trust_store) + " below it (default /)")
        ->check(CLI::ExistingDirectory);
    cmd->add_option("--state-dir", site.state_dir,
                    "The applier's state folder, whose audit log records the change (default " +
                        std::string(k_default_state_dir) + ")");
}

// The node's own key, which signs its receipts, as trust show prints it.
struct NodeKeyView {
    std::filesystem::path file; // the public key file
    std::optional<keys::PublicKey> key;
};

void print_show_json(const keys::TrustStore& store, const std::string& path, UnixTime t, const NodeKeyView& node) {
    JsonWriter j;
    const Limits& l = store.limits;
    j.begin_object().field("result", "shown").field("trust_store", path).field("version", store.version);
    j.key("thresholds").begin_object();
    for (const auto role : schema::k_trust_roles) {
        j.field(schema::role_name(role), store.thresholds.of(role));
    }
    j.end_object();
    j.key("limits").begin_object().field("manifest_bytes", l.manifest_bytes).field("files", l.files)
        .field("file_bytes", l.file_bytes).field("total_bytes", l.total_bytes).field("window_log", l.window_log)
        .field("path_bytes", l.path_bytes).end_object();
    j.key("keys").begin_array();
    for (const auto& k : store.keys) {
        j.begin_object().field("name", k.name).field("id", keys::key_id_hex(k.key.id)).key("roles").begin_array();
        for (const auto role : k.roles) {
            j.value(schema::role_name(role));
        }
        j.end_array().field("expires", format_time(k.expires)).field("expired", k.expires <= t).end_object();
    }
    j.end_array().key("node_key");
    if (node.key) {
        j.begin_object().field("id", keys::key_id_hex(node.key->id)).field("public_key", keys::public_key_base64(*node.key))
            .field("file", node.file.string()).end_object();
    } else {
        j.null();
    }
    j.end_object();
    std::fputs(j.str().c_str(), stdout);
}

void print_show_text(const keys::TrustStore& store, const std::string& path, UnixTime t, const NodeKeyView& node) {
    std::printf("trust store: %s, version %llu\n", path.c_str(), static_cast<unsigned long long>(store.version));
    for (const auto role : schema::k_trust_roles) {
        const auto holders = std::count_if(store.keys.begin(), store.keys.end(), [&](const auto& k) { return k.has(role); });
        std::printf("threshold %-8s %llu of %zu %s keys (%s)\n", (std::string(schema::role_name(role)) + ":").c_str(),
                    static_cast<unsigned long long>(store.thresholds.of(role)), static_cast<std::size_t>(holders),
                    std::string(schema::role_name(role)).c_str(),
                    role == schema::TrustRole::release ? "sign software bundles" : "sign trust store changes");
    }
    const Limits& l = store.limits;
    std::printf("limits: manifest %llu bytes, %llu files, %llu bytes per file, %llu bytes in all, "
                "zstd window 2^%d, paths %llu bytes\n",
                static_cast<unsigned long long>(l.manifest_bytes), static_cast<unsigned long long>(l.files),
                static_cast<unsigned long long>(l.file_bytes), static_cast<unsigned long long>(l.total_bytes),
                l.window_log, static_cast<unsigned long long>(l.path_bytes));
    std::printf("keys:\n");
    for (const auto& k : store.keys) {
        std::printf("  %s  %-24s %-16s expires %s%s\n", keys::key_id_hex(k.key.id).c_str(), k.name.c_str(),
                    ("[" + keys::roles_text(k.roles) + "]").c_str(), format_time(k.expires).c_str(),
                    k.expires <= t ? "  (EXPIRED)" : "");
    }
    if (!node.key) {
        std::printf("node key: none yet (made in %s by the node's first trust init, stage or apply)\n",
                    node.file.parent_path().c_str());
        return;
    }
    std::printf("node key: %s (%s), signs this node's receipts:\n%s", keys::key_id_hex(node.key->id).c_str(),
                node.file.c_str(), keys::format_public_key_file(*node.key, "node").c_str());
}

int print_change(const TrustChange& c, const char* result, bool json) {
    if (json) {
        JsonWriter j;
        j.begin_object().field("result", result).field("trust_store", c.path.string()).field("from_version", c.from_version)
            .field("version", c.version).field("sha256", c.sha256).key("signed_by").begin_array();
        for (const auto& k : c.signing_keys) {
            j.value(k.id + " (" + k.name + ")");
        }
        j.end_array().end_object();
        std::fputs(j.str().c_str(), stdout);
        return 0;
    }
    if (c.from_version == 0) {
        std::printf("installed trust store version %llu as %s (sha256 %s)\n", static_cast<unsigned long long>(c.version),
                    c.path.c_str(), c.sha256.c_str());
    } else {
        std::string signers;
        for (const auto& k : c.signing_keys) {
            signers += (signers.empty() ? "" : ", ") + k.id + " (" + k.name + ")";
        }
        std::printf("updated trust store %s from version %llu to %llu (sha256 %s), signed by %s\n", c.path.c_str(),
                    static_cast<unsigned long long>(c.from_version), static_cast<unsigned long long>(c.version),
                    c.sha256.c_str(), signers.c_str());
    }
    return 0;
}

} // namespace

void setup_trust(CLI::App& app) {
    CLI::App* trust = app.add_subcommand("trust", "Install, show and update the node's own trust store");
    trust->require_subcommand(1);

    struct ShowArgs {
        std::filesystem::path path;
        std::filesystem::path root = "/";
        std::filesystem::path state_dir = k_default_state_dir;
        bool json = false;
    };
    auto show_args = std::make_shared<ShowArgs>();
    CLI::App* show = trust->add_subcommand("show", "List the trust store's version, thresholds, keys, roles and expiry");
    show->add_option("--trust", show_args->path,
                     "Trust store (default " + std::string(k_default_trust_store) + " below --root, the node's own)");
    show->add_option("--root", show_args->root, "Install root (default /)")->check(CLI::ExistingDirectory);
    show->add_option("--state-dir", show_args->state_dir,
                     "The applier's state folder, which holds the node's own key (default " +
                         std::string(k_default_state_dir) + ")");
    show->add_flag("--json", show_args->json, "Print JSON");
    set_action(*show, [show_args] {
        const keys::TrustStore store = load_site_trust(show_args->path, show_args->root);
        const std::string path = (show_args->path.empty() ? node_trust_store(show_args->root) : show_args->path).string();
        const StateLayout layout(show_args->state_dir);
        const NodeKeyView node{layout.node_public_key(), node_public_key(layout)};
        if (show_args->json) {
            print_show_json(store, path, now(), node);
        } else {
            print_show_text(store, path, now(), node);
        }
        return 0;
    });

    struct ChangeArgs {
        SiteOptions site;
        std::filesystem::path input;
        bool json = false;
    };
    auto init_args = std::make_shared<ChangeArgs>();
    CLI::App* init = trust->add_subcommand(
        "init", "Install FILE as the node's trust store, once (refused if the node has one); logged");
    init->add_option("file", init_args->input, "The site's trust store (trust.yaml)")->required();
    add_site_options(init, init_args->site);
    init->add_flag("--json", init_args->json, "Print the outcome as JSON");
    set_action(*init, [init_args] { return print_change(init_trust(init_args->site, init_args->input), "installed", init_args->json); });

    auto update_args = std::make_shared<ChangeArgs>();
    CLI::App* update = trust->add_subcommand(
        "update", "Replace the node's trust store by a trust bundle's, signed by the trust keys of both stores; logged");
    update->add_option("bundle", update_args->input, "The trust bundle (trust-vN.ferry)")->required();
    add_site_options(update, update_args->site);
    update->add_flag("--json", update_args->json, "Print the outcome as JSON");
    set_action(*update, [update_args] {
        return print_change(update_trust(update_args->site, update_args->input), "updated", update_args->json);
    });
}

} // namespace ferry::applier
