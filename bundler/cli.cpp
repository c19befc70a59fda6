#include "bundler/commands.hpp"

#include "core/build_info.hpp"
#include "core/cli/cli.hpp"
#include "keys/cli/commands.hpp"

namespace ferry::bundler {

void make_bundler_app(CLI::App& app) {
    app.name("ferry-bundler");
    app.description("ferry-bundler: build, sign and check Ferry bundles");
    app.set_version_flag("--version", "ferry-bundler " + std::string(build_version()));
    for (const auto setup : {setup_key, setup_build, setup_sign, setup_manifest, setup_attach, setup_split, setup_trust_bundle, keys::setup_inspect, keys::setup_verify}) {
        setup(app);
    }
    add_console_options(app);
}

int run_bundler(int argc, char** argv) {
    CLI::App app;
    make_bundler_app(app);
    return run_tool("ferry-bundler", app, argc, argv);
}

} // namespace ferry::bundler
