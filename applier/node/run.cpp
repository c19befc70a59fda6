#include "run.hpp"

#include "applier/node/envfile.hpp"
#include "applier/node/image_target.hpp"
#include "applier/node/migrations.hpp"
#include "core/build_info.hpp"
#include "core/console.hpp"
#include "applier/node/site.hpp"
#include "core/error.hpp"
#include "core/fs.hpp"
#include "core/json.hpp"
#include "core/sha256.hpp"

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <algorithm>
#include <set>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>

namespace ferry::applier {

namespace fs = std::filesystem;

namespace {

std::string join(const std::vector<std::string>& items) {
    std::string out;
    for (const auto& s : items) {
        out += (out.empty() ? "" : ", ") + s;
    }
    return out;
}

const schema::ManifestFile* find_file(const schema::Manifest& m, const std::string& path) {
    for (const auto& f : m.files) {
        if (f.path == path) {
            return &f;
        }
    }
    return nullptr;
}

} // namespace

Run::Run(StateDb& state, RootFs& root, std::int64_t id, schema::Manifest manifest,
         std::optional<schema::Manifest> previous, bool progress)
    : m_state(state), m_root(root), m_id(id), m_manifest(std::move(manifest)), m_previous(std::move(previous)),
      m_progress(progress) {
    set_interrupt_note("ferry-applier: interrupted: run " + std::to_string(m_id) + " of " + m_manifest.name + " " +
                       m_manifest.version.str() + " is journaled up to here; finish it with `ferry-applier resume`, or "
                       "undo it with `ferry-applier rollback` (`ferry-applier status` shows where it stopped)");
}

Run::~Run() { set_interrupt_note({}); }

fs::path Run::dir() const { return m_state.layout().run(m_id); }

void Run::say(const std::string& line) const {
    if (m_progress) {
        ferry::say(line);
    }
}

std::string step_name(Step step) {
    static const char* const names[] = {"stage",   "stop",   "backup",       "pre_install", "install", "migrate",
                                        "images",  "post_install", "start", "health",      "commit"};
    return names[static_cast<int>(step)];
}

std::string step_name(UndoStep step) {
    static const char* const names[] = {"stop", "keep", "migrations", "files", "images", "start", "health"};
    return std::string("rollback:") + names[static_cast<int>(step)];
}

void Run::crash_point(const std::string& name) const { applier::crash_point(name); }

void Run::journaled(const std::string& name, const std::function<void()>& fn) {
    m_state.journal(m_id, name, "begin");
    crash_point(name + ":begin");
    try {
        fn();
    } catch (const Error& e) {
        if (e.kind() != ErrorKind::interrupted) {
            throw;
        }
        // The run stays as it is, journaled up to here, for resume or rollback to finish.
        m_state.journal(m_id, name, "interrupted", signal_name(interrupted_by()));
        throw Error(ErrorKind::interrupted,
                    std::string(e.what()) + "; run " + std::to_string(m_id) + " of " + m_manifest.name + " " +
                        m_manifest.version.str() + " stopped there, and the node may be between versions",
                    "finish the run with `ferry-applier resume`, or undo it with `ferry-applier rollback`; "
                    "`ferry-applier status` shows where it stopped");
    }
    m_state.journal(m_id, name, "done");
    crash_point(name + ":done");
}

void Run::step(Step step, const std::function<void()>& fn) {
    ferry::step("step " + step_name(step) + " (journaled)");
    journaled(step_name(step), fn);
}

bool Run::journal_has(const std::string& name, bool done_only) {
    for (const auto& e : m_state.journal_of(m_id)) {
        if (e.step == name && (!done_only || e.phase == "done")) {
            return true;
        }
    }
    return false;
}

bool Run::begun(Step step) { return journal_has(step_name(step), false); }

bool Run::done(Step step) { return journal_has(step_name(step), true); }

bool Run::done(UndoStep step) { return journal_has(step_name(step), true); }

std::map<std::string, std::string> Run::vars() const {
    const std::string root = m_root.root() == "/" ? "" : m_root.root().string();
    return {{"root", root}};
}

std::map<std::string, std::string> Run::env(const std::string& version) const {
    std::map<std::string, std::string> e = {
        {"FERRY_ROOT", m_root.root().string()},
        {"FERRY_VERSION", version},
        {"FERRY_BUNDLE", m_manifest.name},
        {"FERRY_BUNDLE_VERSION", m_manifest.version.str()},
        {"FERRY_FROM_VERSION", m_previous ? m_previous->version.str() : ""},
        {"FERRY_STAGING", staging().string()},
    };
    if (m_manifest.procedure.migrations) {
        e["FERRY_DATABASE"] = m_root.host_path(m_manifest.procedure.migrations->database).string();
    }
    return e;
}

fs::path Run::image_store() const { return m_state.layout().images(); }

void Run::run_hook(const schema::Procedure& procedure, const std::string& hook, const std::string& version) {
    const auto it = procedure.hooks.find(hook);
    if (it == procedure.hooks.end()) {
        return;
    }
    const auto argv = expand(it->second, vars());
    say("  " + hook + " hook: " + shell_quoted(argv));
    const CommandSpec spec{argv, std::chrono::seconds(120), env(version), m_state.layout().commands_log(m_id), hook + " hook"};
    const CommandResult r = run_command(spec);
    if (r.exit_code != 0) {
        throw Error(ErrorKind::failed, hook + " hook failed: " + describe(r, spec.timeout));
    }
}

void Run::stop_service(bool force) {
    if (m_previous || force) {
        run_hook(m_manifest.procedure, "stop", m_previous ? m_previous->version.str() : m_manifest.version.str());
    }
}

void Run::install(const Plan& plan) {
    int i = 0;
    for (const auto& a : plan.files) {
        switch (a.kind) {
        case FileAction::Kind::unchanged:
            break;
        case FileAction::Kind::create:
        case FileAction::Kind::replace:
        case FileAction::Kind::keep_site:
            m_root.install_staged(a.dest, staging() / a.path, a.mode);
            break;
        case FileAction::Kind::merge_env: {
            const std::string site = m_root.read(a.dest).value_or("");
            const EnvMerge merged = merge_env(site, read_file(staging() / a.path));
            m_root.install_data(a.dest, merged.text, a.mode);
            std::string note = a.dest + ": kept the site's settings";
            if (!merged.added.empty()) {
                note += "; added " + join(merged.added) + " with the new version's defaults";
            }
            if (!merged.dropped.empty()) {
                note += "; the new version no longer uses " + join(merged.dropped) + " (kept)";
            }
            m_notes.push_back(note);
            break;
        }
        case FileAction::Kind::remove:
            m_root.remove(a.dest);
            break;
        }
        if (a.kind != FileAction::Kind::unchanged) {
            ferry::step("install: " + action_word(a.kind) + " " + a.dest);
        }
        if (!a.note.empty()) {
            m_notes.push_back(a.note);
        }
        if (a.role == "applier" && a.kind != FileAction::Kind::unchanged) {
            // The plan put it last. This process keeps running from the old file's inode to the end
            // of the run; the new program runs from the next command (a resume of this run too).
            m_state.journal(m_id, step_name(Step::install), "item", "applier " + a.dest);
            m_notes.push_back("installed ferry-applier at " + a.dest + " last; this run finished with ferry-applier " +
                              std::string(build_version()) + ", the next command runs the new one");
        }
        crash_point("install:item:" + std::to_string(++i));
    }
    m_root.sync();
    say("  installed " + std::to_string(i) + " file(s)");
}

void Run::migrate() {
    const auto& mig = m_manifest.procedure.migrations;
    if (!mig) {
        return;
    }
    const fs::path host = m_root.host_path(mig->database);
    const std::string parent = mig->database.substr(0, mig->database.rfind('/'));
    if (!parent.empty()) {
        (void)m_root.open_dir(parent, true);
    }
    Database db(host, true);
    const auto ledger = migration_ledger(db);
    for (const auto& s : mig->steps) {
        const schema::ManifestFile* up = find_file(m_manifest, s.up);
        const std::string checksum = up != nullptr ? to_hex(up->sha256) : "";
        const auto it = ledger.find(s.id);
        if (it != ledger.end()) {
            if (it->second != checksum) {
                throw Error(ErrorKind::failed, "migration " + s.id + " was applied with checksum " + it->second +
                                                   ", but the bundle's differs (" + checksum + ")",
                            "a released migration must never change; ship a new migration instead");
            }
            continue;
        }
        say("  migration " + s.id);
        if (s.up.ends_with(".sql")) {
            apply_sql_migration(db, s.id, checksum, read_file(staging() / s.up), m_manifest.version.str());
        } else {
            const fs::path script = staging() / s.up;
            ::chmod(script.c_str(), 0700);
            const CommandSpec spec{{script.string()}, std::chrono::seconds(600), env(m_manifest.version.str()),
                                   m_state.layout().commands_log(m_id), "migration " + s.id};
            const CommandResult r = run_command(spec);
            if (r.exit_code != 0) {
                throw Error(ErrorKind::failed, "migration " + s.id + " failed: " + describe(r, spec.timeout));
            }
            apply_sql_migration(db, s.id, checksum, "SELECT 1", m_manifest.version.str());
        }
        m_state.journal(m_id, step_name(Step::migrate), "item", s.id);
        crash_point("migrate:item:" + s.id);
    }
}

void Run::start_service(const schema::Procedure& procedure, const std::string& version) {
    run_hook(procedure, "start", version);
}

void Run::check_health(const schema::Procedure& procedure, const std::string& version) {
    for (const auto& check : procedure.health) {
        const std::uint64_t attempts = check.retries + 1;
        CommandResult last;
        const CommandSpec spec{expand(check.command, vars()), std::chrono::seconds(check.timeout), env(version),
                               m_state.layout().commands_log(m_id), "health check " + check.name};
        bool ok = false;
        for (std::uint64_t attempt = 1; attempt <= attempts && !ok; ++attempt) {
            last = run_command(spec);
            ok = last.exit_code == 0;
            if (!ok && attempt < attempts) {
                std::this_thread::sleep_for(std::chrono::seconds(check.interval));
            }
        }
        if (!ok) {
            throw Error(ErrorKind::failed, "health check \"" + check.name + "\" failed after " +
                                               std::to_string(attempts) + " attempt(s): " + describe(last, spec.timeout));
        }
        say("  health check " + check.name + ": ok");
    }
    for (const auto& check : procedure.smoke) {
        const CommandSpec spec{expand(check.command, vars()), std::chrono::seconds(check.timeout), env(version),
                               m_state.layout().commands_log(m_id), "smoke check " + check.name};
        const CommandResult r = run_command(spec);
        if (r.exit_code != 0) {
            throw Error(ErrorKind::failed, "smoke check \"" + check.name + "\" failed: " + describe(r, spec.timeout));
        }
        say("  smoke check " + check.name + ": ok");
    }
}

void Run::commit() {
    // The images stay at hand so that a later rollback can load them again.
    keep_images_of(m_manifest, [&](const schema::ManifestFile& f) { return staging() / f.path; });
    std::map<std::string, InstalledFile> files;
    for (const auto& f : m_manifest.files) {
        if (!f.dest.empty()) {
            files[f.dest] = {to_hex(f.sha256), f.component, f.role};
        }
    }
    Transaction tx(m_state.db());
    InstalledInfo info{m_manifest.name, m_manifest.version.str(), static_cast<std::int64_t>(m_manifest.sequence),
                       m_id, m_state.run_manifest(m_id), format_time(now())};
    m_state.set_installed(info, files);
    const auto highest = m_state.meta("highest_sequence");
    if (!highest || std::stoll(*highest) < static_cast<std::int64_t>(m_manifest.sequence)) {
        m_state.set_meta("highest_sequence", std::to_string(m_manifest.sequence));
    }
    const auto latest = m_state.meta("latest_created");
    if (!latest || std::stoll(*latest) < m_manifest.created) {
        m_state.set_meta("latest_created", std::to_string(m_manifest.created));
    }
    m_state.set_meta("product", m_manifest.compatible.product);
    m_state.set_meta("channel", m_manifest.compatible.channel);
    m_state.end_run(m_id, RunState::committed);
    JsonWriter j;
    j.begin_object().field("run", m_id).field("bundle", m_manifest.name).field("version", m_manifest.version.str())
        .field("from", m_previous ? m_previous->version.str() : "").field("sequence", m_manifest.sequence)
        .field("manifest_sha256", to_hex(sha256(info.manifest)));
    write_signing_keys(j, m_state.run_signing_keys(m_id));
    const auto refs = image_refs(m_manifest);
    if (!refs.empty()) {
        const ImageTarget target = load_image_target(m_root.root(), m_state.layout().image_layout());
        j.key("images").begin_array();
        for (const auto& [f, ref] : refs) {
            j.begin_object().field("ref", ref->ref).field("digest", ref->digest).field("config", ref->config)
                .field("to", destination(target, ref->ref, *f->image_format)).end_object();
        }
        j.end_array();
    }
    m_state.audit("applied", j);
    tx.commit();
}

} // namespace ferry::applier
