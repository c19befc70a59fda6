// Fuzz target: the payload reader end to end, as `apply` runs it: verify_bundle with a
// StagingSink writing into a fresh private staging folder.
//
// The input is the payload. Its first byte chooses how the rest is used:
//   bit 0 clear: an uncompressed tar, which the harness compresses with zstd (level 1);
//   bit 0 set:   raw zstd data, used as payload.tar.zst as it is;
//   bit 1 set:   the manifest lists a fixed set of entries instead of the ones the tar holds;
//   bit 2 set:   the tar's header checksums are left as they are (by default the harness
//                rewrites them, so that mutated headers get past libarchive's checksum test).
// The harness scans the tar (decompressing raw zstd itself, up to 1 MiB) for entries the way a
// tar reader would (ustar prefix, GNU long names, pax path and size), and writes a manifest
// listing every entry whose name is a valid payload path, in order, with the size, mode and
// SHA-256 of its data. It signs the manifest with a key generated at start-up, writes the
// bundle into a per-process temp folder and verifies it against a trust store of that key, so
// that hostile tar content gets past authentication and reaches libarchive and the sink.
//
// Oracles, besides "no crash, only ferry::Error": after each input, nothing but the bundle and
// the staging folder exists in the temp folder; the staging folder holds only folders and
// regular files with one link each, every one of them listed in the manifest; and when the
// bundle verified, every listed file is staged with exactly its listed content.

#include "fuzz.hpp"

#include "applier/node/staging.hpp"
#include "core/envelope.hpp"
#include "core/handles.hpp"
#include "core/payload.hpp"
#include "core/sha256.hpp"
#include "keys/bundle.hpp"
#include "keys/signature.hpp"
#include "manifest-schema/manifest.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;
using namespace ferry;

constexpr UnixTime k_created = 1767225600; // 2026-01-01T00:00:00Z
constexpr UnixTime k_expires = 4102444800; // 2100-01-01T00:00:00Z
constexpr std::size_t k_max_scan = 1u << 20;
constexpr std::size_t k_max_entries = 256;

// The per-process temp folder, removed at exit.
const fs::path& temp_root() {
    static const fs::path root = [] {
        const char* tmp = std::getenv("TMPDIR");
        std::string pattern = std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") +
                              "/ferry-fuzz-payload-XXXXXX";
        if (::mkdtemp(pattern.data()) == nullptr) {
            std::perror("mkdtemp");
            std::abort();
        }
        std::atexit([] {
            std::error_code ignored;
            fs::remove_all(temp_root(), ignored);
        });
        return fs::path(pattern);
    }();
    return root;
}

const keys::SecretKey& signing_key() {
    static const keys::SecretKey key = keys::generate_secret_key();
    return key;
}

const keys::TrustStore& trust() {
    static const keys::TrustStore store = [] {
        keys::TrustStore s;
        s.keys.push_back({"fuzz", signing_key().public_key(), k_expires, {keys::TrustRole::release}});
        return s;
    }();
    return store;
}

// One entry of the tar as the scan sees it.
struct Entry {
    std::string name;
    std::uint64_t size = 0;
    unsigned mode = 0;
    Digest sha256{};
};

std::uint64_t round_block(std::uint64_t n) { return (n + 511) / 512 * 512; }

// A numeric header field: octal with optional leading spaces, or GNU base-256.
std::uint64_t tar_number(const char* field, std::size_t width) {
    std::uint64_t v = 0;
    if ((static_cast<unsigned char>(field[0]) & 0x80) != 0) {
        for (std::size_t i = 1; i < width; ++i) {
            v = (v << 8) | static_cast<unsigned char>(field[i]);
        }
        return v;
    }
    std::size_t i = 0;
    while (i < width && field[i] == ' ') {
        ++i;
    }
    for (; i < width && field[i] >= '0' && field[i] <= '7'; ++i) {
        v = v * 8 + static_cast<unsigned>(field[i] - '0');
    }
    return v;
}

// What GNU long-name and pax headers say of the entry that follows them.
struct Pending {
    std::optional<std::string> name;
    std::optional<std::string> sparse_name; // GNU.sparse.name, which takes precedence
    bool has_size = false;
    std::uint64_t size = 0;        // of the data in the archive
    bool has_real_size = false;
    std::uint64_t real_size = 0;   // GNU.sparse.realsize: the size a reader reports
};

std::uint64_t decimal(std::string_view text) {
    std::uint64_t v = 0;
    for (const char c : text) {
        v = v * 10 + static_cast<unsigned char>(c - '0');
    }
    return v;
}

// "LEN key=value\n" records of a pax header: the name and sizes.
void parse_pax(std::string_view body, Pending& pending) {
    while (!body.empty()) {
        std::size_t len = 0;
        std::size_t i = 0;
        for (; i < body.size() && body[i] >= '0' && body[i] <= '9' && len < body.size(); ++i) {
            len = len * 10 + static_cast<std::size_t>(body[i] - '0');
        }
        if (len == 0 || len > body.size() || i >= len || body[i] != ' ') {
            return;
        }
        const std::string_view record = body.substr(i + 1, len - i - 1);
        body.remove_prefix(len);
        const std::size_t eq = record.find('=');
        if (eq == std::string_view::npos || record.back() != '\n') {
            continue;
        }
        const std::string_view key = record.substr(0, eq);
        const std::string_view value = record.substr(eq + 1, record.size() - eq - 2);
        if (key == "path") {
            pending.name = std::string(value);
        } else if (key == "GNU.sparse.name") {
            pending.sparse_name = std::string(value);
        } else if (key == "size") {
            pending.size = decimal(value);
            pending.has_size = true;
        } else if (key == "GNU.sparse.realsize" || key == "GNU.sparse.size") {
            pending.real_size = decimal(value);
            pending.has_real_size = true;
        }
    }
}

std::string_view slice(std::string_view s, std::uint64_t at, std::uint64_t n) {
    return at >= s.size() ? std::string_view() : s.substr(at, n);
}

// The entries of TAR, walking its headers; with FIX, rewrites each header's checksum.
std::vector<Entry> scan_tar(std::string& tar, bool fix) {
    std::vector<Entry> out;
    Pending pending;
    std::uint64_t off = 0;
    while (off + 512 <= tar.size() && out.size() < k_max_entries) {
        char* h = tar.data() + off;
        if (std::all_of(h, h + 512, [](char c) { return c == 0; })) {
            break;
        }
        if (fix) {
            fuzz::fix_tar_checksum(h);
        }
        std::string name(h, ::strnlen(h, 100));
        if (std::memcmp(h + 257, "ustar", 5) == 0 && h[345] != '\0') {
            name = std::string(h + 345, ::strnlen(h + 345, 155)) + "/" + name;
        }
        std::uint64_t size = tar_number(h + 124, 12);
        const char type = h[156];
        const std::uint64_t data_at = off + 512;
        if (type == 'L') {
            const std::string_view body = slice(tar, data_at, size);
            pending.name = std::string(body.substr(0, body.find('\0')));
        } else if (type == 'x') {
            parse_pax(slice(tar, data_at, size), pending);
        } else if (type != 'g' && type != 'K') {
            size = pending.has_size ? pending.size : size;
            Entry e;
            e.name = pending.sparse_name ? *pending.sparse_name : pending.name.value_or(name);
            e.size = pending.has_real_size ? pending.real_size : size;
            e.mode = static_cast<unsigned>(tar_number(h + 100, 8) & 07777);
            e.sha256 = sha256(slice(tar, data_at, size));
            out.push_back(std::move(e));
            pending = Pending();
        }
        const std::uint64_t next = data_at + round_block(size);
        if (next <= off) {
            break;
        }
        off = next;
    }
    return out;
}

ZSTD_CCtx* compressor() {
    static const ZstdCCtxPtr cctx = [] {
        ZstdCCtxPtr c(ZSTD_createCCtx());
        ZSTD_CCtx_setParameter(c.get(), ZSTD_c_compressionLevel, 1);
        ZSTD_CCtx_setParameter(c.get(), ZSTD_c_checksumFlag, 1);
        return c;
    }();
    return cctx.get();
}

std::string compress(std::string_view data) {
    std::string out(ZSTD_compressBound(data.size()), '\0');
    const std::size_t n = ZSTD_compress2(compressor(), out.data(), out.size(), data.data(), data.size());
    fuzz::check(!ZSTD_isError(n), "zstd could not compress the input");
    out.resize(n);
    return out;
}

// As much of DATA's decompressed content as a quick look gives (for the scan only).
std::string decompress_prefix(std::string_view data) {
    const ZstdDCtxPtr dctx(ZSTD_createDCtx());
    ZSTD_DCtx_setParameter(dctx.get(), ZSTD_d_windowLogMax, k_max_window_log);
    const std::unique_ptr<char[]> out(new char[k_max_scan]);
    ZSTD_inBuffer in{data.data(), data.size(), 0};
    ZSTD_outBuffer o{out.get(), k_max_scan, 0};
    while (in.pos < in.size && o.pos < o.size) {
        const std::size_t before = in.pos + o.pos;
        if (ZSTD_isError(ZSTD_decompressStream(dctx.get(), &o, &in)) || in.pos + o.pos == before) {
            break;
        }
    }
    return {out.get(), o.pos};
}

// COMPONENT/ROLE/NAME as the bundler lays out paths, leniently: what the path suggests.
schema::ManifestFile manifest_file(const Entry& e) {
    schema::ManifestFile f;
    f.path = e.name;
    const std::size_t slash = e.name.find('/');
    f.component = slash == std::string::npos ? "main" : e.name.substr(0, slash);
    f.role = "doc";
    if (slash != std::string::npos) {
        const std::string rest = e.name.substr(slash + 1);
        const std::string role = rest.substr(0, rest.find('/'));
        if (std::find(schema::k_roles.begin(), schema::k_roles.end(), role) != schema::k_roles.end()) {
            f.role = role;
        }
    }
    f.size = e.size;
    f.mode = e.mode & 0777;
    f.sha256 = e.sha256;
    const std::string dest = "/opt/fuzz/" + e.name;
    if (!schema::dest_path_problem(dest)) {
        f.dest = dest;
    }
    if (f.role == "config") {
        f.config_mode = "replace";
    }
    return f;
}

std::vector<schema::ManifestFile> manifest_files(const std::vector<Entry>& entries, bool fixed) {
    std::vector<schema::ManifestFile> files;
    if (fixed) {
        for (const char* name : {"app/binary/app", "app/config/app.env", "app/doc/README.md"}) {
            Entry e{name, 0, 0644, sha256("")};
            for (const auto& scanned : entries) {
                if (scanned.name == name) {
                    e = scanned;
                }
            }
            files.push_back(manifest_file(e));
        }
        return files;
    }
    for (const auto& e : entries) {
        if (!schema::payload_path_problem(e.name) && (files.empty() || files.back().path < e.name)) {
            files.push_back(manifest_file(e));
        }
    }
    return files;
}

schema::Manifest make_manifest(std::vector<schema::ManifestFile> files, std::string_view payload) {
    schema::Manifest m;
    m.name = "fuzz";
    m.version = *schema::parse_version("1.0.0");
    m.sequence = 1;
    m.created = k_created;
    m.expires = k_expires;
    m.compatible = {"fuzz", "stable"};
    m.upgrade_from = ">=0.1.0";
    m.files = std::move(files);
    for (const auto& f : m.files) {
        const auto it = std::find_if(m.components.begin(), m.components.end(),
                                     [&](const schema::ManifestComponent& c) { return c.name == f.component; });
        if (it == m.components.end()) {
            m.components.push_back({f.component, "1.0.0", 1, f.size});
        } else {
            ++it->files;
            it->bytes += f.size;
        }
    }
    m.payload.size = payload.size();
    m.payload.sha256 = sha256(payload);
    m.payload.chunk_size = k_min_chunk_size;
    for (std::size_t at = 0; at < payload.size(); at += k_min_chunk_size) {
        m.payload.chunks.push_back(sha256(payload.substr(at, k_min_chunk_size)));
    }
    return m;
}

void write_bundle(const fs::path& path, const std::string& manifest, std::string_view payload) {
    const keys::SecretKey& key = signing_key();
    const std::string id = keys::key_id_hex(key.id());
    const keys::Signature sig = keys::sign_message(
        key, {reinterpret_cast<const std::uint8_t*>(manifest.data()), manifest.size()},
        "timestamp:" + std::to_string(k_created) + "\tfile:manifest.yaml\tbundle:fuzz-1.0.0",
        "signature from ferry key " + id);
    Fd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    fuzz::check(fd.valid(), "cannot write the bundle");
    EnvelopeWriter writer(fd.get(), path.string(), k_created);
    writer.add(k_manifest_member, manifest);
    writer.add(std::string(k_signature_prefix) + id + std::string(k_signature_suffix),
               keys::format_signature(sig));
    writer.add(k_payload_member, payload);
    writer.finish();
    fd.close(path.c_str());
}

// The oracle: what verification left in the temp folder.
void check_tree(const fs::path& bundle, const fs::path& staging,
                const std::map<std::string, const schema::ManifestFile*>& listed, bool verified) {
    for (const auto& entry : fs::directory_iterator(temp_root())) {
        const bool ok = (entry.path() == bundle && entry.is_regular_file() && !entry.is_symlink()) ||
                        (entry.path() == staging && entry.is_directory() && !entry.is_symlink());
        if (!ok) {
            std::fprintf(stderr, "unexpected: %s\n", entry.path().c_str());
            fuzz::finding("something other than the bundle and the staging folder in the temp folder");
        }
    }
    std::size_t staged = 0;
    if (fs::is_directory(fs::symlink_status(staging))) {
        for (const auto& entry : fs::recursive_directory_iterator(staging)) {
            struct stat st {};
            fuzz::check(::lstat(entry.path().c_str(), &st) == 0, "cannot lstat a staged path");
            const std::string rel = entry.path().lexically_relative(staging).generic_string();
            if (S_ISDIR(st.st_mode)) {
                continue;
            }
            if (S_ISLNK(st.st_mode)) {
                std::fprintf(stderr, "symlink: %s\n", rel.c_str());
                fuzz::finding("symlink in the staging folder");
            }
            if (!S_ISREG(st.st_mode)) {
                std::fprintf(stderr, "special file: %s\n", rel.c_str());
                fuzz::finding("special file in the staging folder");
            }
            if (st.st_nlink != 1) {
                std::fprintf(stderr, "hardlink: %s\n", rel.c_str());
                fuzz::finding("hardlinked file in the staging folder");
            }
            fuzz::check((st.st_mode & 07000) == 0, "setuid, setgid or sticky file in the staging folder");
            const auto it = listed.find(rel);
            if (it == listed.end()) {
                std::fprintf(stderr, "unlisted: %s\n", rel.c_str());
                fuzz::finding("file in the staging folder that the manifest does not list");
            }
            if (verified) {
                fuzz::check(static_cast<std::uint64_t>(st.st_size) == it->second->size &&
                                sha256_file(entry.path()) == it->second->sha256,
                            "verified bundle staged a file with other content than listed");
            }
            ++staged;
        }
    }
    if (verified) {
        fuzz::check(staged == listed.size(), "verified bundle did not stage every listed file");
    }
}

void run(const std::uint8_t* data, std::size_t size) {
    if (size == 0) {
        return;
    }
    const std::uint8_t bits = data[0];
    const std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
    const bool raw_zstd = (bits & 1) != 0;
    const bool fixed_list = (bits & 2) != 0;
    const bool keep_checksums = (bits & 4) != 0;

    std::string tar = raw_zstd ? decompress_prefix(rest) : std::string(rest);
    const std::vector<Entry> entries = scan_tar(tar, !raw_zstd && !keep_checksums);
    const std::string payload = raw_zstd ? std::string(rest) : compress(tar);
    const schema::Manifest manifest = make_manifest(manifest_files(entries, fixed_list), payload);
    std::map<std::string, const schema::ManifestFile*> listed;
    for (const auto& f : manifest.files) {
        listed[f.path] = &f;
    }

    const fs::path bundle = temp_root() / "bundle.ferry";
    const fs::path staging = temp_root() / "staging";
    write_bundle(bundle, schema::emit_manifest(manifest), payload);
    bool verified = false;
    fuzz::expect_errors([&] {
        applier::StagingSink sink(staging);
        keys::VerifyOptions how;
        how.now = k_created + 60;
        how.progress = false;
        how.sink = &sink;
        (void)keys::verify_bundle(bundle, trust(), how);
        verified = true;
    });
    check_tree(bundle, staging, listed, verified);
    fs::remove_all(staging);
}

} // namespace

FERRY_FUZZ_TARGET(payload) {
    run(data, size);
    return 0;
}
