#include "bundler/commands.hpp"

#include "core/cli/cli.hpp"
#include "keys/cli/commands.hpp"

namespace ferry::bundler {

int run_bundler(int argc, char** argv) {
    CLI::App app("ferry-bundler: build, sign and check Ferry bundles", "ferry-bundler");
    app.set_version_flag("--version", "ferry-bundler " FERRY_VERSION);
    for (const auto setup : {setup_key, setup_build, setup_sign, keys::setup_inspect, keys::setup_verify}) {
        setup(app);
    }
    return run_tool("ferry-bundler", app, argc, argv);
}

} // namespace ferry::bundler
