#include "applier/node/run.hpp"
#include "applier/node/run_parts.hpp"

#include "applier/node/migrations.hpp"
#include "core/error.hpp"
#include "core/fs.hpp"

#include <algorithm>
#include <set>

namespace ferry::applier {

namespace fs = std::filesystem;
using detail::kept_image_name;
using detail::link_or_copy;
using detail::without_slash;

// Undoing a run from its backups.

void Run::revert_migrations() {
    const auto& mig = m_manifest.procedure.migrations;
    if (!mig) {
        return;
    }
    std::set<std::string> before;
    std::optional<BackupItem> db_backup;
    bool have_ledger = false;
    for (const auto& item : m_state.backup_items(m_id)) {
        if (item.kind == BackupKind::ledger) {
            have_ledger = true;
            for (std::size_t start = 0, end;
                 (end = item.copy.find('\n', start)) != std::string::npos; start = end + 1) {
                before.insert(item.copy.substr(start, end - start));
            }
        } else if (item.kind == BackupKind::sqlite && item.path == mig->database) {
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

std::vector<std::string> Run::undo_summary() {
    std::vector<std::string> lines;
    const bool changed = begun(Step::pre_install) || begun(Step::install);
    if (changed) {
        lines.push_back("stop " + m_manifest.name + " " + m_manifest.version.str());
    }
    if (begun(Step::migrate) && m_manifest.procedure.migrations) {
        lines.push_back("undo the migrations it applied to " +
                        m_manifest.procedure.migrations->database);
    }
    std::size_t files = 0;
    for (const auto& item : m_state.backup_items(m_id)) {
        if (item.kind == BackupKind::file) {
            ++files;
        } else if (item.kind == BackupKind::path && changed) {
            lines.push_back("restore " + item.path + " as it was before the run");
        }
    }
    if (changed) {
        lines.push_back("restore the " + std::to_string(files) +
                        " file(s) it installed, replaced or removed");
    }
    if (begun(Step::images) && m_previous && !loaded_images(*m_previous).empty()) {
        lines.push_back("load or push the images of " + m_previous->version.str() + " again");
    }
    lines.push_back(m_previous ? "start " + m_previous->version.str() + " and check its health"
                               : std::string("leave nothing installed"));
    return lines;
}

void Run::roll_back(const std::optional<fs::path>& keep) {
    say("rolling back run " + std::to_string(m_id));
    const auto undo = [&](UndoStep undo_step, const std::function<void()>& fn) { journaled(step_name(undo_step), fn); };
    // Until the install (or the hook before it) begins, the node's files are as they were.
    const bool changed = begun(Step::pre_install) || begun(Step::install);
    if (changed || begun(Step::start)) {
        undo(UndoStep::stop, [&] {
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
    if (keep && !done(UndoStep::keep)) {
        undo(UndoStep::keep, [&] { keep_current(*keep); });
    }
    undo(UndoStep::migrations, [&] { revert_migrations(); });
    if (changed) {
        undo(UndoStep::files, [&] {
            restore_files();
            restore_paths();
            remove_created_dirs();
            m_root.sync();
        });
    }
    if (begun(Step::images)) {
        undo(UndoStep::images, [&] { reload_images(); });
    }
    if (m_previous) {
        undo(UndoStep::start, [&] { start_service(m_previous->procedure, m_previous->version.str()); });
        undo(UndoStep::health, [&] { check_health(m_previous->procedure, m_previous->version.str()); });
    }
}

} // namespace ferry::applier
