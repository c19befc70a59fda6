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

NodeProbe probe_node(const fs::path& root, const fs::path& state_dir) {
    NodeProbe probe;
    if (!fs::exists(StateLayout(state_dir).database())) {
        probe.detail = "nothing installed";
        return probe;
    }
    StateDb state(state_dir);
    const auto installed = state.installed();
    if (!installed) {
        probe.detail = "nothing installed";
        return probe;
    }
    const schema::Manifest m = schema::parse_manifest(installed->manifest, "installed manifest");
    const std::string root_var = fs::absolute(root).lexically_normal() == "/" ? "" : fs::absolute(root).string();
    const std::map<std::string, std::string> vars = {{"root", root_var}};
    const std::map<std::string, std::string> env = {{"FERRY_ROOT", fs::absolute(root).string()},
                                                    {"FERRY_VERSION", installed->version}};
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
