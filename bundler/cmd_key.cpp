#include "bundler/commands.hpp"

#include "core/cli/cli.hpp"
#include "core/error.hpp"
#include "core/fs.hpp"
#include "keys/key_file.hpp"
#include "keys/passphrase.hpp"
#include "manifest-schema/spec.hpp"

#include <cstdio>
#include <memory>

namespace ferry::bundler {

void setup_key(CLI::App& app) {
    struct Args {
        std::string name;
        std::string out = ".";
        std::string expires;
        bool unencrypted = false;
        bool force = false;
    };
    auto args = std::make_shared<Args>();
    CLI::App* key_cmd = app.add_subcommand("key", "Manage signing keys");
    key_cmd->require_subcommand(1);
    CLI::App* gen = key_cmd->add_subcommand("generate", "Generate a signing key pair");
    gen->add_option("--name", args->name, "Key name, used for the file names")->required();
    gen->add_option("--out", args->out, "Folder to write NAME.key and NAME.pub into");
    gen->add_flag("--unencrypted", args->unencrypted, "Leave the secret key unencrypted (test keys only)");
    gen->add_flag("--force", args->force, "Replace existing key files");
    gen->add_option("--expires", args->expires,
                    "When the key's trust.yaml entry expires: a date (2028-01-31) or a UTC time (2028-01-31T00:00:00Z); "
                    "default two years from now");
    set_action(*gen, [args] {
        UnixTime expires = now() + 2 * 365 * 86400;
        if (!args->expires.empty()) {
            const std::string text = args->expires.size() == 10 ? args->expires + "T00:00:00Z" : args->expires;
            const auto t = parse_time(text);
            if (!t) {
                throw Error(ErrorKind::usage, "--expires \"" + args->expires + "\" is not a date like 2028-01-31 or a UTC time like 2028-01-31T00:00:00Z");
            }
            if (*t <= now()) {
                throw Error(ErrorKind::usage, "--expires " + format_time(*t) + " is not in the future",
                            "a key that has expired signs nothing that counts");
            }
            expires = *t;
        }
        if (!schema::valid_name(args->name)) {
            throw Error(ErrorKind::usage, "--name \"" + args->name + "\" is not a valid key name",
                        "use lower-case letters, digits, '.', '_' and '-'");
        }
        const std::filesystem::path dir = args->out;
        const auto secret_path = dir / (args->name + ".key");
        const auto public_path = dir / (args->name + ".pub");
        for (const auto& p : {secret_path, public_path}) {
            if (!args->force && std::filesystem::exists(p)) {
                throw Error(ErrorKind::usage, p.string() + " already exists", "pass --force to replace it");
            }
        }
        std::string passphrase;
        if (args->unencrypted) {
            std::fprintf(stderr, "WARNING: the secret key %s is NOT encrypted. Use it for tests only, "
                                 "never to sign a real release.\n",
                         secret_path.string().c_str());
        } else {
            passphrase = keys::read_passphrase("passphrase for the new key: ", true);
        }
        const keys::SecretKey key = keys::generate_secret_key();
        write_file_atomic(secret_path,
                          keys::encode_secret_key_file(key, args->name, args->unencrypted ? nullptr : &passphrase),
                          0600);
        write_file_atomic(public_path, keys::format_public_key_file(key.public_key(), args->name));
        std::printf("key id:      %s\nsecret key:  %s\npublic key:  %s\n", keys::key_id_hex(key.id()).c_str(),
                    secret_path.string().c_str(), public_path.string().c_str());
        std::printf("trust.yaml entry:\n  - name: %s\n    id: \"%s\"\n    public_key: %s\n"
                    "    expires: %s\n    roles: [release]\n",
                    args->name.c_str(), keys::key_id_hex(key.id()).c_str(),
                    keys::public_key_base64(key.public_key()).c_str(),
                    format_time(expires).c_str());
        return 0;
    });
}

} // namespace ferry::bundler
