#include "plan.hpp"

#include "applier/node/envfile.hpp"
#include "applier/node/migrations.hpp"
#include "core/build_info.hpp"
#include "core/error.hpp"

#include <algorithm>
#include <set>
#include <sys/statvfs.h>

namespace ferry::applier {

namespace {

std::uint64_t free_space(const std::filesystem::path& dir) {
    struct statvfs st {};
    if (::statvfs(dir.c_str(), &st) != 0) {
        return 0;
    }
    return static_cast<std::uint64_t>(st.f_bavail) * st.f_frsize;
}

std::string mib(std::uint64_t bytes) { return std::to_string((bytes + (1u << 20) - 1) >> 20) + " MiB"; }

void check_policy(Plan& plan, const schema::Manifest& m, StateDb& state, const std::optional<InstalledInfo>& installed,
                  const PolicyOptions& options) {
    if (const auto problem = applier_too_old(m)) {
        // First, so that apply and stage name it: the rest was judged by rules this applier may not know.
        plan.refusals.push_back(*problem);
    }
    const auto product = state.meta("product");
    const auto channel = state.meta("channel");
    if (product && *product != m.compatible.product) {
        plan.refusals.push_back("bundle is for product \"" + m.compatible.product + "\", this site runs \"" +
                                *product + "\"");
    }
    if (channel && *channel != m.compatible.channel) {
        plan.refusals.push_back("bundle is for channel \"" + m.compatible.channel + "\", this site follows \"" +
                                *channel + "\"");
    }
    const auto highest = state.meta("highest_sequence");
    if (highest && static_cast<std::int64_t>(m.sequence) < std::stoll(*highest) && !options.allow_downgrade) {
        plan.refusals.push_back("bundle sequence " + std::to_string(m.sequence) +
                                " is older than the newest this site has applied (" + *highest +
                                "); pass --allow-downgrade to go back on purpose");
    }
    const auto latest = state.meta("latest_created");
    if (latest && m.created < std::stoll(*latest) && !options.allow_downgrade) {
        plan.refusals.push_back("bundle was signed at " + format_time(m.created) +
                                ", before the newest bundle this site has applied (" +
                                format_time(std::stoll(*latest)) + "); pass --allow-downgrade to go back on purpose");
    }
    if (plan.already_installed) {
        // Nothing changes version: the upgrade path, a major step and breaking changes were
        // all judged when this very release was applied.
        return;
    }
    const schema::Version from = installed ? *schema::parse_version(installed->version) : schema::Version{};
    const auto range = schema::parse_range(m.upgrade_from);
    if (!range || !range->contains(from)) {
        plan.refusals.push_back("this bundle upgrades versions " + m.upgrade_from + ", and " +
                                (installed ? "version " + installed->version + " is installed"
                                           : std::string("nothing is installed (counted as 0.0.0)")));
    }
    if (installed && m.version.major > from.major && !options.allow_major) {
        plan.refusals.push_back("upgrade from " + installed->version + " to " + m.version.str() +
                                " is a major upgrade; read the release notes and pass --allow-major");
    }
    if (installed && m.version.compare(from) < 0 && !options.allow_downgrade) {
        plan.refusals.push_back("version " + m.version.str() + " is older than the installed " + installed->version +
                                "; pass --allow-downgrade to go back on purpose");
    }
    if (!m.breaking_changes.empty() && !options.ack_breaking) {
        plan.refusals.push_back("the bundle declares " + std::to_string(m.breaking_changes.size()) +
                                " breaking change(s); read them and pass --ack-breaking");
    }
}

} // namespace

std::optional<std::string> applier_too_old(const schema::Manifest& m) {
    const auto running = schema::parse_version(build_version());
    if (!m.min_applier_version || !running || running->compare(*m.min_applier_version) >= 0) {
        return std::nullopt;
    }
    const std::string need = m.min_applier_version->str();
    return "this bundle needs ferry-applier " + need + " or newer, and this is ferry-applier " + running->str() +
           ": install ferry-applier " + need + " first (it may come as a bundle of its own), then apply this bundle";
}

std::string action_word(FileAction::Kind kind) {
    switch (kind) {
    case FileAction::Kind::create:
        return "new";
    case FileAction::Kind::replace:
        return "replace";
    case FileAction::Kind::unchanged:
        return "unchanged";
    case FileAction::Kind::keep_site:
        return "keep site's";
    case FileAction::Kind::merge_env:
        return "merge";
    case FileAction::Kind::remove:
        return "remove";
    }
    return "?";
}

Plan make_plan(const schema::Manifest& m, StateDb& state, const RootFs& root, const PolicyOptions& options,
               const std::filesystem::path& space_dir) {
    Plan plan;
    plan.name = m.name;
    plan.to_version = m.version.str();
    plan.sequence = m.sequence;
    const auto installed = state.installed();
    if (installed) {
        plan.from_version = installed->version;
        plan.already_installed = installed->version == plan.to_version &&
                                 installed->sequence == static_cast<std::int64_t>(m.sequence);
    }
    check_policy(plan, m, state, installed, options);

    const auto recorded = state.installed_files();
    std::set<std::string> dests;
    for (const auto& f : m.files) {
        plan.stage_bytes += f.size;
        if (f.role == "image" && f.images.empty() && !m.procedure.image_load.empty()) {
            plan.image_loads.push_back(f.path);
        }
        if (f.dest.empty()) {
            continue;
        }
        dests.insert(f.dest);
        FileAction a{FileAction::Kind::create, f.dest, f.path, f.role, f.config_mode, f.mode, f.size, to_hex(f.sha256), ""};
        const auto current = root.hash(f.dest);
        if (current) {
            plan.backup_bytes += f.size;
            a.kind = *current == f.sha256 ? FileAction::Kind::unchanged : FileAction::Kind::replace;
            const auto record = recorded.find(f.dest);
            const bool site_edited = record == recorded.end() || record->second.sha256 != to_hex(*current);
            if (a.kind == FileAction::Kind::replace && f.config_mode == "keep" && site_edited) {
                a.kind = FileAction::Kind::keep_site;
                a.note = "the site edited " + f.dest + "; the new version goes beside it as " + f.dest + ".ferry-new";
                a.dest = f.dest + ".ferry-new";
            } else if (a.kind == FileAction::Kind::replace && f.config_mode == "merge-env") {
                a.kind = FileAction::Kind::merge_env;
            }
        }
        plan.files.push_back(std::move(a));
    }
    for (const auto& [dest, rec] : recorded) {
        // A site's config stays, and so does an applier a later bundle no longer carries:
        // removing it would leave the node without the program that applies bundles.
        if (dests.count(dest) == 0 && rec.role != "config" && rec.role != "applier" && root.is_file(dest)) {
            plan.files.push_back({FileAction::Kind::remove, dest, "", rec.role, "", 0, 0, "", "no longer in the bundle"});
        }
    }

    // The applier goes last, after every other file and removal: a run that stops before it
    // leaves the running applier in place, and the new one is only ever started by a later command.
    std::stable_partition(plan.files.begin(), plan.files.end(), [](const FileAction& a) { return a.role != "applier"; });

    if (m.procedure.migrations) {
        const auto db_path = root.host_path(m.procedure.migrations->database);
        plan.database = db_path.string();
        std::map<std::string, std::string> ledger;
        if (std::filesystem::exists(db_path)) {
            Database db(db_path, false, ErrorKind::input);
            ledger = migration_ledger(db);
        }
        for (const auto& step : m.procedure.migrations->steps) {
            (ledger.count(step.id) != 0 ? plan.applied_migrations : plan.pending_migrations).push_back(step.id);
        }
    }
    for (const auto& a : plan.files) {
        if (a.kind == FileAction::Kind::replace || a.kind == FileAction::Kind::merge_env ||
            a.kind == FileAction::Kind::remove) {
            plan.backups.push_back("file " + a.dest);
        }
    }
    for (const auto& p : m.procedure.backup_paths) {
        plan.backups.push_back("path " + p);
    }
    std::set<std::string> databases(m.procedure.backup_sqlite.begin(), m.procedure.backup_sqlite.end());
    if (m.procedure.migrations) {
        databases.insert(m.procedure.migrations->database);
    }
    for (const auto& db : databases) {
        plan.backups.push_back("sqlite " + db + " (online backup, integrity_check)");
        std::error_code ec;
        const auto size = std::filesystem::file_size(root.host_path(db), ec);
        plan.backup_bytes += ec ? 0 : size;
    }
    std::filesystem::path where = space_dir;
    while (!std::filesystem::exists(where) && where.has_parent_path() && where != where.parent_path()) {
        where = where.parent_path();
    }
    plan.free_bytes = free_space(where);
    const std::uint64_t needed = plan.stage_bytes + plan.backup_bytes + (16u << 20);
    if (plan.free_bytes < needed && !plan.already_installed) {
        plan.refusals.push_back("not enough disk space in " + space_dir.string() + ": staging and backups need " +
                                mib(needed) + ", " + mib(plan.free_bytes) + " free");
    }
    return plan;
}

void enforce(const Plan& plan) {
    if (!plan.refusals.empty()) {
        std::string hint;
        if (plan.refusals.size() > 1) {
            hint = std::to_string(plan.refusals.size() - 1) + " more problem(s): run `ferry-applier plan` to see them all";
        }
        throw Error(ErrorKind::policy, "refused: " + plan.refusals.front(), hint);
    }
}

} // namespace ferry::applier
