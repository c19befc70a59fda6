#include "applier/node/run.hpp"
#include "applier/node/run_parts.hpp"

#include "applier/node/migrations.hpp"
#include "core/error.hpp"
#include "core/fs.hpp"

#include <set>
#include <sys/stat.h>

namespace ferry::applier {

namespace fs = std::filesystem;
using detail::kept_image_name;
using detail::link_or_copy;
using detail::without_slash;

// Backups before a run changes anything, and putting them back.

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
        for (std::size_t slash = dest.find('/', 1); slash != std::string::npos;
             slash = dest.find('/', slash + 1)) {
            const std::string dir = dest.substr(0, slash);
            if (missing.count(dir) != 0 || !m_root.exists(dir)) {
                missing.insert(dir);
            }
        }
    }
    return missing;
}

void Run::backup(const Plan& plan) {
    const fs::path base = m_state.layout().backup(m_id);
    // A backup interrupted before it was journaled as done is taken again from scratch.
    fs::remove_all(base);
    // The items go into the state database in one transaction (one sync, not one per item):
    // until the step is journaled as done they only matter as a whole.
    Transaction tx(m_state.db());
    m_state.clear_backup_items(m_id);
    for (const auto& a : plan.files) {
        if (a.kind == FileAction::Kind::unchanged) {
            continue;
        }
        const fs::path copy = base / "files" / a.dest.substr(1);
        const bool existed = m_root.copy_out(a.dest, copy);
        m_state.add_backup_item(m_id, {BackupKind::file, a.dest, existed, existed ? copy.string() : ""});
    }
    for (const auto& p : m_manifest.procedure.backup_paths) {
        const fs::path source = m_root.host_path(p.back() == '/' ? p.substr(0, p.size() - 1) : p);
        const fs::path copy = base / "paths" / p.substr(1);
        std::error_code ec;
        const bool existed = fs::exists(source, ec);
        if (existed) {
            fs::create_directories(copy.parent_path());
            fs::copy(source, copy, fs::copy_options::recursive | fs::copy_options::copy_symlinks,
                     ec);
            if (ec) {
                throw Error(ErrorKind::io, "backing up " + source.string() + ": " + ec.message());
            }
        }
        m_state.add_backup_item(m_id, {BackupKind::path, p, existed, existed ? copy.string() : ""});
    }
    std::set<std::string> databases(m_manifest.procedure.backup_sqlite.begin(),
                                    m_manifest.procedure.backup_sqlite.end());
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
        m_state.add_backup_item(m_id, {BackupKind::sqlite, db, existed, existed ? copy.string() : ""});
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
        m_state.add_backup_item(m_id, {BackupKind::ledger, mig->database, true, ids});
    }
    for (const auto& d : dirs_to_create(plan)) {
        m_state.add_backup_item(m_id, {BackupKind::dir, d, false, ""});
    }
    if (m_previous) {
        for (const auto* f : loaded_images(*m_previous)) {
            const fs::path kept = image_store() / kept_image_name(*f);
            const fs::path copy = base / "images" / kept_image_name(*f);
            const bool existed = fs::exists(kept);
            if (existed) {
                link_or_copy(kept, copy);
            }
            m_state.add_backup_item(m_id,
                                    {BackupKind::image, f->path, existed, existed ? copy.string() : ""});
        }
    }
    tx.commit();
    fs::create_directories(base);
    sync_filesystem(base);
    say("  backed up " + std::to_string(m_state.backup_items(m_id).size()) + " item(s) to " +
        base.string());
}

void Run::restore_files() {
    // Only what differs from the backup is touched, and every item is tried even if one
    // fails: a file the install never reached is left alone, so a read-only folder it failed
    // on does not stop the rest of the rollback.
    std::string failures;
    const auto items = m_state.backup_items(m_id);
    for (auto it = items.rbegin(); it != items.rend(); ++it) {
        if (it->kind != BackupKind::file) {
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
        if (item.kind != BackupKind::path) {
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
            fs::copy(item.copy, live, fs::copy_options::recursive | fs::copy_options::copy_symlinks,
                     ec);
        } else {
            fs::create_directories(live.parent_path(), ec);
            fs::copy(item.copy, live, fs::copy_options::copy_symlinks, ec);
        }
        if (ec) {
            throw Error(ErrorKind::failed,
                        "restoring " + live.string() + " from " + item.copy + ": " + ec.message());
        }
    }
}

void Run::remove_created_dirs() {
    auto items = m_state.backup_items(m_id);
    std::erase_if(items, [](const BackupItem& i) { return i.kind != BackupKind::dir; });
    // Deepest first, and only where the rollback left them empty.
    std::sort(items.begin(), items.end(),
              [](const BackupItem& a, const BackupItem& b) { return a.path > b.path; });
    for (const auto& item : items) {
        m_root.remove_dir_if_empty(item.path);
    }
}

void Run::keep_current(const fs::path& into) {
    fs::remove_all(into);
    fs::create_directories(into);
    for (const auto& item : m_state.backup_items(m_id)) {
        const fs::path live = m_root.host_path(without_slash(item.path));
        const fs::path copy = into / kind_name(item.kind) / without_slash(item.path).substr(1);
        if (item.kind == BackupKind::file) {
            (void)m_root.copy_out(item.path, copy);
        } else if (item.kind == BackupKind::path && fs::exists(live)) {
            fs::create_directories(copy.parent_path());
            fs::copy(live, copy, fs::copy_options::recursive | fs::copy_options::copy_symlinks);
        } else if (item.kind == BackupKind::sqlite && fs::exists(live)) {
            backup_database(live, copy);
        }
    }
    sync_filesystem(into);
    say("  kept the data as it is now in " + into.string());
}

} // namespace ferry::applier
