#include "bundler/build.hpp"
#include "bundler/split.hpp"
#include "bundler/trust.hpp"
#include "bundler/commands.hpp"

#include "core/cli/cli.hpp"
#include "core/error.hpp"
#include "keys/trust_bundle.hpp"

#include <cstdio>
#include <memory>

namespace ferry::bundler {

namespace {

// build --check-against: the rebuild's verdict on stdout; differences end with exit 3.
template <typename Args>
int check_against(const Args& args, const std::string& spec, const std::filesystem::path& bundle) {
    BuildOptions options;
    options.spec = spec;
    options.level = args.level;
    options.threads = args.threads;
    options.progress = !args.quiet;
    const RebuildCheck r = check_rebuild(options, bundle);
    if (r.identical) {
        std::printf("identical: rebuilding %s gives %s byte for byte (%llu bytes); its signatures hold for the rebuild\n",
                    spec.c_str(), bundle.string().c_str(), static_cast<unsigned long long>(r.size));
        return 0;
    }
    for (const auto& d : r.differences) {
        std::printf("differs: %s\n", d.c_str());
    }
    throw Error(ErrorKind::verification,
                "rebuilding " + spec + " does not give " + bundle.string() + ": " + std::to_string(r.differences.size()) +
                    " difference(s), listed above",
                "rebuild from the same sources with the same Ferry and zstd versions, level and chunk size");
}

} // namespace

void setup_build(CLI::App& app) {
    struct Args {
        std::string spec;
        std::vector<std::string> keys;
        std::string out = ".";
        int level = 3;
        int threads = 0;
        bool force = false;
        bool quiet = false;
        std::string split_size;
        std::string check_against;
        bool unsigned_bundle = false;
    };
    auto args = std::make_shared<Args>();
    CLI::App* cmd = app.add_subcommand("build", "Build and sign a bundle from a spec");
    cmd->add_option("spec", args->spec, "Bundle spec (YAML); its paths are relative to its folder")->required();
    CLI::Option* key_given = cmd->add_option("--key", args->keys, "Secret key to sign with (repeat for several)");
    cmd->add_option("-o,--out", args->out, "Folder to write NAME-VERSION.ferry into")->check(CLI::ExistingDirectory);
    cmd->add_option("--level", args->level, "zstd level")->check(CLI::Range(1, 19));
    cmd->add_option("--threads", args->threads, "Compression threads (0: one per core); the output is the same")
        ->check(CLI::Range(0, 256));
    cmd->add_flag("--force", args->force, "Replace an existing bundle");
    cmd->add_option("--split-size", args->split_size,
                    "Write the bundle as parts NAME-VERSION.ferry.001, ... of at most this size (e.g. 4G, 64M; "
                    "4294967295 for FAT32) with their parts list, instead of one file");
    cmd->add_option("--check-against", args->check_against,
                    "Rebuild as this bundle was built (its time, its signatures) and say whether every byte matches, "
                    "and where not; writes no bundle")
        ->excludes(key_given);
    cmd->add_flag("--unsigned", args->unsigned_bundle,
                  "Build with no signature, to be signed offline (sign, or manifest then attach); no node accepts it unsigned")
        ->excludes(key_given);
    cmd->add_flag("-q,--quiet", args->quiet, "No progress output");
    set_action(*cmd, [args] {
        if (!args->check_against.empty()) {
            return check_against(*args, args->spec, args->check_against);
        }
        const std::uint64_t split_size = args->split_size.empty() ? 0 : parse_size(args->split_size, "--split-size");
        BuildOptions options;
        options.spec = args->spec;
        options.keys.assign(args->keys.begin(), args->keys.end());
        options.out_dir = args->out;
        options.level = args->level;
        options.threads = args->threads;
        options.force = args->force;
        options.progress = !args->quiet;
        options.unsigned_bundle = args->unsigned_bundle;
        const BuildResult r = build_bundle(options);
        std::printf("built %s: %s %s, sequence %llu, %zu files, %llu bytes, %zu signature(s), expires %s\n",
                    r.bundle.string().c_str(), r.manifest.name.c_str(), r.manifest.version.str().c_str(),
                    static_cast<unsigned long long>(r.manifest.sequence), r.manifest.files.size(),
                    static_cast<unsigned long long>(r.manifest.payload.size), args->keys.size(),
                    format_time(r.manifest.expires).c_str());
        if (split_size != 0) {
            SplitOptions split;
            split.bundle = r.bundle;
            split.part_size = split_size;
            split.force = args->force;
            split.progress = !args->quiet;
            const SplitResult parts = split_bundle(split);
            std::filesystem::remove(r.bundle);
            std::printf("split into %zu parts of at most %llu bytes: %s ... %s, listed in %s\n", parts.parts.size(),
                        static_cast<unsigned long long>(split_size), parts.parts.front().file.c_str(),
                        parts.parts.back().file.c_str(), parts.list.string().c_str());
        }
        if (args->unsigned_bundle) {
            std::fprintf(stderr, "note: %s is unsigned: sign it (`ferry-bundler sign`, or `manifest` and `attach` for a "
                                 "signing station) before it is carried to a site\n",
                         r.bundle.string().c_str());
        }
        if (r.manifest.expires <= now()) {
            std::fprintf(stderr, "warning: %s is already expired; appliers will refuse it\n",
                         r.bundle.string().c_str());
        }
        return 0;
    });
}

void setup_sign(CLI::App& app) {
    struct Args {
        std::string bundle;
        std::string key;
        std::string out;
        bool quiet = false;
        bool detached = false;
    };
    auto args = std::make_shared<Args>();
    CLI::App* cmd = app.add_subcommand(
        "sign", "Add a signature to a bundle (the payload is copied, not recompressed) or to a trust bundle");
    cmd->add_option("bundle", args->bundle, "The .ferry bundle or trust bundle")->required();
    cmd->add_option("--key", args->key, "Secret key to sign with")->required();
    cmd->add_option("-o,--out", args->out, "Write the co-signed bundle here instead of replacing BUNDLE");
    cmd->add_flag("-q,--quiet", args->quiet, "No progress output");
    cmd->add_flag("--detached", args->detached,
                  "Sign FILE itself (a manifest written by `manifest`) into FILE.minisig, or -o, as minisign -S -l does");
    set_action(*cmd, [args] {
        if (args->detached) {
            const std::string id = sign_detached(args->bundle, args->key, args->out);
            std::printf("signed %s with key %s: %s\n", args->bundle.c_str(), id.c_str(),
                        (args->out.empty() ? args->bundle + ".minisig" : args->out).c_str());
            return 0;
        }
        const std::string id = keys::is_trust_bundle(args->bundle)
                                   ? sign_trust_bundle(args->bundle, args->key, args->out)
                                   : sign_bundle(args->bundle, args->key, args->out, !args->quiet);
        std::printf("signed %s with key %s\n", (args->out.empty() ? args->bundle : args->out).c_str(), id.c_str());
        return 0;
    });
}

void setup_split(CLI::App& app) {
    struct Args {
        std::string bundle;
        std::string size;
        std::string out;
        bool force = false;
        bool quiet = false;
    };
    auto args = std::make_shared<Args>();
    CLI::App* cmd = app.add_subcommand("split", "Write a bundle as numbered parts for media with a file size limit (nothing is recompressed)");
    cmd->add_option("bundle", args->bundle, "The .ferry bundle")->required();
    cmd->add_option("--size", args->size, "Largest part (e.g. 4G, 64M; default 4294967295, FAT32's limit)");
    cmd->add_option("-o,--out", args->out, "Folder to write the parts into (default: the bundle's)")->check(CLI::ExistingDirectory);
    cmd->add_flag("--force", args->force, "Replace existing parts");
    cmd->add_flag("-q,--quiet", args->quiet, "No progress output");
    set_action(*cmd, [args] {
        SplitOptions options;
        options.bundle = args->bundle;
        options.part_size = args->size.empty() ? k_default_part_size : parse_size(args->size, "--size");
        options.out_dir = args->out;
        options.force = args->force;
        options.progress = !args->quiet;
        const SplitResult r = split_bundle(options);
        for (const auto& p : r.parts) {
            std::printf("%s  %llu bytes, payload chunks %llu to %llu\n", (r.out_dir / p.file).string().c_str(),
                        static_cast<unsigned long long>(p.span.size),
                        static_cast<unsigned long long>(p.span.first_chunk + 1),
                        static_cast<unsigned long long>(p.span.end_chunk()));
        }
        std::printf("split %s into %zu parts, listed in %s (check them with sha256sum -c)\n", args->bundle.c_str(),
                    r.parts.size(), r.list.string().c_str());
        return 0;
    });
}

void setup_trust_bundle(CLI::App& app) {
    auto options = std::make_shared<TrustBuildOptions>();
    CLI::App* trust = app.add_subcommand("trust", "Build trust bundles, which change a node's trust store");
    trust->require_subcommand(1);
    CLI::App* cmd = trust->add_subcommand(
        "build", "Build trust-vN.ferry from a new trust store (version N: the current one plus one), signed by each key");
    cmd->add_option("store", options->store, "The new trust store (trust.yaml)")->required();
    cmd->add_option("--key", options->keys,
                    "Secret key of a trust key to sign with (repeat: the current store's and the new store's)")
        ->required();
    cmd->add_option("-o,--out", options->out_dir, "Folder to write trust-vN.ferry into")->check(CLI::ExistingDirectory);
    cmd->add_flag("--force", options->force, "Replace an existing trust bundle");
    set_action(*cmd, [options] {
        const TrustBuildResult r = build_trust_bundle(*options);
        std::string ids;
        for (const auto& id : r.signers) {
            ids += (ids.empty() ? "" : ", ") + id;
        }
        std::printf("built %s: trust store version %llu, signed by %s\n", r.bundle.string().c_str(),
                    static_cast<unsigned long long>(r.version), ids.c_str());
        return 0;
    });
}

} // namespace ferry::bundler
