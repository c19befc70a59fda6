#pragma once

// One run of the single-node procedure: every step journaled before and after it runs, so an
// interrupted run can be finished (resume) or undone (rollback) from what the journal says.

#include "applier/command.hpp"
#include "applier/plan.hpp"
#include "applier/rootfs.hpp"
#include "applier/state.hpp"
#include "manifest-schema/manifest.hpp"

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace ferry::applier {

// The steps of an apply, in order.
inline const std::vector<std::string> k_steps = {"stage", "backup", "stop",  "install",
                                                 "migrate", "start", "health", "commit"};

class Run {
public:
    Run(StateDb& state, RootFs& root, std::int64_t id, schema::Manifest manifest,
        std::optional<schema::Manifest> previous, bool progress);

    [[nodiscard]] std::int64_t id() const { return m_id; }
    [[nodiscard]] std::filesystem::path dir() const;
    [[nodiscard]] std::filesystem::path staging() const { return dir() / "staging"; }
    [[nodiscard]] const schema::Manifest& manifest() const { return m_manifest; }
    [[nodiscard]] const std::optional<schema::Manifest>& previous() const { return m_previous; }
    [[nodiscard]] std::vector<std::string>& notes() { return m_notes; }

    // Journals NAME's begin, runs FN, journals its end.
    void step(const std::string& name, const std::function<void()>& fn);
    // Whether the journal records NAME as begun / done.
    [[nodiscard]] bool begun(const std::string& name);
    [[nodiscard]] bool done(const std::string& name);
    // A point where the tests may kill the applier (FERRY_TEST_CRASH_AT=NAME).
    void crash_point(const std::string& name) const;

    void backup(const Plan& plan);
    // Runs the stop hook if a version is installed, or always when FORCE (resume, after files
    // of this run may already be in place and running).
    void stop_service(bool force = false);
    void install(const Plan& plan);
    void migrate();
    void start_service(const schema::Procedure& procedure, const std::string& version);
    void check_health(const schema::Procedure& procedure, const std::string& version);
    void commit();

    // Undoes whatever this run changed, from its backups; throws if that fails.
    void roll_back();

    // Logs a line of progress for the operator.
    void say(const std::string& line) const;

private:
    [[nodiscard]] std::map<std::string, std::string> vars() const;
    [[nodiscard]] std::map<std::string, std::string> env(const std::string& version) const;
    void run_hook(const schema::Procedure& procedure, const std::string& hook, const std::string& version);
    void revert_migrations();
    void restore_files();

    StateDb& m_state;
    RootFs& m_root;
    std::int64_t m_id;
    schema::Manifest m_manifest;
    std::optional<schema::Manifest> m_previous;
    bool m_progress;
    std::vector<std::string> m_notes;
};

} // namespace ferry::applier
