#include "probe.hpp"

#include "applier/node/command.hpp"
#include "applier/state/state.hpp"
#include "core/error.hpp"
#include "manifest-schema/manifest.hpp"

#include <cstdlib>
#include <unistd.h>

namespace ferry::applier {

namespace fs = std::filesystem;

namespace {

// A scratch log for one command, removed when destroyed.
struct ScratchLog {
    ScratchLog() {
        std::string tmpl = (fs::temp_directory_path() / "ferry-probe-XXXXXX").string();
        const int fd = ::mkstemp(tmpl.data());
        if (fd < 0) {
            throw_errno("creating a temporary file");
        }
        ::close(fd);
        path = tmpl;
    }
    ~ScratchLog() {
        std::error_code ec;
        fs::remove(path, ec);
    }
    fs::path path;
};

} // namespace

namespace {

// The installed release, and how its commands are expanded and run below ROOT.
struct Installed {
    schema::Manifest manifest;
    std::map<std::string, std::string> vars;
    std::map<std::string, std::string> env;
};

std::optional<Installed> installed_release(const fs::path& root, const fs::path& state_dir) {
    if (!fs::exists(StateLayout(state_dir).database())) {
        return std::nullopt;
    }
    StateDb state(state_dir);
    const auto installed = state.installed();
    if (!installed) {
        return std::nullopt;
    }
    const fs::path absolute = fs::absolute(root).lexically_normal();
    return Installed{schema::parse_manifest(installed->manifest, "installed manifest"),
                     {{"root", absolute == "/" ? "" : absolute.string()}},
                     {{"FERRY_ROOT", absolute.string()}, {"FERRY_VERSION", installed->version}}};
}

} // namespace

void step_down(const fs::path& root, const fs::path& state_dir) {
    const auto release = installed_release(root, state_dir);
    if (!release || release->manifest.procedure.cluster.step_down.empty()) {
        throw Error(ErrorKind::usage, "the installed release has no cluster.step_down command");
    }
    const ScratchLog log;
    const std::chrono::seconds timeout(120);
    const CommandResult r = run_command(
        {expand(release->manifest.procedure.cluster.step_down, release->vars), timeout, release->env, log.path, {}});
    if (r.exit_code != 0) {
        throw Error(ErrorKind::failed, "cluster.step_down failed: " + describe(r, timeout));
    }
}

NodeProbe probe_node(const fs::path& root, const fs::path& state_dir) {
    NodeProbe probe;
    const auto release = installed_release(root, state_dir);
    if (!release) {
        probe.detail = "nothing installed";
        return probe;
    }
    const schema::Manifest& m = release->manifest;
    const auto& vars = release->vars;
    const auto& env = release->env;
    if (!m.procedure.cluster.role.empty()) {
        const ScratchLog log;
        const CommandResult r =
            run_command({expand(m.procedure.cluster.role, vars), std::chrono::seconds(30), env, log.path, {}});
        std::string out = r.output_tail;
        while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) {
            out.pop_back();
        }
        if (r.exit_code == 0 && (out == "leader" || out == "follower")) {
            probe.role = out;
        } else {
            probe.role = "unknown";
            probe.detail = "cluster.role: " + describe(r, std::chrono::seconds(30));
        }
    }
    if (!m.procedure.cluster.synced.empty()) {
        const ScratchLog log;
        const CommandResult r =
            run_command({expand(m.procedure.cluster.synced, vars), std::chrono::seconds(30), env, log.path, {}});
        probe.synced = r.exit_code == 0;
    }
    probe.healthy = true;
    for (const auto& check : m.procedure.health) {
        const ScratchLog log;
        const std::chrono::seconds timeout(check.timeout);
        const CommandResult r = run_command({expand(check.command, vars), timeout, env, log.path, {}});
        if (r.exit_code != 0) {
            probe.healthy = false;
            probe.detail = "health check \"" + check.name + "\": " + describe(r, timeout);
            break;
        }
    }
    return probe;
}

} // namespace ferry::applier
