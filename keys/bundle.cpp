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

// The payload reader of core, by a name that does not clash with the member function.
void read_payload_member(EnvelopeReader& reader, const PayloadIndex& index, PayloadSink* sink, Progress* progress,
                         const Limits& limits) {
    read_payload(reader, index, sink, progress, limits);
}

} // namespace

BundleInfo inspect_bundle(const std::filesystem::path& path, const TrustStore* trust, bool with_files) {
    OpenBundle b = open_bundle(path);
    EnvelopeReader reader(b.fd.get(), path.string());
    return read_info(reader, path, b.size, trust, now(), with_files);
}

struct BundleReader::Open {
    explicit Open(const std::filesystem::path& path) : file(open_bundle(path)), reader(file.fd.get(), path.string()) {}
    OpenBundle file;
    EnvelopeReader reader;
    bool payload_read = false;
};

BundleReader::BundleReader(const std::filesystem::path& path, const TrustStore& trust, UnixTime now)
    : m_open(std::make_unique<Open>(path)), m_trust(trust) {
    m_info = read_info(m_open->reader, path, m_open->file.size, &trust, now, true);
    const schema::Manifest& m = m_info.manifest;
    if (m.expires <= now) {
        throw Error(ErrorKind::policy,
                    path.string() + ": bundle " + m.name + " " + m.version.str() + " expired at " +
                        format_time(m.expires),
                    "ask the release team for a fresh bundle; an expired one is never applied");
    }
}

BundleReader::~BundleReader() = default;

VerifiedBundle BundleReader::read_payload(PayloadSink* sink, bool progress, const std::string& label) {
    if (m_open->payload_read) {
        throw Error(ErrorKind::internal, "the payload of " + m_info.path.string() + " was read already");
    }
    m_open->payload_read = true;
    const schema::Manifest& m = m_info.manifest;
    Progress bar(label.empty() ? "verifying " + m_info.path.filename().string() : label, m.payload.size, progress);
    try {
        read_payload_member(m_open->reader, m.payload_index(), sink, &bar, m_trust.limits);
    } catch (const Error& e) {
        throw e.with_context(m_info.path.string());
    }
    bar.finish();
    return {m_info, m.payload.chunks.size()};
}

VerifiedBundle verify_bundle(const std::filesystem::path& path, const TrustStore& trust,
                             const VerifyOptions& options) {
    BundleReader bundle(path, trust, options.now);
    return bundle.read_payload(options.sink, options.progress, options.label);
}

} // namespace ferry::keys
