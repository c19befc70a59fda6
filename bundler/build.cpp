#include "build.hpp"

#include "bundler/collect.hpp"
#include "bundler/head.hpp"
#include "core/cli/cli.hpp"
#include "core/console.hpp"
#include "core/error.hpp"
#include "core/fs.hpp"
#include "keys/bundle.hpp"
#include "keys/key_file.hpp"
#include "keys/passphrase.hpp"
#include "keys/signature.hpp"
#include "keys/trust_store.hpp"

#include <algorithm>
#include <map>
#include <optional>
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

// Verifies the bundle at PATH as an applier would; QUICK reads its chunks but decompresses
// nothing, for a payload already checked while it was written.
void self_verify(const fs::path& path, const std::vector<keys::PublicKey>& signers, UnixTime when,
                 bool progress, bool quick = false) {
    keys::VerifyOptions options;
    options.now = when;
    options.progress = progress;
    options.quick = quick;
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
    return keys::load_secret_key(path, [&] { return keys::passphrase_for_key(path); });
}

namespace {

// A bundle up to its payload: the spec read, the files planned, the manifest but for the
// payload and the files' hashes.
struct Prepared {
    schema::BundleSpec spec;
    std::vector<PlannedFile> files;
    schema::Manifest manifest;
    PayloadOptions payload_options;
    std::uint64_t total = 0; // bytes of the files
    std::vector<std::unique_ptr<AtomicFile>> packed_layouts; // OCI layout folders packed as archives

    [[nodiscard]] std::string file_name() const { return spec.name + "-" + spec.version.str() + ".ferry"; }
};

// TEMP_DIR holds the archives of OCI layout folders while the payload is written.
Prepared prepare(const BuildOptions& options, UnixTime created, const fs::path& temp_dir) {
    Prepared p;
    step("reading the spec " + options.spec.string());
    p.spec = schema::load_spec(options.spec);
    schema::BundleSpec& spec = p.spec;
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
    p.files = plan_files(spec);
    step("collected " + std::to_string(p.files.size()) + " file(s) for " + spec.name + " " + spec.version.str());

    schema::Manifest& m = p.manifest;
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
    m.min_applier_version = spec.min_applier_version;
    m.breaking_changes = spec.breaking_changes;
    if (!spec.release_notes_file.empty()) {
        m.release_notes = read_file(spec.path.parent_path() / spec.release_notes_file, 1u << 20);
    }
    for (const auto& c : spec.components) {
        m.components.push_back({c.name, c.version});
    }
    m.procedure = spec.procedure;

    p.payload_options.level = options.level;
    p.payload_options.threads = options.threads > 0 ? options.threads
                                                    : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    p.payload_options.mtime = created;
    p.payload_options.check_frames = options.self_check;
    p.packed_layouts = pack_layouts(p.files, temp_dir, created);
    for (const auto& f : p.files) {
        p.total += f.entry.size;
        m.files.push_back(f.entry);
    }
    return p;
}

// Compresses the payload into FILE from OFFSET on, completing P's manifest with the payload
// and the files' hashes.
void write_payload(Prepared& p, const AtomicFile& file, std::uint64_t offset, const std::string& label, bool progress_on) {
    if (::lseek(file.fd(), static_cast<off_t>(offset), SEEK_SET) < 0) {
        throw_errno("seeking in " + file.temp_path().string());
    }
    PayloadWriter writer(file.fd(), file.temp_path().string(), p.payload_options);
    if (p.payload_options.check_frames) {
        writer.check_as_written(p.manifest.payload_index().files);
    }
    Progress progress(label, p.total, progress_on);
    for (std::size_t i = 0; i < p.files.size(); ++i) {
        p.manifest.files[i].sha256 = writer.add_file(p.files[i].entry.path, p.files[i].source, p.files[i].entry.mode,
                                                     p.files[i].entry.size, &progress);
    }
    p.manifest.payload = writer.finish();
    progress.finish();
}

// Writes the envelope's head (MANIFEST, SIGNATURES) before the payload already in FILE, and
// its end; PAYLOAD_OFFSET is where the head must end.
void write_head(const AtomicFile& file, const std::string& manifest, const std::map<std::string, std::string>& signatures,
                const schema::Manifest& m, std::uint64_t payload_offset) {
    if (::lseek(file.fd(), 0, SEEK_SET) < 0) {
        throw_errno("seeking in " + file.temp_path().string());
    }
    EnvelopeWriter writer(file.fd(), file.temp_path().string(), m.created);
    write_envelope(writer, manifest, signatures, -1, 0, m.payload.size);
    if (writer.offset() != payload_offset + m.payload.size + 1024 + (k_tar_block - m.payload.size % k_tar_block) % k_tar_block) {
        throw Error(ErrorKind::internal, "envelope head does not fill the room reserved for it");
    }
}

} // namespace

BuildResult build_bundle(const BuildOptions& options) {
    const UnixTime created = build_time();
    Prepared p = prepare(options, created, options.out_dir);
    schema::Manifest& m = p.manifest;

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
    if (signing_keys.empty() && !options.unsigned_bundle) {
        throw Error(ErrorKind::usage, "no signing key given", "pass --key SECRET.key, or --unsigned to sign it offline later");
    }

    const fs::path final_path = options.output.empty() ? options.out_dir / p.file_name() : options.output;
    refuse_to_replace(final_path, options.force);

    // The payload is compressed straight into the bundle, after room reserved for the envelope
    // head; the manifest, which lists the payload's chunk hashes, is padded to fill that room.
    const HeadLayout layout = plan_head(m, p.files, p.payload_options.chunk_size, [&](const std::string& text) {
        std::vector<std::size_t> sizes;
        for (const auto& key : signing_keys) {
            sizes.push_back(signature_text(key, text, m, created).size());
        }
        return sizes;
    });
    step("compressing " + std::to_string(p.files.size()) + " file(s) at zstd level " + std::to_string(options.level) +
         " into " + final_path.string());
    AtomicFile bundle(final_path);
    write_payload(p, bundle, layout.payload_offset, "packing " + final_path.filename().string(), options.progress);

    step("signing the manifest with " + std::to_string(signing_keys.size()) + " key(s)");
    const std::string manifest = pad_manifest(emit_manifest(m), layout.manifest_size);
    std::map<std::string, std::string> signatures;
    for (const auto& key : signing_keys) {
        signatures[keys::key_id_hex(key.id())] = signature_text(key, manifest, m, created);
    }
    write_head(bundle, manifest, signatures, m, layout.payload_offset);
    if (options.self_check) {
        // The payload was decompressed and read back as it was written; what remains is what
        // is on disk: the head, the signatures and every chunk.
        step("verifying the bundle's signatures and chunks as an applier would");
        self_verify(bundle.temp_path(), signers, created, options.progress, true);
    } else {
        step("self-check skipped (--no-self-check)");
    }
    step("renaming it into place");
    bundle.commit();
    std::vector<std::string> ids;
    for (const auto& key : signing_keys) {
        ids.push_back(keys::key_id_hex(key.id()));
    }
    return {final_path, std::move(m), std::move(ids)};
}

namespace {

// The differences between two manifests, for people: the fields, the files, the payload.
std::vector<std::string> manifest_differences(const schema::Manifest& was, const schema::Manifest& now_) {
    std::vector<std::string> out;
    auto field = [&](const std::string& name, const std::string& a, const std::string& b) {
        if (a != b) {
            out.push_back(name + ": " + printable(a) + " in the bundle, " + printable(b) + " rebuilt");
        }
    };
    field("name", was.name, now_.name);
    field("version", was.version.str(), now_.version.str());
    field("sequence", std::to_string(was.sequence), std::to_string(now_.sequence));
    field("expires", format_time(was.expires), format_time(now_.expires));
    field("compatible", was.compatible.product + "/" + was.compatible.channel, now_.compatible.product + "/" + now_.compatible.channel);
    field("upgrade_from", was.upgrade_from, now_.upgrade_from);
    field("min_applier_version", was.min_applier_version ? was.min_applier_version->str() : "",
          now_.min_applier_version ? now_.min_applier_version->str() : "");
    std::map<std::string, const schema::ManifestFile*> rebuilt;
    for (const auto& f : now_.files) {
        rebuilt[f.path] = &f;
    }
    std::size_t same_files = 0;
    for (const auto& f : was.files) {
        const auto it = rebuilt.find(f.path);
        if (it == rebuilt.end()) {
            out.push_back("file " + printable(f.path) + ": in the bundle, not in the rebuild");
            continue;
        }
        const schema::ManifestFile& g = *it->second;
        if (f.sha256 != g.sha256) {
            out.push_back("file " + printable(f.path) + ": sha256 " + to_hex(f.sha256) + " (" + std::to_string(f.size) +
                          " bytes) in the bundle, " + to_hex(g.sha256) + " (" + std::to_string(g.size) + " bytes) rebuilt");
        } else if (f.mode != g.mode || f.dest != g.dest || f.role != g.role) {
            out.push_back("file " + printable(f.path) + ": mode, role or destination differs (" + schema::format_mode(f.mode) + " " +
                          f.role + " " + printable(f.dest) + " in the bundle, " + schema::format_mode(g.mode) + " " + g.role + " " +
                          printable(g.dest) + " rebuilt)");
        } else {
            ++same_files;
        }
        rebuilt.erase(it);
    }
    for (const auto& [path, f] : rebuilt) {
        out.push_back("file " + printable(path) + ": in the rebuild, not in the bundle");
    }
    if (out.empty() && was.files.size() == now_.files.size()) {
        for (std::size_t i = 0; i < was.files.size(); ++i) {
            if (was.files[i].path != now_.files[i].path) {
                out.push_back("the files are the same but in another order, from " + printable(was.files[i].path));
                break;
            }
        }
    }
    if (was.payload.chunks != now_.payload.chunks) {
        std::size_t k = 0;
        while (k < was.payload.chunks.size() && k < now_.payload.chunks.size() && was.payload.chunks[k] == now_.payload.chunks[k]) {
            ++k;
        }
        out.push_back("payload: " + std::to_string(was.payload.size) + " bytes in the bundle, " + std::to_string(now_.payload.size) +
                      " rebuilt; the first chunk that differs is chunk " + std::to_string(k + 1) + " (from byte " +
                      std::to_string(k * was.payload.chunk_size) + " of payload.tar.zst)" +
                      (same_files == was.files.size() && out.empty()
                           ? ": every file is the same, so the compression differs (another zstd version, level or chunk size)"
                           : ""));
    }
    return out;
}

// The first byte at which files A and B differ, or nullopt when they are the same.
std::optional<std::uint64_t> first_difference(const fs::path& a, const fs::path& b) {
    const Fd fa = open_regular_file(a);
    const Fd fb = open_regular_file(b);
    std::vector<char> ba(1u << 20);
    std::vector<char> bb(1u << 20);
    std::uint64_t at = 0;
    for (;;) {
        const std::size_t na = read_full_at(fa.get(), ba.data(), ba.size(), at, a.string());
        const std::size_t nb = read_full_at(fb.get(), bb.data(), bb.size(), at, b.string());
        const std::size_t n = std::min(na, nb);
        const auto mismatch = std::mismatch(ba.begin(), ba.begin() + static_cast<std::ptrdiff_t>(n), bb.begin());
        if (mismatch.first != ba.begin() + static_cast<std::ptrdiff_t>(n)) {
            return at + static_cast<std::uint64_t>(mismatch.first - ba.begin());
        }
        if (na != nb) {
            return at + n;
        }
        if (na == 0) {
            return std::nullopt;
        }
        at += n;
    }
}

} // namespace

RebuildCheck check_rebuild(const BuildOptions& options, const fs::path& bundle_path) {
    const keys::BundleInfo original = keys::inspect_bundle(bundle_path, nullptr);
    if (!original.parts.empty() || !original.parts_problem.empty()) {
        throw Error(ErrorKind::usage, bundle_path.string() + " is a split bundle",
                    "join its parts first (cat NAME.ferry.0* > NAME.ferry), then check against the whole file");
    }
    // The rebuild takes the bundle's creation time (the payload's mtimes, the signatures'
    // timestamps and the expiry derive from it) and its signatures, so that every byte can match.
    Prepared p = prepare(options, original.manifest.created, fs::temp_directory_path());
    RebuildCheck check;
    check.bundle = bundle_path;
    if (p.file_name() != bundle_path.filename().string()) {
        check.differences.push_back("name: the spec builds " + p.file_name() + ", the bundle is " +
                                    bundle_path.filename().string());
    }
    std::map<std::string, std::string> signatures;
    std::vector<std::size_t> signature_sizes;
    for (const auto& s : original.head.signatures) {
        signatures[s.key_id] = s.text;
        signature_sizes.push_back(s.text.size());
    }
    const std::uint64_t payload_offset = bundler::payload_offset(original.head.manifest.size(), signature_sizes);
    AtomicFile rebuilt(fs::temp_directory_path() / ("ferry-rebuild-" + p.file_name()), 0600);
    write_payload(p, rebuilt, payload_offset, "rebuilding " + p.file_name(), options.progress);
    const std::string text = emit_manifest(p.manifest);
    if (text.size() + 2 > original.head.manifest.size()) {
        check.differences.push_back("manifest: " + std::to_string(text.size()) + " bytes rebuilt, more than the bundle's " +
                                    std::to_string(original.head.manifest.size()));
    } else {
        write_head(rebuilt, pad_manifest(text, original.head.manifest.size()), signatures, p.manifest, payload_offset);
        check.rebuilt_manifest_identical = pad_manifest(text, original.head.manifest.size()) == original.head.manifest;
    }
    if (!check.rebuilt_manifest_identical) {
        const auto more = manifest_differences(original.manifest, p.manifest);
        check.differences.insert(check.differences.end(), more.begin(), more.end());
        if (more.empty() && check.differences.empty()) {
            check.differences.push_back("manifest.yaml: the same content laid out differently (another Ferry version?)");
        }
    } else if (const auto at = first_difference(bundle_path, rebuilt.temp_path())) {
        check.differences.push_back("the envelope differs at byte " + std::to_string(*at) +
                                    " though the manifest and the payload are the same (the tar headers: another Ferry version?)");
    }
    check.identical = check.differences.empty();
    check.size = original.file_size;
    return check;
}

namespace {

// Writes BUNDLE (INFO) with the signature TEXT by SIGNER added, to OUT (BUNDLE when empty),
// the payload copied byte for byte; checks the new signature and the payload before the rename.
void add_signature(const fs::path& path, const keys::BundleInfo& info, const keys::PublicKey& signer,
                   const std::string& text, const fs::path& out, bool progress) {
    const std::string id = keys::key_id_hex(signer.id);
    std::map<std::string, std::string> signatures;
    for (const auto& s : info.head.signatures) {
        signatures[s.key_id] = s.text;
    }
    if (signatures.count(id) != 0) {
        throw Error(ErrorKind::usage, path.string() + " is already signed by key " + id);
    }
    signatures[id] = text;
    step("copying " + path.string() + " with a signature by key " + id + " added");
    const Fd in = open_regular_file(path);
    AtomicFile bundle(out.empty() ? path : out);
    EnvelopeWriter writer(bundle.fd(), bundle.temp_path().string(), info.manifest.created);
    write_envelope(writer, info.head.manifest, signatures, in.get(), info.head.payload_offset, info.head.payload_size);
    step("verifying the new signature and the payload");
    self_verify(bundle.temp_path(), {signer}, info.manifest.created, progress);
    bundle.commit();
}

// A bundle to sign: a whole file, not a part.
keys::BundleInfo bundle_to_sign(const fs::path& path) {
    keys::BundleInfo info = keys::inspect_bundle(path, nullptr);
    if (!info.parts.empty() || !info.parts_problem.empty()) {
        throw Error(ErrorKind::usage, path.string() + " is a split bundle",
                    "sign the whole bundle, then split it again (the parts list holds the new bytes' hashes)");
    }
    return info;
}

} // namespace

std::string sign_bundle(const fs::path& path, const fs::path& key_path, const fs::path& out, bool progress) {
    const keys::BundleInfo info = bundle_to_sign(path);
    const keys::SecretKey key = load_key(key_path);
    add_signature(path, info, key.public_key(), signature_text(key, info.head.manifest, info.manifest, build_time()), out,
                  progress);
    return keys::key_id_hex(key.id());
}

std::string sign_detached(const fs::path& file, const fs::path& key_path, const fs::path& out) {
    const std::string text = read_file(file, k_cap_manifest_bytes);
    const keys::SecretKey key = load_key(key_path);
    const std::span<const std::uint8_t> message(reinterpret_cast<const std::uint8_t*>(text.data()), text.size());
    const std::string trusted = "timestamp:" + std::to_string(build_time()) + "\tfile:" + file.filename().string();
    const std::string untrusted = "signature from ferry key " + keys::key_id_hex(key.id());
    write_file_atomic(out.empty() ? fs::path(file.string() + ".minisig") : out,
                      keys::format_signature(keys::sign_message(key, message, trusted, untrusted)));
    return keys::key_id_hex(key.id());
}

std::string manifest_bytes(const fs::path& path) {
    return bundle_to_sign(path).head.manifest;
}

AttachResult attach_signature(const fs::path& path, const fs::path& signature_file, const keys::PublicKey* pub,
                              const keys::TrustStore* trust, const fs::path& out, bool progress) {
    const keys::BundleInfo info = bundle_to_sign(path);
    const std::string text = read_file(signature_file, keys::k_max_signature_file_size);
    keys::Signature sig;
    try {
        sig = keys::parse_signature(text, signature_file.string());
    } catch (const Error& e) {
        throw Error(ErrorKind::input, e.what(), "make the signature with `minisign -S -l -m manifest.yaml` (legacy Ed25519)");
    }
    AttachResult r;
    r.key_id = keys::key_id_hex(sig.id);
    const keys::PublicKey* key = nullptr;
    if (pub != nullptr) {
        if (pub->id != sig.id) {
            throw Error(ErrorKind::input, signature_file.string() + " is by key " + r.key_id + ", not by the given public key " +
                                              keys::key_id_hex(pub->id));
        }
        key = pub;
    } else if (const keys::TrustedKey* known = trust->find(sig.id); known != nullptr) {
        key = &known->key;
        r.key_name = known->name;
    } else {
        throw Error(ErrorKind::input, signature_file.string() + " is by key " + r.key_id + ", which the trust store does not hold");
    }
    const std::span<const std::uint8_t> message(reinterpret_cast<const std::uint8_t*>(info.head.manifest.data()),
                                                info.head.manifest.size());
    if (!keys::verify_signature(*key, sig, message)) {
        throw Error(ErrorKind::verification,
                    signature_file.string() + ": not a valid signature of " + path.string() + "'s manifest by key " + r.key_id,
                    "sign the exact bytes `ferry-bundler manifest` wrote for this bundle");
    }
    add_signature(path, info, *key, text, out, progress);
    r.trusted_comment = sig.trusted_comment;
    return r;
}

} // namespace ferry::bundler
