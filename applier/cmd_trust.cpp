#include "applier/commands.hpp"

#include "core/cli/cli.hpp"
#include "core/defaults.hpp"
#include "core/json.hpp"
#include "keys/trust_store.hpp"

#include <cstdio>
#include <memory>

namespace ferry::applier {

void setup_trust(CLI::App& app) {
    auto path = std::make_shared<std::string>(k_default_trust_store);
    auto json = std::make_shared<bool>(false);
    CLI::App* trust = app.add_subcommand("trust", "Show the site's trust store");
    trust->require_subcommand(1);
    CLI::App* show = trust->add_subcommand("show", "List trusted keys and the threshold");
    show->add_option("--trust", *path, "Trust store (default " + std::string(k_default_trust_store) + ", the node's own)");
    show->add_flag("--json", *json, "Print JSON");
    set_action(*show, [path, json] {
        const keys::TrustStore store = keys::load_trust_store(*path);
        const UnixTime t = now();
        if (*json) {
            JsonWriter j;
            const Limits& l = store.limits;
            j.begin_object().field("result", "shown").field("threshold", store.threshold);
            j.key("limits").begin_object().field("manifest_bytes", l.manifest_bytes).field("files", l.files)
                .field("file_bytes", l.file_bytes).field("total_bytes", l.total_bytes).field("window_log", l.window_log)
                .field("path_bytes", l.path_bytes).end_object();
            j.key("keys").begin_array();
            for (const auto& k : store.keys) {
                j.begin_object().field("name", k.name).field("id", keys::key_id_hex(k.key.id))
                    .field("expires", format_time(k.expires)).field("expired", k.expires <= t).end_object();
            }
            j.end_array().end_object();
            std::fputs(j.str().c_str(), stdout);
            return 0;
        }
        std::printf("threshold: %llu of %zu keys\n", static_cast<unsigned long long>(store.threshold),
                    store.keys.size());
        const Limits& l = store.limits;
        std::printf("limits: manifest %llu bytes, %llu files, %llu bytes per file, %llu bytes in all, "
                    "zstd window 2^%d, paths %llu bytes\n",
                    static_cast<unsigned long long>(l.manifest_bytes), static_cast<unsigned long long>(l.files),
                    static_cast<unsigned long long>(l.file_bytes), static_cast<unsigned long long>(l.total_bytes),
                    l.window_log, static_cast<unsigned long long>(l.path_bytes));
        for (const auto& k : store.keys) {
            std::printf("  %s  %-24s expires %s%s\n", keys::key_id_hex(k.key.id).c_str(), k.name.c_str(),
                        format_time(k.expires).c_str(), k.expires <= t ? "  (EXPIRED)" : "");
        }
        return 0;
    });
}

} // namespace ferry::applier
