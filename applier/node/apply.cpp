#include "apply.hpp"

#include "applier/node/image_target.hpp"
#include "applier/node/node_trust.hpp"
#include "applier/node/run.hpp"
#include "applier/node/site.hpp"
#include "applier/node/stage.hpp"
#include "applier/node/staging.hpp"
#include "core/console.hpp"
#include "core/error.hpp"
#include "core/fs.hpp"
#include "core/json.hpp"
#include "keys/bundle.hpp"

#include <algorithm>
#include <cerrno>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

namespace ferry::applier {

namespace fs = std::filesystem;

namespace {

std::optional<schema::Manifest> installed_manifest(StateDb& state) {
    const auto installed = state.installed();
    if (!installed) {
        return std::nullopt;
    }
    return schema::parse_manifest(installed->manifest, "installed manifest");
}

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


// Runs the steps after staging; on failure rolls back and throws rolled_back or failed.
void run_forward(Run& run, StateDb& state, const Plan& plan) {
    const schema::Manifest& m = run.manifest();
    try {
        // The copy is taken after the stop, so what the service writes is consistent in it.
        if (!run.done(Step::stop)) {
            run.step(Step::stop, [&] { run.stop_service(); });
        }
        if (!run.done(Step::backup)) {
            run.step(Step::backup, [&] { run.backup(plan); });
        }
        run.step(Step::pre_install, [&] { run.run_hook(m.procedure, "pre_install", m.version.str()); });
        run.step(Step::install, [&] { run.install(plan); });
        run.step(Step::migrate, [&] { run.migrate(); });
        run.step(Step::images, [&] { run.load_images(plan); });
        run.step(Step::post_install, [&] { run.run_hook(m.procedure, "post_install", m.version.str()); });
        run.step(Step::start, [&] { run.start_service(m.procedure, m.version.str()); });
        run.step(Step::health, [&] { run.check_health(m.procedure, m.version.str()); });
        run.step(Step::commit, [&] { run.commit(); });
    } catch (const Error& e) {
        if (e.kind() == ErrorKind::interrupted) {
            throw; // journaled by the step: resume or rollback finishes the run
        }
        if (!run.begun(Step::stop)) {
            // Nothing on the node changed yet.
            state.end_run(run.id(), RunState::failed, e.what());
            record(state, "failed", run.id(), run_facts(state, run.id()), e.what());
            fs::remove_all(run.dir());
            throw;
        }
        run.say(std::string("failed: ") + e.what());
        try {
            run.roll_back();
        } catch (const Error& undo_error) {
            if (undo_error.kind() == ErrorKind::interrupted) {
                throw;
            }
            const std::string message = std::string(e.what()) + "; the rollback failed too: " + undo_error.what();
            state.end_run(run.id(), RunState::failed, message);
            record(state, "rollback failed", run.id(), run_facts(state, run.id()), message);
            throw Error(ErrorKind::failed, message,
                        "the node may be between versions: see `ferry-applier status` and the backups in " +
                            state.layout().backup(run.id()).string());
        }
        state.end_run(run.id(), RunState::rolled_back, e.what());
        record(state, "rolled back", run.id(), run_facts(state, run.id()), e.what());
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
        if (old.id != run.id() && old.state != RunState::running) {
            fs::remove_all(state.layout().run(old.id));
        }
    }
}

} // namespace

std::string result_name(Outcome::Result result) {
    switch (result) {
    case Outcome::Result::applied:
        return "applied";
    case Outcome::Result::already_installed:
        return "already_installed";
    case Outcome::Result::resumed:
        return "resumed";
    case Outcome::Result::discarded:
        return "discarded";
    case Outcome::Result::rolled_back:
        return "rolled_back";
    }
    return "?";
}

Outcome apply_bundle(const ApplyOptions& options) {
    Site site(options.site);
    StateDb& state = site.state;
    RootFs& root = site.root;
    refuse_if_interrupted(state);
    const keys::TrustStore trust = load_site_trust(options.trust, options.site.root);
    const auto previous = installed_manifest(state);

    Outcome out;
    std::optional<Plan> plan;
    std::unique_ptr<Run> run;
    // What is known of the bundle: its file name until its head is read and authenticated.
    BundleFacts facts{options.bundle.filename().string(), "", "", {}};
    // Open and authenticate, then decide, then stream the payload: the steps of verification.
    const auto on_error = [&](const Error& e) {
        if (run) {
            state.end_run(run->id(), RunState::failed, e.what());
            record(state, "failed", run->id(), facts, e.what());
            fs::remove_all(run->dir());
        } else if (e.kind() == ErrorKind::verification) {
            record(state, "verification failed", 0, facts, e.what());
        } else if (e.kind() == ErrorKind::policy) {
            record(state, "refused", 0, facts, e.what());
        }
    };
    std::string manifest_sha256;
    bool from_staged = false;
    try {
        keys::BundleReader media(options.bundle, trust, now());
        ferry::step("authenticated " + options.bundle.string() + ": signed by " + std::to_string(media.info().auth->valid) +
             " trusted key(s), " + std::to_string(trust.thresholds.release) + " required");
        manifest_sha256 = to_hex(sha256(media.info().head.manifest));
        // A copy staged before the window is read instead of the media, and verified again.
        std::optional<keys::BundleReader> staged;
        if (const auto copy = staged_copy(state, manifest_sha256)) {
            ferry::step("reading the copy staged before: " + copy->string());
            staged.emplace(*copy, trust, now());
            from_staged = true;
        }
        keys::BundleReader& bundle = staged ? *staged : media;
        facts = facts_of(bundle.info());
        const schema::Manifest& m = bundle.info().manifest;
        plan = make_plan(m, state, root, options.policy, options.site.state_dir);
        if (plan->already_installed) {
            refuse_if_another_manifest(*plan, state, bundle.info().head.manifest);
        }
        enforce(*plan);
        ferry::step("policy: ok, " + (plan->from_version.empty() ? std::string("a first install") : "from " + plan->from_version) +
             " to " + plan->to_version);
        if (plan->already_installed) {
            // Verified to the last byte, with no sink: nothing is staged.
            (void)bundle.read_payload(nullptr, options.site.progress);
        } else {
            RunInfo r{0, "apply", m.name, m.version.str(), plan->from_version, static_cast<std::int64_t>(m.sequence),
                      RunState::running, "", "", "", fs::absolute(options.bundle).string(),
                      previous ? state.installed()->manifest : "", facts.signing_keys};
            const std::int64_t id = state.begin_run(r, bundle.info().head.manifest);
            run = std::make_unique<Run>(state, root, id, m, previous, options.site.progress);
            state.journal(id, step_name(Step::stage), "begin");
            run->crash_point("stage:begin");
            StagingSink sink(run->staging());
            ferry::step("verifying every chunk of the payload into " + run->staging().string());
            (void)bundle.read_payload(&sink, options.site.progress);
            // An image whose archive does not hold its signed digests is refused before the node changes.
            for (const auto* f : loaded_images(m)) {
                if (!f->images.empty()) {
                    check_image_file(run->staging() / f->path, *f);
                }
            }
        }
    } catch (const Error& e) {
        on_error(e);
        throw;
    }
    if (!run) {
        record(state, "verified", 0, facts, "already installed; nothing to do");
        site.write_receipt();
        out.result = Outcome::Result::already_installed;
        out.name = plan->name;
        out.from_version = out.to_version = plan->to_version;
        return out;
    }
    sync_filesystem(run->staging());
    state.journal(run->id(), step_name(Step::stage), "done");
    run->crash_point("stage:done");
    run_forward(*run, state, *plan);
    if (from_staged) {
        drop_staged(state, manifest_sha256);
        run->notes().push_back("applied from the copy staged before; the media was not read again");
    }
    out.result = Outcome::Result::applied;
    out.name = run->manifest().name;
    out.from_version = plan->from_version;
    out.to_version = plan->to_version;
    out.run = run->id();
    out.notes = run->notes();
    site.write_receipt();
    return out;
}

Outcome resume(const SiteOptions& options) {
    Site site(existing_node(options));
    StateDb& state = site.state;
    RootFs& root = site.root;
    const auto info = state.interrupted_run();
    if (!info) {
        throw Error(ErrorKind::usage, "there is no interrupted run to resume", "see `ferry-applier history`");
    }
    if (info->state == RunState::rolling_back) {
        throw Error(ErrorKind::usage, "run " + std::to_string(info->id) + " was being rolled back on request",
                    "finish it with `ferry-applier rollback`");
    }
    Run run = load_run(state, root, *info, options.progress);
    const schema::Manifest& m = run.manifest();
    Outcome out{Outcome::Result::resumed, m.name, info->from_version, m.version.str(), info->id, {}};
    if (!run.done(Step::stage)) {
        // Staging never finished: nothing on the node changed.
        state.end_run(info->id, RunState::failed, "interrupted while staging; nothing was changed");
        record(state, "discarded", info->id, run_facts(state, info->id), "interrupted while staging");
        fs::remove_all(run.dir());
        out.result = Outcome::Result::discarded;
        out.notes.push_back("the run was interrupted while staging; nothing on the node changed; apply the bundle again");
        site.write_receipt();
        return out;
    }
    record(state, "resumed", info->id, run_facts(state, info->id), "");
    // The plan is worked out again from the node as it is now; policy was enforced when the run began.
    Plan plan = make_plan(m, state, root, PolicyOptions{true, true, true}, options.state_dir);
    if (run.begun(Step::install) || (run.begun(Step::stop) && run.previous())) {
        // The run, or a rollback of it killed half-way, may have started a version again: stop
        // whatever runs before installing (stop hooks must tolerate a stopped service).
        try {
            run.stop_service(true);
        } catch (const Error& e) {
            run.notes().push_back(std::string("resume: ") + e.what());
        }
    }
    if (run.begun(Step::install)) {
        // Files this run already wrote look "unchanged" now; install them again from staging.
        for (auto& a : plan.files) {
            if (a.kind == FileAction::Kind::unchanged) {
                a.kind = FileAction::Kind::replace;
            }
        }
    }
    run_forward(run, state, plan);
    out.notes = run.notes();
    site.write_receipt();
    return out;
}

namespace {

// The run `rollback` undoes: an interrupted one, one whose automatic rollback failed, or the
// committed run the operator named.
RunInfo run_to_undo(StateDb& state, std::optional<std::int64_t> named) {
    if (const auto interrupted = state.interrupted_run()) {
        if (named && *named != interrupted->id) {
            throw Error(ErrorKind::usage,
                        "run " + std::to_string(interrupted->id) + " was interrupted; finish it before undoing run " +
                            std::to_string(*named),
                        "undo it with `ferry-applier rollback`, or finish it with `ferry-applier resume`");
        }
        return *interrupted;
    }
    // A run whose automatic rollback failed left the node between versions: retry that rollback.
    if (const auto failed = state.failed_run(); failed && (!named || *named == failed->id)) {
        return *failed;
    }
    const auto runs = state.runs();
    const auto installed = state.installed();
    if (!named) {
        if (!installed) {
            throw Error(ErrorKind::usage, "there is no interrupted run to roll back, and nothing is installed");
        }
        throw Error(ErrorKind::usage, "there is no interrupted run to roll back",
                    "to undo run " + std::to_string(installed->run_id) + ", which installed " + installed->name + " " +
                        installed->version + ", name it: `ferry-applier rollback --run " +
                        std::to_string(installed->run_id) + "`");
    }
    if (!installed || installed->run_id != *named) {
        throw Error(ErrorKind::usage,
                    "run " + std::to_string(*named) + " is not the run that installed what is here" +
                        (installed ? " (run " + std::to_string(installed->run_id) + " installed " + installed->name +
                                         " " + installed->version + ")"
                                   : std::string(" (nothing is installed)")),
                    "only the last applied run can be undone; see `ferry-applier history`");
    }
    for (const auto& r : runs) {
        if (r.id == *named && fs::exists(state.layout().backup(r.id))) {
            return r;
        }
    }
    throw Error(ErrorKind::usage, "the backups of run " + std::to_string(*named) + " are gone; cannot roll back");
}

} // namespace

Outcome rollback(const RollbackOptions& options) {
    Site site(existing_node(options.site));
    StateDb& state = site.state;
    RootFs& root = site.root;
    const RunInfo info = run_to_undo(state, options.run);
    const bool interrupted = info.state == RunState::running;
    Run run = load_run(state, root, info, options.site.progress);
    const schema::Manifest& m = run.manifest();
    const std::optional<schema::Manifest>& previous = run.previous();
    Outcome out{Outcome::Result::rolled_back, m.name, m.version.str(), previous ? previous->version.str() : "", info.id, {}};
    run.say("undoing run " + std::to_string(info.id) + " (" + info.action + " of " + m.name + " " + m.version.str() +
            ", " + state_name(info.state) + "): back to " +
            (previous ? m.name + " " + previous->version.str() : std::string("nothing installed")));
    for (const auto& line : run.undo_summary()) {
        run.say("  " + line);
    }
    if (info.state != RunState::running) {
        // Until it ends, a rollback on request counts as an interrupted run.
        state.set_rolling_back(info.id);
    }
    // What the site wrote since a run ended is kept before it is changed back (a run that was
    // still running when it was interrupted served no one in between).
    const std::optional<fs::path> keep =
        interrupted ? std::nullopt
                    : std::optional<fs::path>(state.layout().kept_before_rollback(info.id));
    try {
        run.roll_back(keep);
    } catch (const Error& e) {
        if (e.kind() == ErrorKind::interrupted) {
            throw;
        }
        state.end_run(info.id, RunState::failed, std::string("rollback failed: ") + e.what());
        record(state, "rollback failed", info.id, run_facts(state, info.id), e.what());
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
                             info.id, info.from_manifest, format_time(now())},
                            files);
    } else {
        state.db().exec("DELETE FROM installed; DELETE FROM installed_files;");
    }
    state.end_run(info.id, RunState::rolled_back, interrupted ? "interrupted; rolled back on request" : "rolled back on request");
    record(state, "rolled back", info.id, run_facts(state, info.id),
           keep ? "on request; the data before it kept in " + keep->string() : "on request");
    tx.commit();
    fs::remove_all(run.dir());
    out.notes = run.notes();
    if (keep) {
        out.notes.push_back("the databases, paths and files as they were before this rollback are kept in " +
                            keep->string() + " (`ferry-applier prune` removes them)");
    }
    site.write_receipt();
    return out;
}

PruneResult prune(const PruneOptions& options) {
    Site site(existing_node(options.site));
    StateDb& state = site.state;
    PruneResult out;
    // Newest first: the run folders of ended runs, then the copies kept before rollbacks.
    // The installed run's backups stay: `rollback --run` needs them.
    const auto installed = state.installed();
    std::vector<std::pair<std::int64_t, fs::path>> runs;
    for (const auto& r : state.runs()) {
        const fs::path dir = state.layout().run(r.id);
        if (r.state != RunState::running && r.state != RunState::rolling_back && fs::exists(dir) &&
            !(installed && installed->run_id == r.id)) {
            runs.emplace_back(r.id, dir);
        }
    }
    std::sort(runs.begin(), runs.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
    std::vector<fs::path> kept;
    if (fs::exists(state.layout().kept())) {
        for (const auto& e : fs::directory_iterator(state.layout().kept())) {
            kept.push_back(e.path());
        }
    }
    std::sort(kept.begin(), kept.end(), [](const fs::path& a, const fs::path& b) {
        return fs::last_write_time(a) > fs::last_write_time(b);
    });
    const auto drop = [&](const fs::path& dir) {
        std::uint64_t bytes = 0;
        for (const auto& e : fs::recursive_directory_iterator(dir)) {
            if (e.is_regular_file()) {
                bytes += e.file_size();
            }
        }
        fs::remove_all(dir);
        out.removed.push_back(dir.string());
        out.bytes += bytes;
    };
    for (std::size_t i = options.keep; i < runs.size(); ++i) {
        drop(runs[i].second);
    }
    for (std::size_t i = options.keep; i < kept.size(); ++i) {
        drop(kept[i]);
    }
    if (options.staged) {
        for (const auto& b : state.staged_bundles()) {
            if (fs::exists(state.layout().staged(b.manifest_sha256))) {
                drop(state.layout().staged(b.manifest_sha256));
            }
            state.drop_staged(b.manifest_sha256);
        }
    }
    JsonWriter j;
    j.begin_object().field("keep", static_cast<std::uint64_t>(options.keep)).field("bytes", out.bytes).key("removed").begin_array();
    for (const auto& r : out.removed) {
        j.value(r);
    }
    j.end_array();
    state.audit("pruned", j);
    site.write_receipt();
    return out;
}

} // namespace ferry::applier
