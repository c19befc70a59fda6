#include "bundler/commands.hpp"

#include "core/cli/cli.hpp"
#include "core/console.hpp"
#include "core/error.hpp"
#include "core/fs.hpp"
#include "core/json.hpp"
#include "keys/key_file.hpp"
#include "keys/passphrase.hpp"
#include "keys/trust_store.hpp"
#include "manifest-schema/spec.hpp"
#include "manifest-schema/trust.hpp"

#include <algorithm>
#include <cstdio>
#include <memory>
#include <sys/stat.h>

namespace ferry::bundler {

namespace {

namespace fs = std::filesystem;

struct KeyGenerateArgs {
    std::string name;
    std::string out_dir = ".";
    std::string expires;
    std::vector<std::string> roles;
    std::string append_to;
    bool unencrypted = false;
    bool force = false;
    bool print_entry = false;
    bool json = false;
};

UnixTime parse_expiry(const std::string& given) {
    if (given.empty()) {
        return now() + 2 * 365 * 86400;
    }
    const std::string text = given.size() == 10 ? given + "T00:00:00Z" : given;
    const auto t = parse_time(text);
    if (!t) {
        throw Error(ErrorKind::usage, "--expires \"" + given + "\" is not a date like 2028-01-31 or a UTC time like 2028-01-31T00:00:00Z");
    }
    if (*t <= now()) {
        throw Error(ErrorKind::usage, "--expires " + format_time(*t) + " is not in the future",
                    "a key that has expired signs nothing that counts");
    }
    return *t;
}

std::vector<schema::TrustRole> parse_roles(const std::vector<std::string>& names) {
    std::vector<schema::TrustRole> roles;
    for (const schema::TrustRole role : schema::k_trust_roles) {
        const bool wanted = names.empty() ? role == schema::TrustRole::release
                                          : std::find(names.begin(), names.end(), schema::role_name(role)) != names.end();
        if (wanted) {
            roles.push_back(role);
        }
    }
    return roles;
}

// The trust store at PATH as it is, checked the way the applier reads it, before any key exists:
// a file that is not a valid trust store, or that already names the key, is refused untouched.
std::string read_trust_to_append(const fs::path& path, const std::string& name) {
    const keys::TrustStore store = keys::load_trust_store(path);
    for (const auto& k : store.keys) {
        if (k.name == name) {
            throw Error(ErrorKind::usage, path.string() + " already has a key named \"" + name + "\"",
                        "choose another --name, or remove the old entry first");
        }
    }
    return read_file(path);
}

// Writes TEXT over the trust store at PATH with its mode kept, after checking that it still
// reads as a trust store and now holds KEY_ID: all or nothing (AtomicFile).
void write_appended_trust(const fs::path& path, const std::string& text, const std::string& key_id) {
    const keys::TrustStore after = keys::parse_trust_store(text, path.string());
    if (std::none_of(after.keys.begin(), after.keys.end(),
                     [&](const keys::TrustedKey& k) { return keys::key_id_hex(k.key.id) == key_id; })) {
        throw Error(ErrorKind::internal, path.string() + ": the new key is not in the store after adding it");
    }
    struct stat st {};
    const unsigned mode = ::stat(path.c_str(), &st) == 0 ? (st.st_mode & 07777) : 0644;
    AtomicFile out(path, mode);
    out.write(text);
    out.commit();
}

} // namespace

void setup_key(CLI::App& app) {
    auto args = std::make_shared<KeyGenerateArgs>();
    CLI::App* key_cmd = app.add_subcommand("key", "Manage signing keys");
    key_cmd->require_subcommand(1);
    CLI::App* gen = key_cmd->add_subcommand("generate", "Generate a signing key pair");
    gen->add_option("--name", args->name, "Key name, used for the file names")->required();
    gen->add_option("--out-dir", args->out_dir, "Existing folder to write NAME.key and NAME.pub into (default: .)")
        ->type_name("DIR");
    gen->add_flag("--unencrypted", args->unencrypted, "Leave the secret key unencrypted (test keys only)");
    gen->add_flag("--force", args->force, "Replace existing key files");
    gen->add_option("--expires", args->expires,
                    "When the key's trust.yaml entry expires: a date (2028-01-31) or a UTC time (2028-01-31T00:00:00Z); "
                    "default two years from now");
    gen->add_option("--role", args->roles, "The entry's role: release or trust (repeat for both; default release)")
        ->check(CLI::IsMember({"release", "trust"}));
    CLI::Option* print = gen->add_flag(
        "--print-entry", args->print_entry,
        "Print only the trust.yaml entry on stdout, ready to paste under keys: (the key's files go to stderr)");
    gen->add_option("--append-to", args->append_to,
                    "Add the entry to this trust store's keys list, after checking it is a valid trust store; "
                    "all or nothing")
        ->type_name("TRUST")
        ->check(CLI::ExistingFile);
    CLI::Option* json = gen->add_flag("--json", args->json, "Print the outcome as JSON");
    print->excludes(json);
    set_action(*gen, [args] {
        const UnixTime expires = parse_expiry(args->expires);
        if (!schema::valid_name(args->name)) {
            throw Error(ErrorKind::usage, "--name \"" + args->name + "\" is not a valid key name",
                        "use lower-case letters, digits, '.', '_' and '-'");
        }
        require_output_folder(args->out_dir, "--out-dir");
        const fs::path dir = args->out_dir;
        const auto secret_path = dir / (args->name + ".key");
        const auto public_path = dir / (args->name + ".pub");
        for (const auto& p : {secret_path, public_path}) {
            refuse_to_replace(p, args->force);
        }
        const std::string trust_before = args->append_to.empty() ? "" : read_trust_to_append(args->append_to, args->name);
        std::string passphrase;
        if (args->unencrypted) {
            warn("the secret key " + secret_path.string() + " is NOT encrypted. Use it for tests only, never to sign "
                 "a real release.");
        } else {
            passphrase = keys::read_new_passphrase("passphrase for the new key: ");
        }
        step("generating an Ed25519 key pair");
        const keys::SecretKey key = keys::generate_secret_key();
        schema::TrustedKeyEntry entry;
        entry.name = args->name;
        entry.id = keys::key_id_hex(key.id());
        entry.public_key = keys::public_key_base64(key.public_key());
        entry.expires = expires;
        entry.roles = parse_roles(args->roles);
        // The trust store's new text is checked before any file is written.
        const std::string trust_after =
            args->append_to.empty() ? "" : schema::append_trust_key(trust_before, entry, args->append_to);
        step("writing " + secret_path.string() + (args->unencrypted ? " (unencrypted)" : " (encrypted)"));
        write_file_atomic(secret_path,
                          keys::encode_secret_key_file(key, args->name, args->unencrypted ? nullptr : &passphrase),
                          0600);
        step("writing " + public_path.string());
        write_file_atomic(public_path, keys::format_public_key_file(key.public_key(), args->name));
        if (!args->append_to.empty()) {
            step("adding the entry to " + args->append_to);
            write_appended_trust(args->append_to, trust_after, entry.id);
        }
        if (args->json) {
            JsonWriter j;
            j.begin_object().field("result", "generated").field("name", entry.name).field("key_id", entry.id)
                .field("secret_key", secret_path.string()).field("public_key", public_path.string())
                .field("encrypted", !args->unencrypted).key("trust_entry").begin_object().field("name", entry.name)
                .field("id", entry.id).field("public_key", entry.public_key).field("expires", format_time(expires))
                .key("roles").begin_array();
            for (const auto r : entry.roles) {
                j.value(schema::role_name(r));
            }
            j.end_array().end_object().key("appended_to");
            if (args->append_to.empty()) {
                j.null();
            } else {
                j.value(args->append_to);
            }
            j.end_object();
            std::fputs(j.str().c_str(), stdout);
            return 0;
        }
        std::FILE* const summary = args->print_entry ? stderr : stdout;
        if (!args->print_entry || verbosity() != Verbosity::quiet) {
            std::fprintf(summary, "key id:      %s\nsecret key:  %s\npublic key:  %s\n", entry.id.c_str(),
                         secret_path.string().c_str(), public_path.string().c_str());
        }
        if (!args->append_to.empty()) {
            std::fprintf(summary, "added to:    %s (keys: %s)\n", args->append_to.c_str(), entry.name.c_str());
        }
        if (args->print_entry) {
            std::fputs(schema::trust_key_entry(entry).c_str(), stdout);
        } else if (args->append_to.empty()) {
            std::printf("trust.yaml entry:\n%s", schema::trust_key_entry(entry).c_str());
        }
        return 0;
    });
}

} // namespace ferry::bundler
