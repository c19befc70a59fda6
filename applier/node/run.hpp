#pragma once

// One run of the single-node procedure: every step journaled before and after it runs, so an
// interrupted run can be finished (resume) or undone (rollback) from what the journal says.

#include "applier/node/command.hpp"
#include "applier/node/plan.hpp"
#include "applier/node/rootfs.hpp"
#include "applier/state/crash_point.hpp"
#include "applier/state/state.hpp"
#include "manifest-schema/manifest.hpp"

#include <functional>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace ferry::applier {

// The steps of an apply, in order; journaled by name.
enum class Step { stage, stop, backup, pre_install, install, migrate, images, post_install, start, health, commit };

// The steps of a rollback, in order; journaled as "rollback:NAME".
enum class UndoStep { stop, keep, migrations, files, images, start, health };

// The name STEP is journaled under ("stage", "rollback:files", ...).
[[nodiscard]] std::string step_name(Step step);
[[nodiscard]] std::string step_name(UndoStep step);

// The image files of M that go somewhere besides a dest: pushed by reference, or loaded by its
// image load command.
[[nodiscard]] std::vector<const schema::ManifestFile*> loaded_images(const schema::Manifest& m);

class Run {
public:
    Run(StateDb& state, RootFs& root, std::int64_t id, schema::Manifest manifest,
        std::optional<schema::Manifest> previous, bool progress);
    ~Run();
    Run(const Run&) = delete;
    Run& operator=(const Run&) = delete;

    [[nodiscard]] std::int64_t id() const { return m_id; }
    [[nodiscard]] std::filesystem::path dir() const;
    [[nodiscard]] std::filesystem::path staging() const { return m_state.layout().staging(m_id); }
    [[nodiscard]] const schema::Manifest& manifest() const { return m_manifest; }
    [[nodiscard]] const std::optional<schema::Manifest>& previous() const { return m_previous; }
    [[nodiscard]] std::vector<std::string>& notes() { return m_notes; }

    // Journals NAME's begin, runs FN, journals its end.
    void step(Step step, const std::function<void()>& fn);
    // Whether the journal records STEP as begun / done.
    [[nodiscard]] bool begun(Step step);
    [[nodiscard]] bool done(Step step);
    [[nodiscard]] bool done(UndoStep step);
    // A point where the tests may kill the applier (FERRY_TEST_CRASH_AT=NAME).
    void crash_point(const std::string& name) const;

    // Copies what the run will change (files, declared paths, databases, the images to load
    // again on rollback) and records the folders the install will create.
    void backup(const Plan& plan);
    // Runs the procedure's HOOK (stop, pre_install, post_install, start), if it has one.
    void run_hook(const schema::Procedure& procedure, const std::string& hook, const std::string& version);
    // Runs the stop hook if a version is installed, or always when FORCE (resume, after files
    // of this run may already be in place and running).
    void stop_service(bool force = false);
    void install(const Plan& plan);
    void migrate();
    // Loads the plan's image files with the bundle's load command, and pushes the images with
    // references to the node's image target, each checked against its signed digests first.
    void load_images(const Plan& plan);
    void start_service(const schema::Procedure& procedure, const std::string& version);
    void check_health(const schema::Procedure& procedure, const std::string& version);
    void commit();

    // Undoes whatever this run changed, from its backups; throws if that fails. With KEEP, the
    // databases, paths and files it changes back are first copied there, after the stop.
    void roll_back(const std::optional<std::filesystem::path>& keep = std::nullopt);
    // What roll_back will do, a line each, for the operator to read before it starts.
    [[nodiscard]] std::vector<std::string> undo_summary();

    // Logs a line of progress for the operator.
    void say(const std::string& line) const;

private:
    // Journals NAME's begin, runs FN, journals its end (or its interruption by a signal).
    void journaled(const std::string& name, const std::function<void()>& fn);
    [[nodiscard]] bool journal_has(const std::string& name, bool done_only);
    [[nodiscard]] std::map<std::string, std::string> vars() const;
    [[nodiscard]] std::map<std::string, std::string> env(const std::string& version) const;
    void revert_migrations();
    void restore_files();
    void restore_paths();
    void remove_created_dirs();
    void reload_images();
    // Pushes every image reference of M, each file taken from SOURCE(file), to the node's target.
    void push_images(const schema::Manifest& m,
                     const std::function<std::filesystem::path(const schema::ManifestFile&)>& source);
    void keep_current(const std::filesystem::path& into);
    void load_image(const schema::Procedure& procedure, const std::string& name, const std::filesystem::path& file,
                    const std::string& version);
    // Where the installed release's images are kept, by SHA-256, for a later rollback.
    [[nodiscard]] std::filesystem::path image_store() const;
    // Keeps M's loaded images in the image store, each taken from SOURCE(file); drops the rest.
    void keep_images_of(const schema::Manifest& m,
                        const std::function<std::filesystem::path(const schema::ManifestFile&)>& source);
    // The folders below the root that installing PLAN will create.
    [[nodiscard]] std::set<std::string> dirs_to_create(const Plan& plan) const;

    StateDb& m_state;
    RootFs& m_root;
    std::int64_t m_id;
    schema::Manifest m_manifest;
    std::optional<schema::Manifest> m_previous;
    bool m_progress;
    std::vector<std::string> m_notes;
};

} // namespace ferry::applier
