#include "bundler/build.hpp"
#include "bundler/split.hpp"
#include "bundler/trust.hpp"
#include "bundler/commands.hpp"

#include "core/cli/cli.hpp"
#include "core/console.hpp"
#include "core/error.hpp"
#include "core/json.hpp"
#include "keys/passphrase.hpp"
#include "keys/trust_bundle.hpp"

#include <algorithm>
#include <cstdio>
#include <memory>
#include <optional>

namespace ferry::bundler {

namespace {

namespace fs = std::filesystem;

// Where a command that writes one file writes it: -o FILE, or a default name in --out-dir DIR.
struct Output {
    fs::path file; // empty: the default name in dir
    fs::path dir = ".";
};

// Resolves -o/--output FILE and --out-dir DIR (which exclude each other), checking the folder
// exists before any work. An existing folder given as -o is taken as --out-dir, as -o meant
// before it always named a file.
Output resolve_output(const std::string& output, const std::string& out_dir) {
    Output out;
    if (output.empty()) {
        out.dir = out_dir.empty() ? "." : out_dir;
        require_output_folder(out.dir, "--out-dir");
        return out;
    }
    std::error_code ec;
    if (fs::is_directory(output, ec)) {
        out.dir = output;
        return out;
    }
    if (output.back() == '/') {
        require_output_folder(output, "-o");
    }
    out.file = output;
    const fs::path parent = out.file.parent_path();
    require_output_folder(parent.empty() ? fs::path(".") : parent, "the folder of -o " + output);
    return out;
}

// Adds -o/--output FILE and --out-dir DIR to CMD, for a command that writes one file named
// DEFAULT_NAME by default.
void add_output_options(CLI::App* cmd, std::string& output, std::string& out_dir, const std::string& default_name) {
    CLI::Option* o = cmd->add_option("-o,--output", output,
                                     "Write the file here (an existing folder: " + default_name + " in it)")
                        ->type_name("FILE");
    CLI::Option* d = cmd->add_option("--out-dir", out_dir, "Existing folder to write " + default_name + " into (default: .)")
                         ->type_name("DIR");
    o->excludes(d);
}

// Adds --passphrase-file KEY=FILE (repeatable) to CMD.
void add_passphrase_file_option(CLI::App* cmd, std::vector<std::string>& specs) {
    cmd->add_option("--passphrase-file", specs,
                    "KEY=FILE: read the passphrase of the secret key KEY (as given to --key) from the first line of "
                    "FILE, which only its owner may read (mode 0600); repeat, one per key")
        ->type_name("KEY=FILE");
}

// Registers each --passphrase-file KEY=FILE of SPECS, after checking KEY is one of KEYS.
void apply_passphrase_files(const std::vector<std::string>& specs, const std::vector<fs::path>& keys) {
    for (const auto& spec : specs) {
        const auto eq = spec.find('=');
        if (eq == std::string::npos || eq == 0 || eq + 1 == spec.size()) {
            throw Error(ErrorKind::usage, "--passphrase-file " + spec + ": expected KEY=FILE",
                        "e.g. --passphrase-file keys/release-1.key=/run/secrets/release-1.pass");
        }
        const fs::path key = spec.substr(0, eq);
        const fs::path file = spec.substr(eq + 1);
        const auto same = [&](const fs::path& k) {
            std::error_code ec1;
            std::error_code ec2;
            const fs::path a = fs::weakly_canonical(k, ec1);
            const fs::path b = fs::weakly_canonical(key, ec2);
            return k == key || (!ec1 && !ec2 && a == b);
        };
        if (std::none_of(keys.begin(), keys.end(), same)) {
            throw Error(ErrorKind::usage, "--passphrase-file " + spec + ": " + key.string() + " is not given as --key",
                        "KEY is the secret key file exactly as given to --key");
        }
        keys::set_passphrase_file(key, file);
    }
}

void print_json(const JsonWriter& j) { std::fputs(j.str().c_str(), stdout); }

// build --check-against: the rebuild's verdict on stdout; differences end with exit 3.
int check_against(const std::string& spec, const fs::path& bundle, int level, int threads) {
    BuildOptions options;
    options.spec = spec;
    options.level = level;
    options.threads = threads;
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

// The part size TEXT given to OPTION, with a warning when parts that large do not fit on FAT32
// (4G is 4294967296, one byte over its limit per file).
std::uint64_t part_size_option(const std::string& text, const std::string& option) {
    const std::uint64_t size = parse_size(text, option);
    if (size > k_default_part_size) {
        warn(option + " " + text + " is " + std::to_string(size) + " bytes, over FAT32's limit of " +
             std::to_string(k_default_part_size) + " per file: leave " + option + " out for FAT32 sticks");
    }
    return size;
}

} // namespace

void setup_build(CLI::App& app) {
    struct Args {
        std::string spec;
        std::vector<std::string> keys;
        std::string output;
        std::string out_dir;
        int level = 3;
        int threads = 0;
        bool force = false;
        bool json = false;
        std::string split_size;
        std::string check_against;
        bool unsigned_bundle = false;
        bool no_self_check = false;
        std::vector<std::string> passphrase_files;
    };
    auto args = std::make_shared<Args>();
    CLI::App* cmd = app.add_subcommand("build", "Build and sign a bundle from a spec");
    cmd->add_option("spec", args->spec, "Bundle spec (YAML); its paths are relative to its folder")->required();
    CLI::Option* key_given = cmd->add_option("--key", args->keys, "Secret key to sign with (repeat for several)");
    add_output_options(cmd, args->output, args->out_dir, "NAME-VERSION.ferry");
    cmd->add_option("--level", args->level, "zstd level")->check(CLI::Range(1, 19));
    cmd->add_option("--threads", args->threads, "Compression threads (0: one per core); the output is the same")
        ->check(CLI::Range(0, 256));
    cmd->add_flag("--force", args->force, "Replace an existing bundle");
    cmd->add_option("--split-size", args->split_size,
                    "Write the bundle as parts NAME-VERSION.ferry.001, ... of at most this size (e.g. 64M; "
                    "4294967295 for FAT32, where 4G is one byte too many) with their parts list, instead of one file");
    cmd->add_option("--check-against", args->check_against,
                    "Rebuild as this bundle was built (its time, its signatures) and say whether every byte matches, "
                    "and where not; writes no bundle")
        ->excludes(key_given);
    cmd->add_flag("--unsigned", args->unsigned_bundle,
                  "Build with no signature, to be signed offline (sign, or manifest then attach); no node accepts it unsigned")
        ->excludes(key_given);
    cmd->add_flag("--no-self-check", args->no_self_check,
                  "Skip the self-check (each frame decompressed again, the tar read back, the signatures and chunks "
                  "read back from the file): for trial builds, not for bundles that go to a site");
    cmd->add_flag("--json", args->json, "Print the outcome as JSON");
    add_passphrase_file_option(cmd, args->passphrase_files);
    set_action(*cmd, [args] {
        apply_passphrase_files(args->passphrase_files, {args->keys.begin(), args->keys.end()});
        if (!args->check_against.empty()) {
            return check_against(args->spec, args->check_against, args->level, args->threads);
        }
        const std::uint64_t split_size = args->split_size.empty() ? 0 : part_size_option(args->split_size, "--split-size");
        const Output out = resolve_output(args->output, args->out_dir);
        BuildOptions options;
        options.spec = args->spec;
        options.keys.assign(args->keys.begin(), args->keys.end());
        options.out_dir = out.dir;
        options.output = out.file;
        options.level = args->level;
        options.threads = args->threads;
        options.force = args->force;
        options.progress = !args->json;
        options.unsigned_bundle = args->unsigned_bundle;
        options.self_check = !args->no_self_check;
        const BuildResult r = build_bundle(options);
        const schema::Manifest& m = r.manifest;
        std::optional<SplitResult> parts;
        if (split_size != 0) {
            SplitOptions split;
            split.bundle = r.bundle;
            split.part_size = split_size;
            split.force = args->force;
            split.progress = !args->json;
            parts = split_bundle(split);
            fs::remove(r.bundle);
        }
        if (args->unsigned_bundle) {
            warn(r.bundle.string() + " is unsigned: sign it (`ferry-bundler sign`, or `manifest` and `attach` for a "
                                     "signing station) before it is carried to a site");
        }
        if (args->no_self_check) {
            warn(r.bundle.string() + " was not self-checked (--no-self-check): build it again without that option "
                                     "before it is carried to a site");
        }
        const bool expired = m.expires <= now();
        if (expired) {
            warn(r.bundle.string() + " is already expired; appliers will refuse it");
        }
        if (args->json) {
            JsonWriter j;
            j.begin_object().field("result", "built").field("bundle", r.bundle.string()).field("name", m.name)
                .field("version", m.version.str()).field("sequence", m.sequence)
                .field("files", static_cast<std::uint64_t>(m.files.size())).field("payload_bytes", m.payload.size)
                .field("expires", format_time(m.expires)).field("expired", expired).field("self_checked", !args->no_self_check).key("signatures").begin_array();
            for (const auto& id : r.signers) {
                j.value(id);
            }
            j.end_array().key("parts");
            if (parts) {
                j.begin_array();
                for (const auto& p : parts->parts) {
                    j.begin_object().field("file", (parts->out_dir / p.file).string()).field("bytes", p.span.size)
                        .end_object();
                }
                j.end_array().field("parts_list", parts->list.string());
            } else {
                j.null().key("parts_list").null();
            }
            print_json(j.end_object());
            return 0;
        }
        std::printf("built %s: %s %s, sequence %llu, %zu files, %llu bytes, %zu signature(s), expires %s\n",
                    r.bundle.string().c_str(), m.name.c_str(), m.version.str().c_str(),
                    static_cast<unsigned long long>(m.sequence), m.files.size(),
                    static_cast<unsigned long long>(m.payload.size), r.signers.size(), format_time(m.expires).c_str());
        if (parts) {
            std::printf("split into %zu parts of at most %llu bytes: %s ... %s, listed in %s\n", parts->parts.size(),
                        static_cast<unsigned long long>(split_size), parts->parts.front().file.c_str(),
                        parts->parts.back().file.c_str(), parts->list.string().c_str());
        }
        return 0;
    });
}

void setup_sign(CLI::App& app) {
    struct Args {
        std::string bundle;
        std::string key;
        std::string output;
        bool json = false;
        bool detached = false;
        bool force = false;
        std::vector<std::string> passphrase_files;
    };
    auto args = std::make_shared<Args>();
    CLI::App* cmd = app.add_subcommand(
        "sign", "Add a signature to a bundle (the payload is copied, not recompressed) or to a trust bundle");
    cmd->add_option("bundle", args->bundle, "The .ferry bundle or trust bundle")->required();
    cmd->add_option("--key", args->key, "Secret key to sign with")->required();
    cmd->add_option("-o,--output", args->output, "Write the co-signed bundle to this file instead of replacing BUNDLE")
        ->type_name("FILE");
    cmd->add_flag("--json", args->json, "Print the outcome as JSON");
    cmd->add_flag("--detached", args->detached,
                  "Sign FILE itself (a manifest written by `manifest`) into FILE.minisig, or -o, as minisign -S -l does");
    cmd->add_flag("--force", args->force, "With --detached: replace an existing signature file");
    add_passphrase_file_option(cmd, args->passphrase_files);
    set_action(*cmd, [args] {
        apply_passphrase_files(args->passphrase_files, {fs::path(args->key)});
        if (args->detached) {
            const std::string written = args->output.empty() ? args->bundle + ".minisig" : args->output;
            // Each key holder's signature is a file of its own: a second one must not replace the first.
            refuse_to_replace(written, args->force,
                              "give this signature its own file with -o (e.g. " + args->bundle +
                                  ".HOLDER.minisig), or pass --force to replace it");
            const std::string id = sign_detached(args->bundle, args->key, args->output);
            if (args->json) {
                JsonWriter j;
                print_json(j.begin_object().field("result", "signed").field("signature", written).field("key_id", id)
                               .field("detached", true).end_object());
                return 0;
            }
            std::printf("signed %s with key %s: %s\n", args->bundle.c_str(), id.c_str(), written.c_str());
            return 0;
        }
        if (!args->output.empty()) {
            const fs::path parent = fs::path(args->output).parent_path();
            require_output_folder(parent.empty() ? fs::path(".") : parent, "the folder of -o " + args->output);
            if (fs::is_directory(args->output)) {
                throw Error(ErrorKind::usage, "-o " + args->output + " is a folder; -o names the file to write",
                            "give the file's name, e.g. -o " + (fs::path(args->output) / fs::path(args->bundle).filename()).string());
            }
        }
        const bool trust_bundle = keys::is_trust_bundle(args->bundle);
        const std::string id = trust_bundle ? sign_trust_bundle(args->bundle, args->key, args->output)
                                            : sign_bundle(args->bundle, args->key, args->output, !args->json);
        const std::string written = args->output.empty() ? args->bundle : args->output;
        if (args->json) {
            JsonWriter j;
            print_json(j.begin_object().field("result", "signed").field("bundle", written).field("key_id", id)
                           .field("trust_bundle", trust_bundle).end_object());
            return 0;
        }
        std::printf("signed %s with key %s\n", written.c_str(), id.c_str());
        return 0;
    });
}

void setup_split(CLI::App& app) {
    struct Args {
        std::string bundle;
        std::string size;
        std::string out_dir;
        bool force = false;
    };
    auto args = std::make_shared<Args>();
    CLI::App* cmd = app.add_subcommand("split", "Write a bundle as numbered parts for media with a file size limit (nothing is recompressed)");
    cmd->add_option("bundle", args->bundle, "The .ferry bundle")->required();
    cmd->add_option("--size", args->size, "Largest part (e.g. 64M; default 4294967295, FAT32's limit, one byte under 4G)");
    cmd->add_option("--out-dir", args->out_dir, "Existing folder to write the parts into (default: the bundle's)")
        ->type_name("DIR");
    cmd->add_flag("--force", args->force, "Replace existing parts");
    set_action(*cmd, [args] {
        if (!args->out_dir.empty()) {
            require_output_folder(args->out_dir, "--out-dir");
        }
        SplitOptions options;
        options.bundle = args->bundle;
        options.part_size = args->size.empty() ? k_default_part_size : part_size_option(args->size, "--size");
        options.out_dir = args->out_dir;
        options.force = args->force;
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
    struct Args {
        TrustBuildOptions options;
        std::string output;
        std::string out_dir;
        std::vector<std::string> passphrase_files;
    };
    auto args = std::make_shared<Args>();
    CLI::App* trust = app.add_subcommand("trust", "Build trust bundles, which change a node's trust store");
    trust->require_subcommand(1);
    CLI::App* cmd = trust->add_subcommand(
        "build", "Build trust-vN.ferry from a new trust store (version N: the current one plus one), signed by each key");
    cmd->add_option("store", args->options.store, "The new trust store (trust.yaml)")->required();
    cmd->add_option("--key", args->options.keys,
                    "Secret key of a trust key to sign with (repeat: the current store's and the new store's)")
        ->required();
    add_output_options(cmd, args->output, args->out_dir, "trust-vN.ferry");
    cmd->add_flag("--force", args->options.force, "Replace an existing trust bundle");
    add_passphrase_file_option(cmd, args->passphrase_files);
    set_action(*cmd, [args] {
        apply_passphrase_files(args->passphrase_files, {args->options.keys.begin(), args->options.keys.end()});
        const Output out = resolve_output(args->output, args->out_dir);
        args->options.out_dir = out.dir;
        args->options.output = out.file;
        const TrustBuildResult r = build_trust_bundle(args->options);
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
