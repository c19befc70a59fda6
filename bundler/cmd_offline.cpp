// Offline signing: the manifest carried to a signing station, its signature carried back.

#include "bundler/build.hpp"
#include "bundler/commands.hpp"

#include "core/cli/cli.hpp"
#include "core/error.hpp"
#include "core/fs.hpp"
#include "keys/key_file.hpp"

#include <cstdio>
#include <memory>

namespace ferry::bundler {

void setup_manifest(CLI::App& app) {
    struct Args {
        std::string bundle;
        std::string out;
        bool force = false;
    };
    auto args = std::make_shared<Args>();
    CLI::App* cmd = app.add_subcommand("manifest", "Write a bundle's manifest.yaml, the exact bytes its signatures cover, for an offline signing station");
    cmd->add_option("bundle", args->bundle, "The .ferry bundle (signed or built with --unsigned)")->required();
    cmd->add_option("-o,--output", args->out, "File to write (default: standard output)")->type_name("FILE");
    cmd->add_flag("--force", args->force, "Replace an existing file");
    set_action(*cmd, [args] {
        const std::string bytes = manifest_bytes(args->bundle);
        if (args->out.empty()) {
            std::fwrite(bytes.data(), 1, bytes.size(), stdout);
            return 0;
        }
        refuse_to_replace(args->out, args->force);
        write_file_atomic(args->out, bytes);
        std::fprintf(stderr, "wrote %s (%zu bytes): sign it with `minisign -S -l -m %s` or `ferry-bundler sign %s --detached --key K`, "
                             "then `ferry-bundler attach %s %s.minisig`\n",
                     args->out.c_str(), bytes.size(), args->out.c_str(), args->out.c_str(), args->bundle.c_str(), args->out.c_str());
        return 0;
    });
}

void setup_attach(CLI::App& app) {
    struct Args {
        std::string bundle;
        std::string signature;
        std::string pub;
        std::string trust;
        std::string out;
    };
    auto args = std::make_shared<Args>();
    CLI::App* cmd = app.add_subcommand("attach", "Add a signature made offline (minisign -S -l, or sign --detached) of a bundle's manifest");
    cmd->add_option("bundle", args->bundle, "The .ferry bundle")->required();
    cmd->add_option("signature", args->signature, "The minisign signature file of its manifest.yaml")->required();
    CLI::Option* pub = cmd->add_option("--pub", args->pub, "The signer's minisign public key file, to check the signature with");
    CLI::Option* trust = cmd->add_option("--trust", args->trust, "Or a trust store holding the signer's key");
    pub->excludes(trust);
    cmd->add_option("-o,--output", args->out, "Write the signed bundle to this file instead of replacing BUNDLE")
        ->type_name("FILE");
    set_action(*cmd, [args] {
        if (args->pub.empty() && args->trust.empty()) {
            throw Error(ErrorKind::usage, "attach needs the signer's key to check the signature with",
                        "pass --pub SIGNER.pub or --trust trust.yaml");
        }
        std::unique_ptr<keys::PublicKey> key;
        std::unique_ptr<keys::TrustStore> store;
        if (!args->pub.empty()) {
            key = std::make_unique<keys::PublicKey>(keys::read_public_key_file(args->pub));
        } else {
            store = std::make_unique<keys::TrustStore>(keys::load_trust_store(args->trust));
        }
        const AttachResult r = attach_signature(args->bundle, args->signature, key.get(), store.get(), args->out, true);
        std::printf("attached to %s the signature by key %s%s\n", (args->out.empty() ? args->bundle : args->out).c_str(),
                    r.key_id.c_str(), r.key_name.empty() ? "" : (" (" + r.key_name + ")").c_str());
        return 0;
    });
}

} // namespace ferry::bundler
