#include "plan_report.hpp"

#include "applier/node/command.hpp"
#include "applier/node/envfile.hpp"
#include "applier/node/image_target.hpp"
#include "applier/node/node_trust.hpp"
#include "applier/node/staging.hpp"
#include "core/error.hpp"
#include "core/fs.hpp"
#include "keys/bundle.hpp"

#include <cstdlib>

namespace ferry::applier {

namespace fs = std::filesystem;

namespace {

// A scratch folder removed when destroyed.
// The last line of TEXT, without its newline.
std::string last_line(std::string text) {
    while (!text.empty() && text.back() == '\n') {
        text.pop_back();
    }
    const auto nl = text.rfind('\n');
    return nl == std::string::npos ? text : text.substr(nl + 1);
}

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
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    fs::path path;
};

std::string unified_diff(const TempDir& tmp, const std::string& dest, const std::string& installed,
                         const std::string& fresh) {
    write_file_atomic(tmp.path / "a", installed);
    write_file_atomic(tmp.path / "b", fresh);
    const fs::path log = tmp.path / "diff.out";
    fs::remove(log);
    (void)run_command({{"diff", "-u", "--label", "installed " + dest, "--label", "bundle " + dest,
                        (tmp.path / "a").string(), (tmp.path / "b").string()},
                       std::chrono::seconds(10),
                       {},
                       log,
                       {}});
    return read_file(log);
}

// The diff of each configuration file apply changes in place. A kept file (keep_site) does
// not change: the new one goes beside it, which the action's note says; nor does a merge
// that adds nothing.
std::map<std::string, std::string> config_diffs(const Plan& plan, const RootFs& root,
                                                const std::map<std::string, std::string>& configs,
                                                const TempDir& tmp) {
    std::map<std::string, std::string> diffs;
    for (const auto& a : plan.files) {
        if (a.role != "config" ||
            (a.kind != FileAction::Kind::replace && a.kind != FileAction::Kind::merge_env)) {
            continue;
        }
        const std::string installed = root.read(a.dest).value_or("");
        const auto it = configs.find(a.path);
        const std::string bundled = it == configs.end() ? "" : it->second;
        // For merge-env, what will be installed is the merge, not the bundle's file.
        const std::string fresh =
            a.kind == FileAction::Kind::merge_env ? merge_env(installed, bundled).text : bundled;
        if (fresh != installed) {
            diffs[a.dest] = unified_diff(tmp, a.dest, installed, fresh);
        }
    }
    return diffs;
}

// The hooks, checks and image loads of M that apply will run, into REPORT.
void add_procedure_commands(PlanReport& report, const schema::Manifest& m) {
    const std::map<std::string, std::string> vars = {
        {"root", report.root == "/" ? "" : report.root.string()}};
    // Apply stops the service, installs between pre_install and post_install, then starts it.
    for (const char* hook : {"stop", "pre_install", "post_install", "start"}) {
        if (const auto it = m.procedure.hooks.find(hook); it != m.procedure.hooks.end()) {
            report.hooks.push_back({hook, expand(it->second, vars), 0});
        }
    }
    for (const auto& check : m.procedure.health) {
        report.health.push_back({check.name, expand(check.command, vars), check.retries});
    }
    for (const auto& check : m.procedure.smoke) {
        report.smoke.push_back({check.name, expand(check.command, vars), 0});
    }
    for (const auto& path : report.plan.image_loads) {
        report.image_loads.push_back({path, expand(m.procedure.image_load, vars), 0});
    }
}

// Each image reference of M with its destination, asked of the target (read only).
void add_images(PlanReport& report, const schema::Manifest& m, const RootFs& root, const fs::path& state_dir,
                const TempDir& tmp) {
    const auto refs = image_refs(m);
    if (refs.empty()) {
        return;
    }
    const ImageTarget target = load_image_target(root.root(), StateLayout(state_dir).image_layout());
    report.image_target = describe_target(target);
    for (const auto& [f, ref] : refs) {
        PlannedImage image{f->path, ref->ref, ref->digest, ref->config, destination(target, ref->ref, *f->image_format), false, ""};
        const TargetImage held = read_target(target, ref->ref, *f->image_format, tmp.path / "images.log");
        image.present = same_image(held, *ref, *f->image_format);
        image.detail = image.present ? "" : held.found ? "holds " + held.digest + " (config " + held.config + ")"
                                                       : "not there: " + last_line(held.detail);
        report.images.push_back(std::move(image));
    }
}

const std::vector<ChecklistItem> k_checklist = {
    {"signatures meet the trust store's threshold; the bundle is not expired", true},
    {"every chunk and file matches the signed manifest", true},
    {"the bundle is for this product and channel, not older than what was applied", true},
    {"the installed version may be upgraded by this bundle (patch, minor; major needs "
     "--allow-major)",
     true},
    {"enough disk space for staging and backups", true},
    {"replaced files and SQLite databases are backed up (databases checked with integrity_check)",
     true},
    {"automatic rollback if any step after the stop hook fails", true},
    {"read the release notes and breaking changes below", false},
    {"schedule a maintenance window and notify stakeholders (the service stops during the upgrade)",
     false},
    {"try the upgrade on a staging node first", false},
    {"drain traffic from this node if it sits behind a load balancer", false},
    {"keep the previous bundle's media, and know the rollback: `ferry-applier rollback`", false},
};

} // namespace

PlanReport make_plan_report(const PlanRequest& request) {
    const keys::TrustStore trust = load_site_trust(request.trust, request.root);
    const RootFs root(request.root);
    const TempDir tmp;
    const bool have_state = fs::exists(StateLayout(request.state_dir).database());
    StateDb state(have_state ? request.state_dir : tmp.path / "state");

    PlanReport report;
    report.root = request.root;
    std::map<std::string, std::string> configs;
    // Open and authenticate, decide, then stream: the configs the plan will diff are kept.
    keys::BundleReader bundle(request.bundle, trust, now());
    report.plan = make_plan(bundle.info().manifest, state, root, request.policy, request.state_dir);
    for (const auto& a : report.plan.files) {
        if (a.role == "config") {
            configs[a.path];
        }
    }
    CaptureSink sink(configs);
    const keys::VerifiedBundle v = bundle.read_payload(&sink, request.progress);
    const schema::Manifest& m = v.info.manifest;
    report.bundle_name = m.name;
    report.sequence = m.sequence;
    report.breaking_changes = m.breaking_changes;
    report.release_notes = m.release_notes;
    report.diffs = config_diffs(report.plan, root, configs, tmp);
    add_procedure_commands(report, m);
    add_images(report, m, root, request.state_dir, tmp);
    report.checklist = k_checklist;
    // As apply decides: an installed bundle is "nothing to do" before any refusal.
    report.result = report.plan.already_installed  ? PlanResult::already_installed
                    : report.plan.refusals.empty() ? PlanResult::ok
                                                   : PlanResult::refused;
    return report;
}

std::string plan_result_name(PlanResult result) {
    switch (result) {
    case PlanResult::ok:
        return "ok";
    case PlanResult::refused:
        return "refused";
    case PlanResult::already_installed:
        return "already_installed";
    }
    return "?";
}

int exit_code(PlanResult result) {
    return result == PlanResult::refused ? exit_code(ErrorKind::policy) : 0;
}

} // namespace ferry::applier
