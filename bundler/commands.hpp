#pragma once

#include <CLI/CLI.hpp>

namespace ferry::bundler {

// `key generate --name NAME [--out-dir DIR] [--unencrypted] [--print-entry | --append-to TRUST] [--json]`.
void setup_key(CLI::App& app);
// `build SPEC --key K [--key K2 ...] [-o FILE | --out-dir DIR] [--level N] [--threads N] [--json]`.
void setup_build(CLI::App& app);
// `sign BUNDLE --key K [-o FILE] [--json]`, for a bundle or a trust bundle.
void setup_sign(CLI::App& app);
// `manifest BUNDLE [-o FILE]` and `attach BUNDLE SIG (--pub KEY.pub | --trust STORE)`: offline signing.
void setup_manifest(CLI::App& app);
void setup_attach(CLI::App& app);
// `split`: a bundle written as parts for media with a file size limit.
void setup_split(CLI::App& app);

// `trust build STORE --key K [--key K2 ...] [-o FILE | --out-dir DIR]`.
void setup_trust_bundle(CLI::App& app);

// Builds ferry-bundler's command line in APP: what run_bundler parses, and what its man page and
// completion are generated from.
void make_bundler_app(CLI::App& app);

// ferry-bundler's entry point.
[[nodiscard]] int run_bundler(int argc, char** argv);

} // namespace ferry::bundler
