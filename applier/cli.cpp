#include "applier/commands.hpp"

#include "core/build_info.hpp"
#include "core/cli/cli.hpp"
#include "keys/cli/commands.hpp"

namespace ferry::applier {

void make_applier_app(CLI::App& app) {
    app.name("ferry-applier");
    app.description("ferry-applier: verify Ferry bundles and apply them at the site");
    app.set_version_flag("--version", "ferry-applier " + std::string(build_version()));
    for (const auto setup : {keys::setup_verify, keys::setup_inspect, setup_plan, setup_stage, setup_apply, setup_prune, setup_step_down, setup_status, setup_history,
                             setup_audit, setup_trust}) {
        setup(app);
    }
    add_console_options(app);
}

int run_applier(int argc, char** argv) {
    CLI::App app;
    make_applier_app(app);
    return run_tool("ferry-applier", app, argc, argv);
}

} // namespace ferry::applier
