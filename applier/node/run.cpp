#include "run.hpp"

#include "applier/node/envfile.hpp"
#include "applier/node/migrations.hpp"
#include "core/error.hpp"
#include "core/fs.hpp"
#include "core/json.hpp"

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

std::string without_slash(const std::string& path) {
    return path.size() > 1 && path.back() == '/' ? path.substr(0, path.size() - 1) : path;
}

// Hard-links SOURCE to TARGET (same file system), or copies it.
void link_or_copy(const fs::path& source, const fs::path& target) {
    fs::create_directories(target.parent_path());
    fs::remove(target);
    std::error_code ec;
    fs::create_hard_link(source, target, ec);
    if (ec) {
        copy_host_file(source, target);
    }
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
      m_progress(progress) {}

fs::path Run::dir() const { return m_state.layout().run(m_id); }

void Run::say(const std::string& line) const {
    if (m_progress) {
        std::fprintf(stderr, "%s\n", line.c_str());
    }
}

void crash_point(const std::string& name) {
    const char* at = std::getenv("FERRY_TEST_CRASH_AT");
    if (at != nullptr && name == at) {
        ::kill(::getpid(), SIGKILL);
    }
}

void Run::crash_point(const std::string& name) const { applier::crash_point(name); }

void Run::step(const std::string& name, const std::function<void()>& fn) {
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

bool Run::begun(const std::string& name) {
    for (const auto& e : m_state.journal_of(m_id)) {
        if (e.step == name) {
            return true;
        }
    }
    return false;
}

bool Run::done(const std::string& name) {
    for (const auto& e : m_state.journal_of(m_id)) {
        if (e.step == name && e.phase == "done") {
            return true;
        }
    }
    return false;
}

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

// An image kept for a rollback, by content, under its own name (a load command may use it).
fs::path kept_image_name(const schema::ManifestFile& f) {
    return fs::path(to_hex(f.sha256)) / fs::path(f.path).filename();
}

std::vector<const schema::ManifestFile*> loaded_images(const schema::Manifest& m) {
    std::vector<const schema::ManifestFile*> out;
    if (!m.procedure.image_load.empty()) {
        for (const auto& f : m.files) {
            if (f.role == "image") {
                out.push_back(&f);
            }
        }
    }
    return out;
}

void Run::keep_images_of(const schema::Manifest& m, const std::function<fs::path(const schema::ManifestFile&)>& source) {
    std::set<std::string> wanted;
    for (const auto* f : loaded_images(m)) {
        const fs::path from = source(*f);
        if (fs::exists(from)) {
            link_or_copy(from, image_store() / kept_image_name(*f));
            wanted.insert(to_hex(f->sha256));
        }
    }
    if (fs::exists(image_store())) {
        for (const auto& e : fs::directory_iterator(image_store())) {
            if (wanted.count(e.path().filename().string()) == 0) {
                fs::remove_all(e.path());
            }
        }
    }
}

std::set<std::string> Run::dirs_to_create(const Plan& plan) const {
    std::vector<std::string> dests;
    for (const auto& a : plan.files) {
        if (a.kind == FileAction::Kind::create || a.kind == FileAction::Kind::keep_site) {
            dests.push_back(a.dest);
        }
    }
    if (m_manifest.procedure.migrations) {
        dests.push_back(m_manifest.procedure.migrations->database);
    }
    std::set<std::string> missing;
    for (const auto& dest : dests) {
        for (std::size_t slash = dest.find('/', 1); slash != std::string::npos; slash = dest.find('/', slash + 1)) {
            const std::string dir = dest.substr(0, slash);
            if (missing.count(dir) != 0 || !m_root.exists(dir)) {
                missing.insert(dir);
            }
        }
    }
    return missing;
}

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

void Run::backup(const Plan& plan) {
    const fs::path base = m_state.layout().backup(m_id);
    // A backup interrupted before it was journaled as done is taken again from scratch.
    fs::remove_all(base);
    m_state.clear_backup_items(m_id);
    for (const auto& a : plan.files) {
        if (a.kind == FileAction::Kind::unchanged) {
            continue;
        }
        const fs::path copy = base / "files" / a.dest.substr(1);
        const bool existed = m_root.copy_out(a.dest, copy);
        m_state.add_backup_item(m_id, {"file", a.dest, existed, existed ? copy.string() : ""});
    }
    for (const auto& p : m_manifest.procedure.backup_paths) {
        const fs::path source = m_root.host_path(p.back() == '/' ? p.substr(0, p.size() - 1) : p);
        const fs::path copy = base / "paths" / p.substr(1);
        std::error_code ec;
        const bool existed = fs::exists(source, ec);
        if (existed) {
            fs::create_directories(copy.parent_path());
            fs::copy(source, copy, fs::copy_options::recursive | fs::copy_options::copy_symlinks, ec);
            if (ec) {
                throw Error(ErrorKind::io, "backing up " + source.string() + ": " + ec.message());
            }
        }
        m_state.add_backup_item(m_id, {"path", p, existed, existed ? copy.string() : ""});
    }
    std::set<std::string> databases(m_manifest.procedure.backup_sqlite.begin(), m_manifest.procedure.backup_sqlite.end());
    if (m_manifest.procedure.migrations) {
        databases.insert(m_manifest.procedure.migrations->database);
    }
    int n = 0;
    for (const auto& db : databases) {
        const fs::path live = m_root.host_path(db);
        const fs::path copy = base / "sqlite" / (std::to_string(++n) + ".db");
        const bool existed = fs::exists(live);
        if (existed) {
            backup_database(live, copy);
        }
        m_state.add_backup_item(m_id, {"sqlite", db, existed, existed ? copy.string() : ""});
    }
    if (const auto& mig = m_manifest.procedure.migrations) {
        std::vector<std::string> before;
        if (fs::exists(m_root.host_path(mig->database))) {
            Database db(m_root.host_path(mig->database), false);
            for (const auto& [id, sum] : migration_ledger(db)) {
                before.push_back(id);
            }
        }
        std::string ids;
        for (const auto& id : before) {
            ids += id + "\n";
        }
        // The down migrations stay available after staging is gone, for a later rollback.
        for (const auto& s : mig->steps) {
            if (s.down.ends_with(".sql")) {
                copy_host_file(staging() / s.down, base / "down" / (s.id + ".sql"));
            }
        }
        m_state.add_backup_item(m_id, {"ledger", mig->database, true, ids});
    }
    for (const auto& d : dirs_to_create(plan)) {
        m_state.add_backup_item(m_id, {"dir", d, false, ""});
    }
    if (m_previous && !m_previous->procedure.image_load.empty()) {
        for (const auto* f : loaded_images(*m_previous)) {
            const fs::path kept = image_store() / kept_image_name(*f);
            const fs::path copy = base / "images" / kept_image_name(*f);
            const bool existed = fs::exists(kept);
            if (existed) {
                link_or_copy(kept, copy);
            }
            m_state.add_backup_item(m_id, {"image", f->path, existed, existed ? copy.string() : ""});
        }
    }
    fs::create_directories(base);
    sync_filesystem(base);
    say("  backed up " + std::to_string(m_state.backup_items(m_id).size()) + " item(s) to " + base.string());
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
        if (!a.note.empty()) {
            m_notes.push_back(a.note);
        }
        crash_point("install:item:" + std::to_string(++i));
    }
    m_root.sync();
    say("  installed " + std::to_string(i) + " file(s)");
}

void Run::load_image(const schema::Procedure& procedure, const std::string& name, const fs::path& file,
                     const std::string& version) {
    const auto argv = expand(expand(procedure.image_load, {{"path", file.string()}}), vars());
    say("  loading image " + name + ": " + shell_quoted(argv));
    const CommandSpec spec{argv, std::chrono::seconds(600), env(version), m_state.layout().commands_log(m_id), "image load " + name};
    const CommandResult r = run_command(spec);
    if (r.exit_code != 0) {
        throw Error(ErrorKind::failed, "loading image " + name + " failed: " + describe(r, spec.timeout));
    }
}

void Run::load_images(const Plan& plan) {
    for (const auto& path : plan.image_loads) {
        load_image(m_manifest.procedure, path, staging() / path, m_manifest.version.str());
    }
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
        m_state.journal(m_id, "migrate", "item", s.id);
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
    m_state.end_run(m_id, "committed");
    JsonWriter j;
    j.begin_object().field("run", m_id).field("bundle", m_manifest.name).field("version", m_manifest.version.str())
        .field("from", m_previous ? m_previous->version.str() : "").field("sequence", m_manifest.sequence).end_object();
    m_state.audit("applied", j.str());
    tx.commit();
}

void Run::revert_migrations() {
    const auto& mig = m_manifest.procedure.migrations;
    if (!mig) {
        return;
    }
    std::set<std::string> before;
    std::optional<BackupItem> db_backup;
    bool have_ledger = false;
    for (const auto& item : m_state.backup_items(m_id)) {
        if (item.kind == "ledger") {
            have_ledger = true;
            for (std::size_t start = 0, end; (end = item.copy.find('\n', start)) != std::string::npos; start = end + 1) {
                before.insert(item.copy.substr(start, end - start));
            }
        } else if (item.kind == "sqlite" && item.path == mig->database) {
            db_backup = item;
        }
    }
    const fs::path host = m_root.host_path(mig->database);
    if (!have_ledger || !fs::exists(host)) {
        return; // the run never got as far as backing up: it migrated nothing
    }
    if (db_backup && !db_backup->existed) {
        // The run created the database: without it the node is exactly as it was.
        say("  removing " + host.string() + " (it did not exist before)");
        for (const char* suffix : {"", "-wal", "-shm", "-journal"}) {
            fs::remove(host.string() + suffix);
        }
        return;
    }
    std::vector<const schema::MigrationStep*> to_revert;
    {
        Database db(host, false);
        const auto ledger = migration_ledger(db);
        for (auto it = mig->steps.rbegin(); it != mig->steps.rend(); ++it) {
            if (ledger.count(it->id) != 0 && before.count(it->id) == 0) {
                to_revert.push_back(&*it);
            }
        }
    }
    if (to_revert.empty()) {
        return;
    }
    const fs::path downs = m_state.layout().backup(m_id) / "down";
    bool all_down = true;
    for (const auto* s : to_revert) {
        all_down = all_down && fs::exists(downs / (s->id + ".sql"));
    }
    if (all_down) {
        try {
            Database db(host, false);
            for (const auto* s : to_revert) {
                say("  down migration " + s->id);
                revert_sql_migration(db, s->id, read_file(downs / (s->id + ".sql")));
            }
            return;
        } catch (const Error& e) {
            m_notes.push_back(std::string(e.what()) + "; restoring the database backup instead");
        }
    }
    if (!db_backup || !db_backup->existed) {
        say("  removing " + host.string() + " (it did not exist before)");
        for (const char* suffix : {"", "-wal", "-shm", "-journal"}) {
            fs::remove(host.string() + suffix);
        }
        return;
    }
    say("  restoring " + host.string() + " from its backup");
    restore_database(db_backup->copy, host);
}

void Run::restore_files() {
    // Only what differs from the backup is touched, and every item is tried even if one
    // fails: a file the install never reached is left alone, so a read-only folder it failed
    // on does not stop the rest of the rollback.
    std::string failures;
    const auto items = m_state.backup_items(m_id);
    for (auto it = items.rbegin(); it != items.rend(); ++it) {
        if (it->kind != "file") {
            continue;
        }
        try {
            m_root.remove_temp(it->path); // a file the run was writing when it was killed
            if (it->existed) {
                const Digest saved = sha256_file(it->copy);
                if (m_root.hash(it->path) == saved) {
                    continue;
                }
                struct stat st {};
                ::stat(it->copy.c_str(), &st);
                m_root.install_from(it->path, it->copy, st.st_mode & 0777);
            } else if (m_root.exists(it->path)) {
                m_root.remove(it->path);
            }
        } catch (const Error& e) {
            failures += (failures.empty() ? "" : "; ") + std::string(e.what());
        }
    }
    m_root.sync();
    if (!failures.empty()) {
        throw Error(ErrorKind::failed, "restoring files: " + failures);
    }
}

void Run::restore_paths() {
    // Declared paths come back byte for byte as they were before the run: replaced whole.
    for (const auto& item : m_state.backup_items(m_id)) {
        if (item.kind != "path") {
            continue;
        }
        const fs::path live = m_root.host_path(without_slash(item.path));
        fs::remove_all(live);
        if (!item.existed) {
            continue;
        }
        std::error_code ec;
        if (fs::is_directory(item.copy)) {
            fs::create_directories(live.parent_path(), ec);
            fs::copy(item.copy, live, fs::copy_options::recursive | fs::copy_options::copy_symlinks, ec);
        } else {
            fs::create_directories(live.parent_path(), ec);
            fs::copy(item.copy, live, fs::copy_options::copy_symlinks, ec);
        }
        if (ec) {
            throw Error(ErrorKind::failed, "restoring " + live.string() + " from " + item.copy + ": " + ec.message());
        }
    }
}

void Run::remove_created_dirs() {
    auto items = m_state.backup_items(m_id);
    std::erase_if(items, [](const BackupItem& i) { return i.kind != "dir"; });
    // Deepest first, and only where the rollback left them empty.
    std::sort(items.begin(), items.end(), [](const BackupItem& a, const BackupItem& b) { return a.path > b.path; });
    for (const auto& item : items) {
        m_root.remove_dir_if_empty(item.path);
    }
}

void Run::reload_images() {
    if (!m_previous || m_previous->procedure.image_load.empty()) {
        return;
    }
    for (const auto& item : m_state.backup_items(m_id)) {
        if (item.kind != "image") {
            continue;
        }
        if (!item.existed) {
            m_notes.push_back("image " + item.path + " of " + m_previous->version.str() +
                              " was not kept on this node; load it again by hand");
            continue;
        }
        load_image(m_previous->procedure, item.path, item.copy, m_previous->version.str());
    }
    keep_images_of(*m_previous, [&](const schema::ManifestFile& f) { return m_state.layout().backup(m_id) / "images" / kept_image_name(f);
    });
}

void Run::keep_current(const fs::path& into) {
    fs::remove_all(into);
    fs::create_directories(into);
    for (const auto& item : m_state.backup_items(m_id)) {
        const fs::path live = m_root.host_path(without_slash(item.path));
        const fs::path copy = into / item.kind / without_slash(item.path).substr(1);
        if (item.kind == "file") {
            (void)m_root.copy_out(item.path, copy);
        } else if (item.kind == "path" && fs::exists(live)) {
            fs::create_directories(copy.parent_path());
            fs::copy(live, copy, fs::copy_options::recursive | fs::copy_options::copy_symlinks);
        } else if (item.kind == "sqlite" && fs::exists(live)) {
            backup_database(live, copy);
        }
    }
    sync_filesystem(into);
    say("  kept the data as it is now in " + into.string());
}

std::vector<std::string> Run::undo_summary() {
    std::vector<std::string> lines;
    const bool changed = begun("pre_install") || begun("install");
    if (changed) {
        lines.push_back("stop " + m_manifest.name + " " + m_manifest.version.str());
    }
    if (begun("migrate") && m_manifest.procedure.migrations) {
        lines.push_back("undo the migrations it applied to " + m_manifest.procedure.migrations->database);
    }
    std::size_t files = 0;
    for (const auto& item : m_state.backup_items(m_id)) {
        if (item.kind == "file") {
            ++files;
        } else if (item.kind == "path" && changed) {
            lines.push_back("restore " + item.path + " as it was before the run");
        }
    }
    if (changed) {
        lines.push_back("restore the " + std::to_string(files) + " file(s) it installed, replaced or removed");
    }
    if (begun("images") && m_previous && !m_previous->procedure.image_load.empty()) {
        lines.push_back("load the images of " + m_previous->version.str() + " again");
    }
    lines.push_back(m_previous ? "start " + m_previous->version.str() + " and check its health"
                               : std::string("leave nothing installed"));
    return lines;
}

void Run::roll_back(const std::optional<fs::path>& keep) {
    say("rolling back run " + std::to_string(m_id));
    const auto undo = [&](const std::string& name, const std::function<void()>& fn) {
        step("rollback:" + name, fn);
    };
    // Until the install (or the hook before it) begins, the node's files are as they were.
    const bool changed = begun("pre_install") || begun("install");
    if (changed || begun("start")) {
        undo("stop", [&] {
            try {
                run_hook(m_manifest.procedure, "stop", m_manifest.version.str());
            } catch (const Error& e) {
                if (e.kind() == ErrorKind::interrupted) {
                    throw;
                }
                m_notes.push_back(std::string("while rolling back: ") + e.what());
            }
        });
    }
    // Taken once: a second attempt must not copy over it what the first one changed back.
    if (keep && !done("rollback:keep")) {
        undo("keep", [&] { keep_current(*keep); });
    }
    undo("migrations", [&] { revert_migrations(); });
    if (changed) {
        undo("files", [&] {
            restore_files();
            restore_paths();
            remove_created_dirs();
            m_root.sync();
        });
    }
    if (begun("images")) {
        undo("images", [&] { reload_images(); });
    }
    if (m_previous) {
        undo("start", [&] { start_service(m_previous->procedure, m_previous->version.str()); });
        undo("health", [&] { check_health(m_previous->procedure, m_previous->version.str()); });
    }
}

} // namespace ferry::applier
