#include "applier/commands.hpp"
#include "applier/node/plan_report.hpp"

#include "core/cli/cli.hpp"
#include "core/defaults.hpp"
#include "core/error.hpp"
#include "core/json.hpp"

#include <cstdio>
#include <memory>

namespace ferry::applier {

namespace {

std::string join(const std::vector<std::string>& argv) {
    std::string out;
    for (const auto& a : argv) {
        out += (out.empty() ? "" : " ") + a;
    }
    return out;
}

void commands_json(JsonWriter& j, const std::string& key,
                   const std::vector<PlannedCommand>& commands, bool with_retries = false) {
    j.key(key).begin_array();
    for (const auto& c : commands) {
        j.begin_object().field("name", c.name).key("command").begin_array();
        for (const auto& a : c.argv) {
            j.value(a);
        }
        j.end_array();
        if (with_retries) {
            j.field("retries", c.retries);
        }
        j.end_object();
    }
    j.end_array();
}

void print_json(const PlanReport& r) {
    const Plan& plan = r.plan;
    JsonWriter j;
    j.begin_object()
        .field("result", plan_result_name(r.result))
        .field("bundle", r.bundle_name)
        .field("from", plan.from_version)
        .field("to", plan.to_version)
        .field("sequence", r.sequence)
        .field("already_installed", plan.already_installed)
        .field("ok", plan.refusals.empty());
    j.key("refusals").begin_array();
    for (const auto& refusal : plan.refusals) {
        j.value(refusal);
    }
    j.end_array().key("files").begin_array();
    for (const auto& a : plan.files) {
        j.begin_object()
            .field("action", action_word(a.kind))
            .field("dest", a.dest)
            .field("role", a.role)
            .field("size", a.size)
            .field("note", a.note)
            .end_object();
    }
    j.end_array().key("diffs").begin_object();
    for (const auto& [dest, d] : r.diffs) {
        j.field(dest, d);
    }
    j.end_object();
    commands_json(j, "hooks", r.hooks);
    commands_json(j, "health", r.health, true);
    commands_json(j, "smoke", r.smoke);
    commands_json(j, "image_loads", r.image_loads);
    j.field("image_target", r.image_target).key("images").begin_array();
    for (const auto& i : r.images) {
        j.begin_object()
            .field("file", i.file)
            .field("ref", i.ref)
            .field("digest", i.digest)
            .field("config", i.config)
            .field("to", i.destination)
            .field("present", i.present)
            .field("detail", i.detail)
            .end_object();
    }
    j.end_array();
    j.key("pending_migrations").begin_array();
    for (const auto& id : plan.pending_migrations) {
        j.value(id);
    }
    j.end_array().key("backups").begin_array();
    for (const auto& b : plan.backups) {
        j.value(b);
    }
    j.end_array()
        .field("space_needed", plan.stage_bytes + plan.backup_bytes)
        .field("space_free", plan.free_bytes);
    j.key("checklist").begin_array();
    for (const auto& item : r.checklist) {
        j.begin_object().field("item", item.text).field("automatic", item.automatic).end_object();
    }
    j.end_array().key("breaking_changes").begin_array();
    for (const auto& b : r.breaking_changes) {
        j.value(b);
    }
    j.end_array().field("release_notes", r.release_notes).end_object();
    std::fputs(j.str().c_str(), stdout);
}

void print_commands(const char* title, const std::vector<PlannedCommand>& commands,
                    const char* none) {
    std::printf("\n%s:%s\n", title, commands.empty() ? none : "");
    for (const auto& c : commands) {
        std::printf("  %-14s %s%s\n", printable(c.name).c_str(), printable(join(c.argv)).c_str(),
                    c.retries == 0
                        ? ""
                        : ("  (up to " + std::to_string(c.retries + 1) + " tries)").c_str());
    }
}

void print_text(const PlanReport& r) {
    const Plan& plan = r.plan;
    std::printf("plan: %s %s -> %s (sequence %llu)%s\n", r.bundle_name.c_str(),
                plan.from_version.empty() ? "(nothing installed)" : plan.from_version.c_str(),
                plan.to_version.c_str(), static_cast<unsigned long long>(r.sequence),
                plan.already_installed ? "  [already installed: apply has nothing to do]" : "");
    if (plan.refusals.empty()) {
        std::printf("\npolicy: ok, apply may proceed\n");
    } else {
        std::printf("\npolicy: apply would be REFUSED:\n");
        for (const auto& refusal : plan.refusals) {
            std::printf("  - %s\n", refusal.c_str());
        }
    }
    std::printf("\nfiles (under %s):\n", r.root.c_str());
    for (const auto& a : plan.files) {
        std::printf("  %-12s %s%s\n", action_word(a.kind).c_str(), a.dest.c_str(),
                    a.note.empty() ? "" : ("  (" + a.note + ")").c_str());
    }
    for (const auto& [dest, d] : r.diffs) {
        std::printf("\n%s", d.c_str());
    }
    print_commands("hooks, in the order they run", r.hooks, " none");
    print_commands("health checks", r.health, " none");
    print_commands("smoke checks", r.smoke, " none");
    print_commands("image loads", r.image_loads, " none");
    if (!r.images.empty()) {
        std::printf("\nimages (to the %s):\n", r.image_target.c_str());
        for (const auto& i : r.images) {
            std::printf("  %-24s %s  %s\n", i.ref.c_str(), (i.digest.empty() ? i.config : i.digest).c_str(),
                        i.present ? "already there" : ("to push (" + i.detail + ")").c_str());
        }
    }
    std::printf("\nmigrations: %zu pending%s\n", plan.pending_migrations.size(),
                plan.database.empty() ? "" : (" in " + plan.database).c_str());
    for (const auto& id : plan.pending_migrations) {
        std::printf("  %s\n", id.c_str());
    }
    std::printf("\nbackups:\n");
    for (const auto& b : plan.backups) {
        std::printf("  %s\n", b.c_str());
    }
    std::printf("\ndisk: needs %llu MiB for staging and backups, %llu MiB free\n",
                static_cast<unsigned long long>((plan.stage_bytes + plan.backup_bytes) >> 20),
                static_cast<unsigned long long>(plan.free_bytes >> 20));
    std::printf("\nchecklist:\n");
    for (const auto& item : r.checklist) {
        std::printf("  [%s] %s\n", item.automatic ? "auto" : "you ", item.text.c_str());
    }
    std::printf("\nbreaking changes:%s\n", r.breaking_changes.empty() ? " none" : "");
    for (const auto& b : r.breaking_changes) {
        std::printf("  - %s\n", b.c_str());
    }
    std::printf("\nrelease notes:\n%s\n", r.release_notes.c_str());
}

} // namespace

void setup_plan(CLI::App& app) {
    struct Args {
        PlanRequest request;
        bool json = false;
        std::filesystem::path inventory;
    };
    auto args = std::make_shared<Args>();
    PlanRequest& request = args->request;
    request.state_dir = k_default_state_dir;
    CLI::App* cmd = app.add_subcommand("plan", "Show what apply would do, changing nothing");
    cmd->add_option("bundle", request.bundle, "The .ferry bundle")->required();
    cmd->add_option("--trust", request.trust,
                    "Trust store (default " + std::string(k_default_trust_store) +
                        " below --root, the node's own)");
    cmd->add_option("--root", request.root, "Install root (default /)")
        ->check(CLI::ExistingDirectory);
    cmd->add_option("--state-dir", request.state_dir,
                    "The applier's state folder (default " + std::string(k_default_state_dir) +
                        ")");
    cmd->add_flag("--allow-downgrade", request.policy.allow_downgrade,
                  "As apply would be given it");
    cmd->add_flag("--allow-major", request.policy.allow_major, "As apply would be given it");
    cmd->add_flag("--ack-breaking", request.policy.ack_breaking, "As apply would be given it");
    cmd->add_flag("--json", args->json, "Print JSON");
    cmd->add_option("--inventory", args->inventory,
                    "Plan a rolling upgrade of the inventory's nodes: their state, the order and why");
    CLI::Option* trust_given = cmd->get_option("--trust");
    set_action(*cmd, [args, trust_given] {
        if (!args->inventory.empty()) {
            const InventoryPlanArgs cluster{
                args->inventory, args->request.bundle, args->request.trust,
                node_args(trust_given->count() > 0 ? args->request.trust : std::filesystem::path(), args->request.policy),
                args->json, {}};
            return plan_inventory(cluster);
        }
        args->request.progress = !args->json;
        const PlanReport report = make_plan_report(args->request);
        if (args->json) {
            print_json(report);
        } else {
            print_text(report);
        }
        // As apply would end: refused (4) unless there is nothing to do, so `plan && apply`
        // scripts.
        return exit_code(report.result);
    });
}

} // namespace ferry::applier
