#include "apply.hpp"

#include "applier/run.hpp"
#include "applier/staging.hpp"
#include "core/error.hpp"
#include "core/fs.hpp"
#include "core/json.hpp"
#include "keys/bundle.hpp"

#include <cerrno>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

namespace ferry::applier {

namespace fs = std::filesystem;

namespace {

// An exclusive lock on the state folder, held for the whole run.
class StateLock {
public:
    explicit StateLock(const fs::path& state_dir) {
        fs::create_directories(state_dir);
        const fs::path path = state_dir / "lock";
        m_fd = Fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
        if (!m_fd.valid()) {
            throw_errno(path.string());
        }
        if (::flock(m_fd.get(), LOCK_EX | LOCK_NB) != 0) {
            std::string holder(32, '\0');
            holder.resize(static_cast<std::size_t>(std::max<ssize_t>(0, ::pread(m_fd.get(), holder.data(), holder.size(), 0))));
            throw Error(ErrorKind::policy,
                        "another ferry-applier is working on " + state_dir.string() +
                            (holder.empty() ? "" : " (pid " + holder.substr(0, holder.find('\n')) + ")"),
                        "wait for it to finish; never run two at once on one node");
        }
        const std::string pid = std::to_string(::getpid()) + "\n";
        (void)!::ftruncate(m_fd.get(), 0);
        (void)!::pwrite(m_fd.get(), pid.data(), pid.size(), 0);
    }

private:
    Fd m_fd;
};

// Thrown from the verifier's callback when the bundle is already installed: nothing to do.
struct AlreadyInstalled {};

std::optional<schema::Manifest> installed_manifest(StateDb& state) {
    const auto installed = state.installed();
    if (!installed) {
        return std::nullopt;
    }
    return schema::parse_manifest(installed->manifest, "installed manifest");
}

// Removes staging folders that only a crash between commit and cleanup can leave behind.
void remove_leftover_staging(StateDb& state) {
    for (const auto& r : state.runs()) {
        if (r.state != "running") {
            fs::remove_all(state.dir() / "runs" / std::to_string(r.id) / "staging");
        }
    }
}

// The node as one run sees it: the lock held for the whole run, the state, the install root.
struct Site {
    explicit Site(const SiteOptions& options)
        : lock(options.state_dir), state(options.state_dir), root(options.root) {
        remove_leftover_staging(state);
    }
    StateLock lock;
    StateDb state;
    RootFs root;
};

// A recorded run, with the manifest it applied and the one installed before it.
Run load_run(StateDb& state, RootFs& root, const RunInfo& info, bool progress) {
    std::optional<schema::Manifest> previous;
    if (!info.from_manifest.empty()) {
        previous = schema::parse_manifest(info.from_manifest, "previous manifest");
    }
    return Run(state, root, info.id, schema::parse_manifest(state.run_manifest(info.id), "run manifest"),
               std::move(previous), progress);
}

void refuse_if_interrupted(StateDb& state) {
    if (const auto run = state.interrupted_run()) {
        throw Error(ErrorKind::policy,
                    "run " + std::to_string(run->id) + " (" + run->action + " of " + run->name + " " + run->version +
                        ", started " + run->started + ") was interrupted",
                    "finish it with `ferry-applier resume` or undo it with `ferry-applier rollback` first");
    }
}

void record(StateDb& state, const std::string& action, std::int64_t run, const std::string& name,
            const std::string& version, const std::string& detail) {
    JsonWriter j;
    j.begin_object().field("run", run).field("bundle", name).field("version", version).field("detail", detail).end_object();
    state.audit(action, j.str());
}

// Runs the steps after staging; on failure rolls back and throws rolled_back or failed.
void run_forward(Run& run, StateDb& state, const Plan& plan) {
    const schema::Manifest& m = run.manifest();
    try {
        if (!run.done("backup")) {
            run.step("backup", [&] { run.backup(plan); });
        }
        if (!run.done("stop")) {
            run.step("stop", [&] { run.stop_service(); });
        }
        run.step("install", [&] { run.install(plan); });
        run.step("migrate", [&] { run.migrate(); });
        run.step("start", [&] { run.start_service(m.procedure, m.version.str()); });
        run.step("health", [&] { run.check_health(m.procedure, m.version.str()); });
        run.step("commit", [&] { run.commit(); });
    } catch (const Error& e) {
        if (!run.begun("stop")) {
            // Nothing on the node changed yet.
            state.end_run(run.id(), "failed", e.what());
            record(state, "failed", run.id(), m.name, m.version.str(), e.what());
            fs::remove_all(run.dir());
            throw;
        }
        run.say(std::string("failed: ") + e.what());
        try {
            run.roll_back();
        } catch (const Error& undo_error) {
            const std::string message = std::string(e.what()) + "; the rollback failed too: " + undo_error.what();
            state.end_run(run.id(), "failed", message);
            record(state, "rollback failed", run.id(), m.name, m.version.str(), message);
            throw Error(ErrorKind::failed, message,
                        "the node may be between versions: see `ferry-applier status` and the backups in " +
                            (run.dir() / "backup").string());
        }
        state.end_run(run.id(), "rolled_back", e.what());
        record(state, "rolled back", run.id(), m.name, m.version.str(), e.what());
        fs::remove_all(run.staging());
        throw Error(ErrorKind::rolled_back,
                    m.name + " " + m.version.str() + " failed and was rolled back" +
                        (run.previous() ? " to " + run.previous()->version.str() : std::string(" (nothing installed)")) +
                        ": " + e.what(),
                    e.hint());
    }
    fs::remove_all(run.staging());
    // Keep this run's backups for `ferry-applier rollback`; older ones are no longer reachable.
    for (const auto& old : state.runs()) {
        if (old.id != run.id() && old.state != "running") {
            fs::remove_all(state.dir() / "runs" / std::to_string(old.id));
        }
    }
}

} // namespace

Outcome apply_bundle(const ApplyOptions& options) {
    Site site(options.site);
    StateDb& state = site.state;
    RootFs& root = site.root;
    refuse_if_interrupted(state);
    const keys::TrustStore trust = keys::load_trust_store(options.trust);
    const auto previous = installed_manifest(state);

    Outcome out;
    std::optional<Plan> plan;
    std::unique_ptr<StagingSink> sink;
    std::unique_ptr<Run> run;
    keys::VerifyOptions verify;
    verify.now = now();
    verify.progress = options.site.progress;
    verify.before_payload = [&](const keys::BundleInfo& info) {
        const schema::Manifest& m = info.manifest;
        plan = make_plan(m, state, root, options.policy, options.site.state_dir);
        if (plan->already_installed) {
            throw AlreadyInstalled{};
        }
        enforce(*plan);
        RunInfo r{0, "apply", m.name, m.version.str(), plan->from_version, static_cast<std::int64_t>(m.sequence),
                  "running", "", "", "", fs::absolute(options.bundle).string(),
                  previous ? state.installed()->manifest : ""};
        const std::int64_t id = state.begin_run(r, info.head.manifest);
        run = std::make_unique<Run>(state, root, id, m, previous, options.site.progress);
        state.journal(id, "stage", "begin");
        run->crash_point("stage:begin");
        sink = std::make_unique<StagingSink>(run->staging());
        verify.sink = sink.get();
    };
    try {
        // verify_bundle reads verify.sink after before_payload has set it.
        (void)keys::verify_bundle(options.bundle, trust, verify);
    } catch (const AlreadyInstalled&) {
        out.result = "already installed";
        out.name = plan->name;
        out.from_version = out.to_version = plan->to_version;
        return out;
    } catch (const Error& e) {
        if (run) {
            state.end_run(run->id(), "failed", e.what());
            record(state, "failed", run->id(), run->manifest().name, run->manifest().version.str(), e.what());
            fs::remove_all(run->dir());
        } else if (e.kind() == ErrorKind::verification) {
            record(state, "verification failed", 0, options.bundle.filename().string(), "", e.what());
        } else if (e.kind() == ErrorKind::policy) {
            record(state, "refused", 0, plan ? plan->name : options.bundle.filename().string(),
                   plan ? plan->to_version : "", e.what());
        }
        throw;
    }
    sync_filesystem(run->staging());
    state.journal(run->id(), "stage", "done");
    run->crash_point("stage:done");
    run_forward(*run, state, *plan);
    out.result = "applied";
    out.name = run->manifest().name;
    out.from_version = plan->from_version;
    out.to_version = plan->to_version;
    out.run = run->id();
    out.notes = run->notes();
    return out;
}

Outcome resume(const SiteOptions& options) {
    Site site(options);
    StateDb& state = site.state;
    RootFs& root = site.root;
    const auto info = state.interrupted_run();
    if (!info) {
        throw Error(ErrorKind::usage, "there is no interrupted run to resume", "see `ferry-applier history`");
    }
    if (info->state == "rolling_back") {
        throw Error(ErrorKind::usage, "run " + std::to_string(info->id) + " was being rolled back on request",
                    "finish it with `ferry-applier rollback`");
    }
    Run run = load_run(state, root, *info, options.progress);
    const schema::Manifest& m = run.manifest();
    Outcome out{"resumed", m.name, info->from_version, m.version.str(), info->id, {}};
    if (!run.done("stage")) {
        // Staging never finished: nothing on the node changed.
        state.end_run(info->id, "failed", "interrupted while staging; nothing was changed");
        record(state, "discarded", info->id, m.name, m.version.str(), "interrupted while staging");
        fs::remove_all(run.dir());
        out.result = "discarded";
        out.notes.push_back("the run was interrupted while staging; nothing on the node changed; apply the bundle again");
        return out;
    }
    record(state, "resumed", info->id, m.name, m.version.str(), "");
    // The plan is worked out again from the node as it is now; policy was enforced when the run began.
    Plan plan = make_plan(m, state, root, PolicyOptions{true, true, true}, options.state_dir);
    if (run.begun("install") || (run.begun("stop") && run.previous())) {
        // The run, or a rollback of it killed half-way, may have started a version again: stop
        // whatever runs before installing (stop hooks must tolerate a stopped service).
        try {
            run.stop_service(true);
        } catch (const Error& e) {
            run.notes().push_back(std::string("resume: ") + e.what());
        }
    }
    if (run.begun("install")) {
        // Files this run already wrote look "unchanged" now; install them again from staging.
        for (auto& a : plan.files) {
            if (a.kind == FileAction::Kind::unchanged) {
                a.kind = FileAction::Kind::replace;
            }
        }
    }
    run_forward(run, state, plan);
    out.notes = run.notes();
    return out;
}

Outcome rollback(const SiteOptions& options) {
    Site site(options);
    StateDb& state = site.state;
    RootFs& root = site.root;
    std::optional<RunInfo> info = state.interrupted_run();
    const bool interrupted = info.has_value();
    if (!interrupted) {
        // A run whose automatic rollback failed left the node between versions: retry that
        // rollback rather than undo the last committed run.
        const auto runs = state.runs();
        if (!runs.empty() && runs.back().state == "failed" &&
            fs::exists(state.dir() / "runs" / std::to_string(runs.back().id) / "backup")) {
            info = runs.back();
        }
    }
    if (!info) {
        const auto installed = state.installed();
        if (!installed) {
            throw Error(ErrorKind::usage, "nothing is installed, so there is nothing to roll back");
        }
        for (const auto& r : state.runs()) {
            if (r.id == installed->run_id) {
                info = r;
            }
        }
        if (!info || !fs::exists(state.dir() / "runs" / std::to_string(info->id) / "backup")) {
            throw Error(ErrorKind::usage, "the backups of the last applied run are gone; cannot roll back");
        }
    }
    Run run = load_run(state, root, *info, options.progress);
    const schema::Manifest& m = run.manifest();
    const std::optional<schema::Manifest>& previous = run.previous();
    Outcome out{"rolled back", m.name, m.version.str(), previous ? previous->version.str() : "", info->id, {}};
    if (info->state != "running") {
        // Until it ends, a rollback on request counts as an interrupted run.
        state.set_rolling_back(info->id);
    }
    try {
        run.roll_back();
    } catch (const Error& e) {
        state.end_run(info->id, "failed", std::string("rollback failed: ") + e.what());
        record(state, "rollback failed", info->id, m.name, m.version.str(), e.what());
        throw Error(ErrorKind::failed, std::string("rollback failed: ") + e.what());
    }
    Transaction tx(state.db());
    if (previous) {
        std::map<std::string, InstalledFile> files;
        for (const auto& f : previous->files) {
            if (!f.dest.empty()) {
                files[f.dest] = {to_hex(f.sha256), f.component, f.role};
            }
        }
        state.set_installed({previous->name, previous->version.str(), static_cast<std::int64_t>(previous->sequence),
                             info->id, info->from_manifest, format_time(now())},
                            files);
    } else {
        state.db().exec("DELETE FROM installed; DELETE FROM installed_files;");
    }
    state.end_run(info->id, "rolled_back", interrupted ? "interrupted; rolled back on request" : "rolled back on request");
    record(state, "rolled back", info->id, m.name, m.version.str(), "on request");
    tx.commit();
    fs::remove_all(run.dir());
    out.notes = run.notes();
    return out;
}

} // namespace ferry::applier
