#include "build.hpp"

#include "bundler/collect.hpp"
#include "bundler/head.hpp"
#include "core/console.hpp"
#include "core/error.hpp"
#include "core/fs.hpp"
#include "keys/bundle.hpp"
#include "keys/key_file.hpp"
#include "keys/passphrase.hpp"
#include "keys/signature.hpp"

#include <algorithm>
#include <map>
#include <thread>
#include <unistd.h>

namespace ferry::bundler {

namespace fs = std::filesystem;

namespace {

constexpr UnixTime k_day = 86400;

std::string signature_text(const keys::SecretKey& key, const std::string& manifest,
                           const schema::Manifest& m, UnixTime when) {
    const std::span<const std::uint8_t> message(reinterpret_cast<const std::uint8_t*>(manifest.data()),
                                                manifest.size());
    const std::string trusted = "timestamp:" + std::to_string(when) + "\tfile:manifest.yaml\tbundle:" +
                                m.name + "-" + m.version.str();
    const std::string untrusted = "signature from ferry key " + keys::key_id_hex(key.id());
    return keys::format_signature(keys::sign_message(key, message, trusted, untrusted));
}

// A trust store holding exactly the keys that signed, all required.
keys::TrustStore signer_store(const std::vector<keys::PublicKey>& signers) {
    keys::TrustStore store;
    for (const auto& pk : signers) {
        store.keys.push_back({keys::key_id_hex(pk.id), pk, std::numeric_limits<UnixTime>::max(), {keys::TrustRole::release}});
    }
    store.thresholds.release = store.keys.size();
    // The bundler checks its own output against the format's caps; sites apply their limits.
    store.limits = Limits{k_cap_manifest_bytes, std::numeric_limits<std::uint64_t>::max(),
                          std::numeric_limits<std::uint64_t>::max(), std::numeric_limits<std::uint64_t>::max(),
                          k_cap_window_log, k_cap_path_bytes};
    return store;
}

void self_verify(const fs::path& path, const std::vector<keys::PublicKey>& signers, UnixTime when,
                 bool progress) {
    keys::VerifyOptions options;
    options.now = when;
    options.progress = progress;
    options.label = "checking the new bundle";
    try {
        (void)keys::verify_bundle(path, signer_store(signers), options);
    } catch (const Error& e) {
        throw Error(ErrorKind::internal, std::string("the bundle just written does not verify: ") + e.what());
    }
}

void write_envelope(EnvelopeWriter& writer, const std::string& manifest,
                    const std::map<std::string, std::string>& signatures, int payload_fd,
                    std::uint64_t payload_offset, std::uint64_t payload_size) {
    writer.add(k_manifest_member, manifest);
    for (const auto& [id, text] : signatures) {
        writer.add(std::string(k_signature_prefix) + id + std::string(k_signature_suffix), text);
    }
    writer.begin(k_payload_member, payload_size);
    if (payload_fd < 0) {
        writer.skip_data(payload_size); // already in place
    } else {
        writer.copy_data(payload_fd, payload_offset, payload_size);
    }
    writer.end();
    writer.finish();
}

} // namespace

keys::SecretKey load_key(const fs::path& path) {
    return keys::load_secret_key(path, [&] {
        return keys::read_passphrase("passphrase for " + path.string() + ": ", false);
    });
}

BuildResult build_bundle(const BuildOptions& options) {
    step("reading the spec " + options.spec.string());
    schema::BundleSpec spec = schema::load_spec(options.spec);
    for (const auto& c : spec.components) {
        for (const auto& f : c.files) {
            if (const auto problem = schema::never_installed_problem(f.role, f.dest.has_value(), !f.image_refs.empty(),
                                                                     spec.procedure)) {
                throw Error(ErrorKind::input, f.where + ": " + ferry::quoted(f.source) + ": " + *problem,
                            "give the image its format and refs (the node pushes or loads it), add "
                            "procedure.images.load, a command that loads {path}, or give the file a dest");
            }
        }
    }
    std::vector<PlannedFile> files = plan_files(spec);
    step("collected " + std::to_string(files.size()) + " file(s) for " + spec.name + " " + spec.version.str());
    const UnixTime created = build_time();

    std::vector<keys::SecretKey> signing_keys;
    std::vector<keys::PublicKey> signers;
    for (const auto& path : options.keys) {
        keys::SecretKey key = load_key(path);
        step("loaded key " + keys::key_id_hex(key.id()) + " from " + path.string());
        for (const auto& other : signers) {
            if (other.id == key.id()) {
                throw Error(ErrorKind::usage, path.string() + ": key " + keys::key_id_hex(key.id()) +
                                                  " is given twice");
            }
        }
        signers.push_back(key.public_key());
        signing_keys.push_back(std::move(key));
    }
    if (signing_keys.empty()) {
        throw Error(ErrorKind::usage, "no signing key given", "pass --key SECRET.key");
    }

    schema::Manifest m;
    m.name = spec.name;
    m.version = spec.version;
    m.sequence = spec.sequence;
    m.created = created;
    m.expires = spec.expires ? *spec.expires : created + static_cast<UnixTime>(*spec.expires_in_days) * k_day;
    if (m.expires <= created) {
        throw Error(ErrorKind::input, spec.path.string() + ": expires " + format_time(m.expires) +
                                          " is not after the build time " + format_time(created));
    }
    m.compatible = spec.compatible;
    m.upgrade_from = spec.upgrade_from;
    m.breaking_changes = spec.breaking_changes;
    if (!spec.release_notes_file.empty()) {
        m.release_notes = read_file(spec.path.parent_path() / spec.release_notes_file, 1u << 20);
    }
    for (const auto& c : spec.components) {
        m.components.push_back({c.name, c.version});
    }
    m.procedure = spec.procedure;

    const fs::path final_path = options.output.empty()
                                    ? options.out_dir / (spec.name + "-" + spec.version.str() + ".ferry")
                                    : options.output;
    if (!options.force && fs::exists(final_path)) {
        throw Error(ErrorKind::usage, final_path.string() + " already exists", "pass --force to replace it");
    }

    PayloadOptions payload_options;
    payload_options.level = options.level;
    payload_options.threads = options.threads > 0 ? options.threads
                                                  : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    payload_options.mtime = created;
    std::uint64_t total = 0;
    for (const auto& f : files) {
        total += f.entry.size;
        m.files.push_back(f.entry);
    }

    // The payload is compressed straight into the bundle, after room reserved for the envelope
    // head; the manifest, which lists the payload's chunk hashes, is padded to fill that room.
    const HeadLayout layout = plan_head(m, files, payload_options.chunk_size, [&](const std::string& text) {
        std::vector<std::size_t> sizes;
        for (const auto& key : signing_keys) {
            sizes.push_back(signature_text(key, text, m, created).size());
        }
        return sizes;
    });
    step("compressing " + std::to_string(files.size()) + " file(s) at zstd level " + std::to_string(options.level) +
         " into " + final_path.string());
    AtomicFile bundle(final_path);
    if (::lseek(bundle.fd(), static_cast<off_t>(layout.payload_offset), SEEK_SET) < 0) {
        throw_errno("seeking in " + bundle.temp_path().string());
    }
    {
        PayloadWriter writer(bundle.fd(), bundle.temp_path().string(), payload_options);
        Progress progress("packing " + final_path.filename().string(), total, options.progress);
        for (std::size_t i = 0; i < files.size(); ++i) {
            m.files[i].sha256 = writer.add_file(files[i].entry.path, files[i].source, files[i].entry.mode,
                                                files[i].entry.size, &progress);
        }
        m.payload = writer.finish();
        progress.finish();
    }

    step("signing the manifest with " + std::to_string(signing_keys.size()) + " key(s)");
    const std::string manifest = pad_manifest(emit_manifest(m), layout.manifest_size);
    std::map<std::string, std::string> signatures;
    for (const auto& key : signing_keys) {
        signatures[keys::key_id_hex(key.id())] = signature_text(key, manifest, m, created);
    }
    if (::lseek(bundle.fd(), 0, SEEK_SET) < 0) {
        throw_errno("seeking in " + bundle.temp_path().string());
    }
    EnvelopeWriter writer(bundle.fd(), bundle.temp_path().string(), created);
    write_envelope(writer, manifest, signatures, -1, 0, m.payload.size);
    if (writer.offset() != layout.payload_offset + m.payload.size + 1024 +
                               (k_tar_block - m.payload.size % k_tar_block) % k_tar_block) {
        throw Error(ErrorKind::internal, "envelope head does not fill the room reserved for it");
    }
    step("verifying the bundle as an applier would");
    self_verify(bundle.temp_path(), signers, created, options.progress);
    step("renaming it into place");
    bundle.commit();
    std::vector<std::string> ids;
    for (const auto& key : signing_keys) {
        ids.push_back(keys::key_id_hex(key.id()));
    }
    return {final_path, std::move(m), std::move(ids)};
}

std::string sign_bundle(const fs::path& path, const fs::path& key_path, const fs::path& out, bool progress) {
    const keys::BundleInfo info = keys::inspect_bundle(path, nullptr);
    const keys::SecretKey key = load_key(key_path);
    const std::string id = keys::key_id_hex(key.id());
    std::map<std::string, std::string> signatures;
    for (const auto& s : info.head.signatures) {
        signatures[s.key_id] = s.text;
    }
    if (signatures.count(id) != 0) {
        throw Error(ErrorKind::usage, path.string() + " is already signed by key " + id);
    }
    const UnixTime when = build_time();
    signatures[id] = signature_text(key, info.head.manifest, info.manifest, when);
    step("copying " + path.string() + " with a signature by key " + id + " added");

    const Fd in = open_regular_file(path);
    AtomicFile bundle(out.empty() ? path : out);
    EnvelopeWriter writer(bundle.fd(), bundle.temp_path().string(), info.manifest.created);
    write_envelope(writer, info.head.manifest, signatures, in.get(), info.head.payload_offset,
                   info.head.payload_size);
    step("verifying the new signature and the payload");
    self_verify(bundle.temp_path(), {key.public_key()}, info.manifest.created, progress);
    bundle.commit();
    return id;
}

} // namespace ferry::bundler
