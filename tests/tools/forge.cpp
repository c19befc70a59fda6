// ferry-forge: builds deliberately broken bundles for the command-line tests (test-only tool).
//
// It signs a manifest template with a payload section appended, wraps the parts with the
// library's EnvelopeWriter and breaks exactly what the options ask for; everything else is
// as ferry-bundler writes it, so each hostile bundle fails for one reason only. A signature
// made elsewhere can be reused as it is (--signature-file), and the written envelope damaged
// afterwards (--patch-header, --flip-byte, --cut-at). With --trust-bundle it writes a trust
// bundle of any file instead, for the trust stores ferry-bundler refuses to carry.

#include "core/envelope.hpp"
#include "core/error.hpp"
#include "core/fs.hpp"
#include "core/handles.hpp"
#include "core/payload.hpp"
#include "core/sha256.hpp"
#include "keys/key_file.hpp"
#include "keys/passphrase.hpp"
#include "keys/signature.hpp"
#include "keys/trust_bundle.hpp"

#include <CLI/CLI.hpp>

#include <unistd.h>

#include <cstdio>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace {

using namespace ferry;

struct Options {
    std::string manifest;
    std::string tar;
    std::vector<std::string> keys;
    std::string out;
    std::uint64_t chunk_size = k_default_chunk_size;
    std::string raw_payload;
    int chunks_delta = 0;
    std::int64_t size_delta = 0;
    std::string signature_as;
    bool rewrite_id = false;
    bool duplicate_signature = false;
    bool empty_signature = false;
    bool no_signature = false;
    std::uint64_t trailing_bytes = 0;
    bool manifest_raw = false;
    std::vector<std::string> signature_files;
    std::vector<std::uint64_t> flip_bytes;
    std::vector<std::string> patch_headers;
    std::optional<std::int64_t> cut_at;
    bool trust_bundle = false;
};

// The compressed payload and what the manifest says of it.
struct Payload {
    std::string bytes;
    PayloadSummary summary;
};

std::string compress(const std::string& data) {
    const ZstdCCtxPtr cctx(ZSTD_createCCtx());
    if (!cctx) {
        throw Error(ErrorKind::internal, "out of memory creating the zstd encoder");
    }
    ZSTD_CCtx_setParameter(cctx.get(), ZSTD_c_compressionLevel, 3);
    ZSTD_CCtx_setParameter(cctx.get(), ZSTD_c_checksumFlag, 1);
    std::string out(ZSTD_compressBound(data.size()), '\0');
    const std::size_t n = ZSTD_compress2(cctx.get(), out.data(), out.size(), data.data(), data.size());
    if (ZSTD_isError(n)) {
        throw Error(ErrorKind::internal, std::string("zstd: ") + ZSTD_getErrorName(n));
    }
    out.resize(n);
    return out;
}

Payload make_payload(const Options& o) {
    Payload p;
    p.bytes = o.raw_payload.empty() ? compress(read_file(o.tar, 1u << 30)) : read_file(o.raw_payload, 1u << 30);
    p.summary.size = p.bytes.size();
    p.summary.sha256 = sha256(p.bytes);
    p.summary.chunk_size = o.chunk_size;
    for (std::size_t at = 0; at < p.bytes.size(); at += o.chunk_size) {
        p.summary.chunks.push_back(sha256(std::string_view(p.bytes).substr(at, o.chunk_size)));
    }
    if (o.chunks_delta > 0) {
        p.summary.chunks.push_back(sha256("one chunk too many"));
    } else if (o.chunks_delta < 0 && !p.summary.chunks.empty()) {
        p.summary.chunks.pop_back();
    }
    return p;
}

// The payload section as emit_manifest() lays it out; the size may be deliberately off.
std::string payload_section(const PayloadSummary& s, std::int64_t size_delta) {
    std::string out = "payload:\n  name: payload.tar.zst\n  compression: zstd\n";
    out += "  size: " + std::to_string(static_cast<std::int64_t>(s.size) + size_delta) + "\n";
    out += "  sha256: " + to_hex(s.sha256) + "\n";
    out += "  chunk_size: " + std::to_string(s.chunk_size) + "\n";
    out += s.chunks.empty() ? "  chunks: []\n" : "  chunks:\n";
    for (const auto& c : s.chunks) {
        out += "    - " + to_hex(c) + "\n";
    }
    return out;
}

std::string sign(const keys::SecretKey& key, const std::string& manifest, UnixTime when) {
    const std::span<const std::uint8_t> message(reinterpret_cast<const std::uint8_t*>(manifest.data()),
                                                manifest.size());
    return keys::format_signature(keys::sign_message(
        key, message, "timestamp:" + std::to_string(when) + "\tfile:manifest.yaml\tbundle:forged",
        "signature from ferry key " + keys::key_id_hex(key.id())));
}

// A trust bundle of the file given as --manifest, which nothing checks, signed by every --key.
int forge_trust_bundle(const Options& o) {
    const std::string store = read_file(o.manifest, k_max_trust_store_size);
    const std::span<const std::uint8_t> message(reinterpret_cast<const std::uint8_t*>(store.data()), store.size());
    std::map<std::string, std::string> signatures;
    for (const auto& path : o.keys) {
        const keys::SecretKey key = keys::load_secret_key(path, [] { return std::string(); });
        signatures[keys::key_id_hex(key.id())] = keys::format_signature(keys::sign_message(
            key, message, "timestamp:" + std::to_string(now()) + "\tfile:trust.yaml\ttrust-store:forged",
            "signature from ferry key " + keys::key_id_hex(key.id())));
    }
    keys::write_trust_bundle(o.out, store, signatures, now());
    return 0;
}

// The byte at OFFSET of the bundle being written.
std::uint8_t read_byte(int fd, std::uint64_t offset, const std::string& what) {
    std::uint8_t b = 0;
    if (::pread(fd, &b, 1, static_cast<off_t>(offset)) != 1) {
        throw Error(ErrorKind::usage, what + ": no byte at offset " + std::to_string(offset));
    }
    return b;
}

// Overwrites the bundle being written at OFFSET.
void write_bytes(int fd, std::uint64_t offset, const std::string& bytes, const std::string& what) {
    if (::pwrite(fd, bytes.data(), bytes.size(), static_cast<off_t>(offset)) != static_cast<ssize_t>(bytes.size())) {
        throw_errno("writing " + what);
    }
}

// Recomputes the ustar checksum of the 512-byte header block that holds OFFSET.
void fix_header_checksum(int fd, std::uint64_t offset, const std::string& what) {
    const std::uint64_t start = offset / 512 * 512;
    std::string block(512, '\0');
    if (::pread(fd, block.data(), block.size(), static_cast<off_t>(start)) != 512) {
        throw Error(ErrorKind::usage, what + ": no header block at offset " + std::to_string(start));
    }
    unsigned sum = 0;
    for (std::size_t i = 0; i < block.size(); ++i) {
        sum += (i >= 148 && i < 156) ? ' ' : static_cast<unsigned char>(block[i]);
    }
    char field[8];
    std::snprintf(field, sizeof field, "%06o", sum);
    field[7] = ' ';
    write_bytes(fd, start + 148, std::string(field, 8), what);
}

// Breaks the written envelope as asked: patched header fields (checksum kept valid), flipped
// bytes (checksum left wrong) and a cut.
void damage(const Options& o, int fd, const std::string& what) {
    for (const auto& patch : o.patch_headers) {
        const auto colon = patch.find(':');
        const std::string hex = colon == std::string::npos ? "" : patch.substr(colon + 1);
        if (colon == std::string::npos || hex.empty() || hex.size() % 2 != 0) {
            throw Error(ErrorKind::usage, "--patch-header " + patch + ": expected OFFSET:HEXBYTES");
        }
        const std::uint64_t offset = std::stoull(patch.substr(0, colon));
        std::string bytes;
        for (std::size_t i = 0; i < hex.size(); i += 2) {
            bytes += static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16));
        }
        if (offset % 512 + bytes.size() > 512) {
            throw Error(ErrorKind::usage, "--patch-header " + patch + ": crosses a header block");
        }
        write_bytes(fd, offset, bytes, what);
        fix_header_checksum(fd, offset, what);
    }
    for (const std::uint64_t offset : o.flip_bytes) {
        const auto b = static_cast<char>(read_byte(fd, offset, what) ^ 0x01);
        write_bytes(fd, offset, std::string(1, b), what);
    }
    if (o.cut_at) {
        const off_t end = ::lseek(fd, 0, SEEK_END);
        const off_t keep = *o.cut_at >= 0 ? static_cast<off_t>(*o.cut_at) : end + static_cast<off_t>(*o.cut_at);
        if (keep < 0 || keep > end || ::ftruncate(fd, keep) != 0) {
            throw Error(ErrorKind::usage, "--cut-at " + std::to_string(*o.cut_at) + ": outside the " +
                                              std::to_string(end) + "-byte bundle");
        }
    }
}

int forge(const Options& o) {
    const UnixTime when = build_time();
    const Payload payload = make_payload(o);
    std::string manifest = read_file(o.manifest, 64u << 20);
    if (!o.manifest_raw) {
        if (!manifest.empty() && !manifest.ends_with('\n')) {
            manifest += '\n';
        }
        manifest += payload_section(payload.summary, o.size_delta);
    }

    // Member name (key id) -> signature text, in the envelope's order.
    std::map<std::string, std::string> signatures;
    std::string first_id;
    for (const auto& path : o.keys) {
        const keys::SecretKey key = keys::load_secret_key(path, [&] {
            return keys::read_passphrase("passphrase for " + path + ": ", false);
        });
        const std::string id = keys::key_id_hex(key.id());
        signatures[id] = o.empty_signature && first_id.empty() ? std::string() : sign(key, manifest, when);
        if (first_id.empty()) {
            first_id = id;
        }
    }
    // Signatures made elsewhere, filed under the key id inside them: a real release's
    // signature reused over other bytes, as an attacker without the key can.
    for (const auto& path : o.signature_files) {
        const std::string text = read_file(path, 1u << 20);
        const std::string id = keys::key_id_hex(keys::parse_signature(text, path).id);
        signatures[id] = text;
        if (first_id.empty()) {
            first_id = id;
        }
    }
    if (o.no_signature) {
        signatures.clear();
    } else if (first_id.empty()) {
        throw Error(ErrorKind::usage, "no signing key given", "pass --key or --signature-file, or --no-signature");
    }
    if (!o.signature_as.empty()) {
        if (o.no_signature) {
            throw Error(ErrorKind::usage, "--signature-as needs a signature to copy");
        }
        std::string copy = signatures.at(first_id);
        if (o.rewrite_id) {
            // The key id is covered by neither Ed25519 signature, so the copy still verifies
            // under the same public key filed under the other id.
            keys::Signature sig = keys::parse_signature(copy, "signature of " + first_id);
            const auto id = keys::parse_key_id_hex(o.signature_as);
            if (!id) {
                throw Error(ErrorKind::usage, "--signature-as " + o.signature_as + ": not a key id");
            }
            sig.id = *id;
            copy = keys::format_signature(sig);
        }
        signatures[o.signature_as] = copy;
    }

    AtomicFile out(o.out);
    EnvelopeWriter writer(out.fd(), out.temp_path().string(), when);
    writer.add(k_manifest_member, manifest);
    for (const auto& [id, text] : signatures) {
        const std::string name = std::string(k_signature_prefix) + id + std::string(k_signature_suffix);
        writer.add(name, text);
        if (o.duplicate_signature && id == first_id) {
            writer.add(name, text);
        }
    }
    writer.add(k_payload_member, payload.bytes);
    writer.finish();
    const std::string trailing(o.trailing_bytes, 'Z');
    write_all(out.fd(), trailing.data(), trailing.size(), out.temp_path().string());
    damage(o, out.fd(), out.temp_path().string());
    out.commit();
    std::printf("forged %s: manifest %zu bytes, payload %llu bytes in %zu chunk(s), %zu signature member(s)\n",
                o.out.c_str(), manifest.size(), static_cast<unsigned long long>(payload.summary.size),
                payload.summary.chunks.size(), signatures.size() + (o.duplicate_signature ? 1 : 0));
    return 0;
}

} // namespace

int main(int argc, char** argv) {
    Options o;
    CLI::App app("ferry-forge: build deliberately broken Ferry bundles (tests only)", "ferry-forge");
    app.add_option("--manifest", o.manifest, "Manifest template: the manifest without its payload section")
        ->required();
    app.add_option("--tar", o.tar, "Payload tar to compress with zstd");
    app.add_option("--key", o.keys, "Secret key to sign with (repeat for several)");
    app.add_option("-o,--out", o.out, "Bundle to write")->required();
    app.add_option("--chunk-size", o.chunk_size, "Chunk size recorded and hashed");
    app.add_option("--raw-payload", o.raw_payload, "Use these bytes as payload.tar.zst as they are");
    app.add_option("--chunks-delta", o.chunks_delta, "List one chunk hash more (+1) or less (-1)")
        ->check(CLI::Range(-1, 1));
    app.add_option("--size-delta", o.size_delta, "Add this to the payload size the manifest records");
    app.add_option("--signature-as", o.signature_as,
                   "Also file the first key's signature under this key id");
    app.add_flag("--rewrite-id", o.rewrite_id, "With --signature-as: also change the key id inside");
    app.add_flag("--duplicate-signature", o.duplicate_signature, "Write the first signature member twice");
    app.add_flag("--empty-signature", o.empty_signature, "Make the first signature member empty");
    app.add_flag("--no-signature", o.no_signature, "Write no signature member");
    app.add_option("--trailing-bytes", o.trailing_bytes, "Append this many bytes after the end marker");
    app.add_flag("--manifest-raw", o.manifest_raw, "Sign the template as it is, without a payload section");
    app.add_option("--signature-file", o.signature_files,
                   "Add this signature as it is, filed under the key id inside it (repeatable)");
    app.add_option("--patch-header", o.patch_headers,
                   "OFFSET:HEX: write these bytes at OFFSET of the bundle and fix that header's checksum");
    app.add_option("--flip-byte", o.flip_bytes, "Flip the low bit of the bundle's byte at OFFSET (repeatable)");
    app.add_option("--cut-at", o.cut_at, "Keep only the first N bytes of the bundle (negative: drop -N from the end)");
    app.add_flag("--trust-bundle", o.trust_bundle,
                 "Write a trust bundle of the --manifest file as it is (a trust store, however wrong), signed by --key");
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e);
    }
    if (o.trust_bundle) {
        install_interrupt_cleanup();
        try {
            return forge_trust_bundle(o);
        } catch (const Error& e) {
            std::fprintf(stderr, "ferry-forge: error: %s\n", e.what());
            return exit_code(e.kind());
        }
    }
    if (o.tar.empty() == o.raw_payload.empty()) {
        std::fprintf(stderr, "ferry-forge: error: give exactly one of --tar and --raw-payload\n");
        return 2;
    }
    install_interrupt_cleanup();
    try {
        return forge(o);
    } catch (const Error& e) {
        std::fprintf(stderr, "ferry-forge: error: %s\n", e.what());
        return exit_code(e.kind());
    } catch (const std::exception& e) {
        std::fprintf(stderr, "ferry-forge: internal error: %s\n", e.what());
        return 1;
    }
}
