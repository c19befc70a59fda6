#include "bundle.hpp"

#include "core/error.hpp"
#include "core/fs.hpp"

#include <fcntl.h>
#include <sys/stat.h>

namespace ferry::keys {

namespace {

struct OpenBundle {
    Fd fd;
    std::uint64_t size = 0;
};

OpenBundle open_bundle(const std::filesystem::path& path) {
    OpenBundle b;
    b.fd = open_regular_file(path);
    struct stat st {};
    if (::fstat(b.fd.get(), &st) != 0) {
        throw_errno(path.string());
    }
    b.size = static_cast<std::uint64_t>(st.st_size);
    ::posix_fadvise(b.fd.get(), 0, 0, POSIX_FADV_SEQUENTIAL);
    return b;
}

BundleInfo read_info(EnvelopeReader& reader, const std::filesystem::path& path, std::uint64_t size,
                     const TrustStore* trust, UnixTime now, bool with_files) {
    BundleInfo info;
    info.path = path;
    info.file_size = size;
    try {
        info.head = read_bundle_head(reader, trust != nullptr ? trust->limits : Limits{});
        if (trust != nullptr) {
            // Authenticate before the manifest reaches the YAML parser.
            info.auth = authenticate(info.head, *trust, now);
        }
        info.manifest = with_files ? schema::parse_manifest(info.head.manifest, "manifest.yaml")
                                   : schema::parse_manifest_summary(info.head.manifest, "manifest.yaml");
        if (trust != nullptr) {
            schema::check_limits(info.manifest, trust->limits, "manifest.yaml");
        }
    } catch (const Error& e) {
        throw e.with_context(path.string());
    }
    return info;
}

} // namespace

BundleInfo inspect_bundle(const std::filesystem::path& path, const TrustStore* trust, bool with_files) {
    OpenBundle b = open_bundle(path);
    EnvelopeReader reader(b.fd.get(), path.string());
    return read_info(reader, path, b.size, trust, now(), with_files);
}

VerifiedBundle verify_bundle(const std::filesystem::path& path, const TrustStore& trust,
                             const VerifyOptions& options) {
    OpenBundle b = open_bundle(path);
    EnvelopeReader reader(b.fd.get(), path.string());
    VerifiedBundle out;
    out.info = read_info(reader, path, b.size, &trust, options.now, true);
    const schema::Manifest& m = out.info.manifest;
    if (m.expires <= options.now) {
        throw Error(ErrorKind::policy,
                    path.string() + ": bundle " + m.name + " " + m.version.str() + " expired at " +
                        format_time(m.expires),
                    "ask the release team for a fresh bundle; an expired one is never applied");
    }
    if (options.before_payload) {
        options.before_payload(out.info);
    }
    Progress progress(options.label.empty() ? "verifying " + path.filename().string() : options.label,
                      m.payload.size, options.progress);
    try {
        read_payload(reader, m.payload_index(), options.sink, &progress, trust.limits);
    } catch (const Error& e) {
        throw e.with_context(path.string());
    }
    progress.finish();
    out.chunks = m.payload.chunks.size();
    return out;
}

} // namespace ferry::keys
