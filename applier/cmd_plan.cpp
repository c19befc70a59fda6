#include "applier/commands.hpp"
#include "applier/command.hpp"
#include "applier/envfile.hpp"
#include "applier/plan.hpp"
#include "applier/staging.hpp"

#include "core/cli.hpp"
#include "core/defaults.hpp"
#include "core/error.hpp"
#include "core/fs.hpp"
#include "core/json.hpp"
#include "keys/bundle.hpp"

#include <cstdio>
#include <cstdlib>
#include <memory>

namespace ferry::applier {

namespace fs = std::filesystem;

namespace {

// A scratch folder removed when destroyed.
struct TempDir {
    TempDir() {
        std::string tmpl = (fs::temp_directory_path() / "ferry-plan-XXXXXX").string();
        if (::mkdtemp(tmpl.data()) == nullptr) {
            throw_errno("creating a temporary folder");
        }
        path = tmpl;
    }
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(path, ec);
    }
    fs::path path;
};

std::string unified_diff(const TempDir& tmp, const std::string& dest, const std::string& installed, const std::string& fresh) {
    write_file_atomic(tmp.path / "a", installed);
    write_file_atomic(tmp.path / "b", fresh);
    const fs::path log = tmp.path / "diff.out";
    fs::remove(log);
    (void)run_command({{"diff", "-u", "--label", "installed " + dest, "--label", "bundle " + dest,
                        (tmp.path / "a").string(), (tmp.path / "b").string()},
                       std::chrono::seconds(10), {}, log});
    return read_file(log);
}

const std::vector<std::pair<std::string, bool>> k_checklist = {
    {"signatures meet the trust store's threshold; the bundle is not expired", true},
    {"every chunk and file matches the signed manifest", true},
    {"the bundle is for this product and channel, not older than what was applied", true},
    {"the installed version may be upgraded by this bundle (patch, minor; major needs --allow-major)", true},
    {"enough disk space for staging and backups", true},
    {"replaced files and SQLite databases are backed up (databases checked with integrity_check)", true},
    {"automatic rollback if any step after the stop hook fails", true},
    {"read the release notes and breaking changes below", false},
    {"schedule a maintenance window and notify stakeholders (the service stops during the upgrade)", false},
    {"try the upgrade on a staging node first", false},
    {"drain traffic from this node if it sits behind a load balancer", false},
    {"keep the previous bundle's media, and know the rollback: `ferry-applier rollback`", false},
};

} // namespace

void setup_plan(CLI::App& app) {
    struct Args {
        std::string bundle;
        std::string trust = k_default_trust_store;
        fs::path root = "/";
        fs::path state_dir = k_default_state_dir;
        PolicyOptions policy;
        bool json = false;
    };
    auto args = std::make_shared<Args>();
    CLI::App* cmd = app.add_subcommand("plan", "Show what apply would do, changing nothing");
    cmd->add_option("bundle", args->bundle, "The .ferry bundle")->required();
    cmd->add_option("--trust", args->trust, "Trust store (default " + std::string(k_default_trust_store) + ", the node's own)");
    cmd->add_option("--root", args->root, "Install root (default /)")->check(CLI::ExistingDirectory);
    cmd->add_option("--state-dir", args->state_dir, "The applier's state folder (default " + std::string(k_default_state_dir) + ")");
    cmd->add_flag("--allow-downgrade", args->policy.allow_downgrade, "As apply would be given it");
    cmd->add_flag("--allow-major", args->policy.allow_major, "As apply would be given it");
    cmd->add_flag("--ack-breaking", args->policy.ack_breaking, "As apply would be given it");
    cmd->add_flag("--json", args->json, "Print JSON");
    set_action(*cmd, [args] {
        const keys::TrustStore trust = keys::load_trust_store(args->trust);
        const RootFs root(args->root);
        // A site without state is planned against an empty, temporary one: plan writes nothing.
        const TempDir tmp;
        const bool have_state = fs::exists(args->state_dir / "state.db");
        StateDb state(have_state ? args->state_dir : tmp.path / "state");
        std::map<std::string, std::string> configs;
        std::optional<Plan> plan;
        CaptureSink sink(configs);
        keys::VerifyOptions verify;
        verify.now = now();
        verify.progress = !args->json;
        verify.sink = &sink;
        verify.before_payload = [&](const keys::BundleInfo& info) {
            plan = make_plan(info.manifest, state, root, args->policy, args->state_dir);
            for (const auto& a : plan->files) {
                if (a.role == "config") {
                    configs[a.path];
                }
            }
        };
        const keys::VerifiedBundle v = keys::verify_bundle(args->bundle, trust, verify);
        const schema::Manifest& m = v.info.manifest;
        std::map<std::string, std::string> diffs;
        for (const auto& a : plan->files) {
            if (a.role == "config" && a.kind != FileAction::Kind::create && a.kind != FileAction::Kind::unchanged) {
                const std::string dest = a.kind == FileAction::Kind::keep_site ? a.dest.substr(0, a.dest.size() - 10) : a.dest;
                const std::string installed = root.read(dest).value_or("");
                // For merge-env, what will be installed is the merge, not the bundle's file.
                const std::string fresh = a.kind == FileAction::Kind::merge_env ? merge_env(installed, configs[a.path]).text
                                                                                : configs[a.path];
                diffs[dest] = unified_diff(tmp, dest, installed, fresh);
            }
        }
        // As apply would end: refused (4) unless there is nothing to do, so `plan && apply` scripts.
        const bool refused = !plan->already_installed && !plan->refusals.empty();
        const int code = refused ? exit_code(ErrorKind::policy) : 0;
        if (args->json) {
            JsonWriter j;
            j.begin_object()
                .field("result", plan->already_installed ? "already_installed" : (refused ? "refused" : "ok"))
                .field("bundle", m.name).field("from", plan->from_version).field("to", plan->to_version)
                .field("sequence", m.sequence).field("already_installed", plan->already_installed)
                .field("ok", plan->refusals.empty());
            j.key("refusals").begin_array();
            for (const auto& r : plan->refusals) {
                j.value(r);
            }
            j.end_array().key("files").begin_array();
            for (const auto& a : plan->files) {
                j.begin_object().field("action", action_word(a.kind)).field("dest", a.dest).field("role", a.role)
                    .field("size", a.size).field("note", a.note).end_object();
            }
            j.end_array().key("diffs").begin_object();
            for (const auto& [dest, d] : diffs) {
                j.field(dest, d);
            }
            j.end_object().key("pending_migrations").begin_array();
            for (const auto& id : plan->pending_migrations) {
                j.value(id);
            }
            j.end_array().key("backups").begin_array();
            for (const auto& b : plan->backups) {
                j.value(b);
            }
            j.end_array().field("space_needed", plan->stage_bytes + plan->backup_bytes).field("space_free", plan->free_bytes);
            j.key("breaking_changes").begin_array();
            for (const auto& b : m.breaking_changes) {
                j.value(b);
            }
            j.end_array().field("release_notes", m.release_notes).end_object();
            std::fputs(j.str().c_str(), stdout);
            return code;
        }
        std::printf("plan: %s %s -> %s (sequence %llu)%s\n", m.name.c_str(),
                    plan->from_version.empty() ? "(nothing installed)" : plan->from_version.c_str(),
                    plan->to_version.c_str(), static_cast<unsigned long long>(m.sequence),
                    plan->already_installed ? "  [already installed: apply has nothing to do]" : "");
        if (plan->refusals.empty()) {
            std::printf("\npolicy: ok, apply may proceed\n");
        } else {
            std::printf("\npolicy: apply would be REFUSED:\n");
            for (const auto& r : plan->refusals) {
                std::printf("  - %s\n", r.c_str());
            }
        }
        std::printf("\nfiles (under %s):\n", args->root.string().c_str());
        for (const auto& a : plan->files) {
            std::printf("  %-12s %s%s\n", action_word(a.kind).c_str(), a.dest.c_str(), a.note.empty() ? "" : ("  (" + a.note + ")").c_str());
        }
        for (const auto& [dest, d] : diffs) {
            std::printf("\n%s", d.c_str());
        }
        std::printf("\nmigrations: %zu pending%s\n", plan->pending_migrations.size(),
                    plan->database.empty() ? "" : (" in " + plan->database).c_str());
        for (const auto& id : plan->pending_migrations) {
            std::printf("  %s\n", id.c_str());
        }
        std::printf("\nbackups:\n");
        for (const auto& b : plan->backups) {
            std::printf("  %s\n", b.c_str());
        }
        std::printf("\ndisk: needs %llu MiB for staging and backups, %llu MiB free\n",
                    static_cast<unsigned long long>((plan->stage_bytes + plan->backup_bytes) >> 20),
                    static_cast<unsigned long long>(plan->free_bytes >> 20));
        std::printf("\nchecklist:\n");
        for (const auto& [item, automatic] : k_checklist) {
            std::printf("  [%s] %s\n", automatic ? "auto" : "you ", item.c_str());
        }
        std::printf("\nbreaking changes:%s\n", m.breaking_changes.empty() ? " none" : "");
        for (const auto& b : m.breaking_changes) {
            std::printf("  - %s\n", b.c_str());
        }
        std::printf("\nrelease notes:\n%s\n", m.release_notes.c_str());
        return code;
    });
}

} // namespace ferry::applier
