#include "applier/commands.hpp"

#include "core/cli.hpp"
#include "core/json.hpp"
#include "keys/trust_store.hpp"

#include <cstdio>
#include <memory>

namespace ferry::applier {

void setup_trust(CLI::App& app) {
    auto path = std::make_shared<std::string>();
    auto json = std::make_shared<bool>(false);
    CLI::App* trust = app.add_subcommand("trust", "Show the site's trust store");
    trust->require_subcommand(1);
    CLI::App* show = trust->add_subcommand("show", "List trusted keys and the threshold");
    show->add_option("--trust", *path, "Trust store (trust.yaml)")->required();
    show->add_flag("--json", *json, "Print JSON");
    set_action(*show, [path, json] {
        const keys::TrustStore store = keys::load_trust_store(*path);
        const UnixTime t = now();
        if (*json) {
            JsonWriter j;
            j.begin_object().field("threshold", store.threshold).key("keys").begin_array();
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
        for (const auto& k : store.keys) {
            std::printf("  %s  %-24s expires %s%s\n", keys::key_id_hex(k.key.id).c_str(), k.name.c_str(),
                        format_time(k.expires).c_str(), k.expires <= t ? "  (EXPIRED)" : "");
        }
        return 0;
    });
}

} // namespace ferry::applier
