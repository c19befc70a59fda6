#include "bundle.hpp"

#include "core/error.hpp"
#include "core/fs.hpp"
#include "core/part_source.hpp"

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

// Begins step NAME in LOG, if any.
void begin(CheckLog* log, std::string name) {
    if (log != nullptr) {
        log->begin(std::move(name));
    }
}

// Passes the step under way in LOG, if any; DETAIL is only built when there is a log.
template <typename Detail>
void pass(CheckLog* log, Detail detail) {
    if (log != nullptr) {
        log->pass(detail());
    }
}

BundleInfo read_info(EnvelopeReader& reader, const std::filesystem::path& path, std::uint64_t size,
                     const TrustStore* trust, UnixTime now, bool with_files, CheckLog* log = nullptr) {
    BundleInfo info;
    info.path = path;
    info.file_size = size;
    try {
        begin(log, "envelope");
        // Only inspection without a trust store, and the bundler's check of its own unsigned
        // output (a store with no release threshold, which no trust.yaml can be), see an
        // unsigned bundle.
        const bool unsigned_ok = trust == nullptr || trust->thresholds.release == 0;
        info.head = read_bundle_head(reader, trust != nullptr ? trust->limits : Limits{},
                                     unsigned_ok ? Unsigned::allowed : Unsigned::refused);
        pass(log, [&] {
            return "strict ustar: manifest.yaml (" + std::to_string(info.head.manifest.size()) + " bytes), " +
                   std::to_string(info.head.signatures.size()) + " signature(s), payload.tar.zst at offset " +
                   std::to_string(info.head.payload_offset);
        });
        if (trust != nullptr) {
            // Authenticate before the manifest reaches the YAML parser.
            begin(log, "signatures");
            info.auth = authenticate(info.head, *trust, now);
            pass(log, [&] { return counted_text(*info.auth); });
        }
        begin(log, "manifest");
        info.manifest = with_files ? schema::parse_manifest(info.head.manifest, "manifest.yaml")
                                   : schema::parse_manifest_summary(info.head.manifest, "manifest.yaml");
        if (trust != nullptr) {
            schema::check_limits(info.manifest, trust->limits, "manifest.yaml");
        }
    } catch (const Error& e) {
        throw e.with_context(path.string());
    }
    info.geometry = {info.head.payload_offset, info.manifest.payload.size, info.manifest.payload.chunk_size};
    if (info.geometry.chunk_size == 0 || info.geometry.chunks() != info.manifest.payload.chunks.size()) {
        throw Error(ErrorKind::verification, path.string() + ": manifest.yaml: the payload's chunk list does not match its size");
    }
    pass(log, [&] {
        const schema::Manifest& m = info.manifest;
        return m.name + " " + m.version.str() + ", sequence " + std::to_string(m.sequence) + ": " +
               std::to_string(m.files.size()) + " files in " + std::to_string(m.components.size()) + " component(s), " +
               std::to_string(m.payload.chunks.size()) + " payload chunk(s); well-formed" +
               (trust != nullptr ? ", within the trust store's limits" : "");
    });
    return info;
}

// The spans of every part of a split bundle whose first part is FIRST, SIZE bytes.
std::vector<BundlePart> place_parts(const BundleInfo& info, const std::filesystem::path& first, std::uint64_t size) {
    const auto others = find_other_parts(first, info.geometry);
    const auto spans = check_part_sequence(info.geometry, info.manifest.payload.chunks, first.filename().string(), size, others);
    std::vector<BundlePart> parts{{first, spans.front()}};
    for (std::size_t i = 1; i < spans.size(); ++i) {
        const auto it = std::find_if(others.begin(), others.end(), [&](const PartCandidate& c) { return c.number == spans[i].number; });
        parts.push_back({it->file, spans[i]});
    }
    return parts;
}

// The payload reader of core, by a name that does not clash with the member function.
void read_payload_member(EnvelopeReader& reader, const PayloadIndex& index, PayloadSink* sink, Progress* progress,
                         const Limits& limits) {
    read_payload(reader, index, sink, progress, limits);
}

} // namespace

void CheckLog::begin(std::string name) {
    m_checks.push_back({std::move(name), false, {}});
    m_open = true;
}

void CheckLog::pass(std::string detail) {
    if (m_open) {
        m_checks.back().passed = true;
        m_checks.back().detail = std::move(detail);
        m_open = false;
    }
}

bool CheckLog::fail_open(const std::string& detail) {
    if (!m_open) {
        return false;
    }
    m_checks.back().detail = detail;
    m_open = false;
    return true;
}

BundleLocation locate_bundle(const std::filesystem::path& given) {
    namespace fs = std::filesystem;
    std::error_code ec;
    if (fs::is_directory(given, ec)) {
        std::vector<fs::path> firsts;
        std::vector<fs::path> singles;
        for (const auto& entry : fs::directory_iterator(given)) {
            const auto number = part_number(entry.path());
            if (number == 1u) {
                firsts.push_back(entry.path());
            } else if (!number && entry.path().extension() == ".ferry" && entry.is_regular_file()) {
                singles.push_back(entry.path());
            }
        }
        std::sort(firsts.begin(), firsts.end());
        const auto& found = firsts.empty() ? singles : firsts;
        if (found.size() != 1) {
            std::string names;
            for (const auto& f : found) {
                names += (names.empty() ? "" : ", ") + f.filename().string();
            }
            throw Error(ErrorKind::input,
                        given.string() + (found.empty() ? ": no bundle here (no NAME.ferry nor first part NAME.ferry.001)"
                                                        : ": several bundles here (" + names + ")"),
                        "give the bundle file or its first part");
        }
        return {found.front(), !firsts.empty()};
    }
    const auto number = part_number(given);
    if (number && *number != 1) {
        const fs::path first = given.parent_path() / part_file_name(part_stem(given), 1);
        throw Error(ErrorKind::input,
                    given.string() + " is part " + std::to_string(*number) + " of a split bundle",
                    "give its first part, " + first.string() + ", or the folder holding the parts; `verify --part` checks one part alone");
    }
    return {given, number.has_value()};
}

BundleInfo inspect_bundle(const std::filesystem::path& path, const TrustStore* trust, bool with_files) {
    const BundleLocation location = locate_bundle(path);
    OpenBundle b = open_bundle(location.first);
    EnvelopeReader reader(b.fd.get(), location.first.string());
    BundleInfo info = read_info(reader, location.first, b.size, trust, now(), with_files);
    if (location.split) {
        info.file_size = info.geometry.file_size();
        try {
            info.parts = place_parts(info, location.first, b.size);
        } catch (const Error& e) {
            info.parts_problem = e.what();
        }
    }
    return info;
}

struct BundleReader::Open {
    explicit Open(const std::filesystem::path& path) : location(locate_bundle(path)), file(open_bundle(location.first)) {
        if (location.split) {
            parts = std::make_unique<PartSource>(location.first, file.size);
            reader = std::make_unique<EnvelopeReader>(*parts, location.first.string());
        } else {
            reader = std::make_unique<EnvelopeReader>(file.fd.get(), location.first.string());
        }
    }
    BundleLocation location;
    OpenBundle file;
    std::unique_ptr<PartSource> parts;
    std::unique_ptr<EnvelopeReader> reader;
    bool payload_read = false;
};

BundleReader::BundleReader(const std::filesystem::path& path, const TrustStore& trust, UnixTime now, CheckLog* log)
    : m_open(std::make_unique<Open>(path)), m_trust(trust), m_log(log) {
    m_info = read_info(*m_open->reader, m_open->location.first, m_open->file.size, &trust, now, true, log);
    if (m_open->location.split) {
        m_info.file_size = m_info.geometry.file_size();
    }
    const schema::Manifest& m = m_info.manifest;
    begin(log, "expiry");
    if (m.expires <= now) {
        throw Error(ErrorKind::policy,
                    path.string() + ": bundle " + m.name + " " + m.version.str() + " expired at " +
                        format_time(m.expires),
                    "ask the release team for a fresh bundle; an expired one is never applied");
    }
    pass(log, [&] { return "created " + format_time(m.created) + ", expires " + format_time(m.expires) + ", checked at " + format_time(now); });
}

BundleReader::~BundleReader() = default;

Error BundleReader::in_context(const Error& e) const {
    if (!m_open->parts) {
        return e.with_context(m_info.path.string());
    }
    // A chunk that does not match names the part it came from.
    const bool chunk = std::string_view(e.what()).starts_with("payload.tar.zst chunk");
    return e.with_context(m_open->parts->current().string() + (chunk ? " is damaged" : ""));
}

void BundleReader::add_parts() {
    if (m_open->payload_read) {
        throw Error(ErrorKind::internal, "the payload of " + m_info.path.string() + " was read already");
    }
    m_open->payload_read = true;
    if (!m_open->location.split) {
        return;
    }
    begin(m_log, "parts");
    m_info.parts = place_parts(m_info, m_open->location.first, m_open->file.size);
    for (std::size_t i = 1; i < m_info.parts.size(); ++i) {
        m_open->parts->append(m_info.parts[i].file, m_info.parts[i].span.size);
    }
    pass(m_log, [&] {
        std::string names;
        for (const auto& p : m_info.parts) {
            names += (names.empty() ? "" : ", ") + p.file.filename().string();
        }
        return std::to_string(m_info.parts.size()) + " parts in place, in order, from one bundle: " + names;
    });
}

PayloadIndex BundleReader::payload_index() const {
    PayloadIndex index = m_info.manifest.payload_index();
    if (m_log != nullptr) {
        index.sha256 = m_info.manifest.payload.sha256;
    }
    return index;
}

VerifiedBundle BundleReader::read_payload(PayloadSink* sink, bool progress, const std::string& label) {
    add_parts();
    const schema::Manifest& m = m_info.manifest;
    Progress bar(label.empty() ? "verifying " + m_info.path.filename().string() : label, m.payload.size, progress);
    begin(m_log, "payload");
    try {
        read_payload_member(*m_open->reader, payload_index(), sink, &bar, m_trust.limits);
    } catch (const Error& e) {
        throw in_context(e);
    }
    bar.finish();
    pass(m_log, [&] {
        return std::to_string(m.payload.chunks.size()) + " chunk(s) matched their SHA-256 before decompression, the whole " +
               "member its SHA-256; " + std::to_string(m.files.size()) + " files match the manifest (path, size, mode, " +
               "SHA-256, order); nothing after the end of the archive";
    });
    return {m_info, m.payload.chunks.size()};
}

VerifiedBundle BundleReader::check_chunks(bool progress) {
    add_parts();
    const schema::Manifest& m = m_info.manifest;
    Progress bar("checking " + m_info.path.filename().string(), m.payload.size, progress);
    begin(m_log, "payload (quick)");
    try {
        check_payload_chunks(*m_open->reader, payload_index(), &bar);
    } catch (const Error& e) {
        throw in_context(e);
    }
    bar.finish();
    pass(m_log, [&] {
        return std::to_string(m.payload.chunks.size()) + " chunk(s) matched their SHA-256, the whole member its SHA-256; " +
               "nothing decompressed, the files not checked";
    });
    return {m_info, m.payload.chunks.size()};
}

BundlePart BundleReader::check_part(const std::filesystem::path& file, bool progress) {
    const BundleGeometry& g = m_info.geometry;
    const auto& chunks = m_info.manifest.payload.chunks;
    const std::string name = file.filename().string();
    if (!m_open->location.split) {
        throw Error(ErrorKind::usage, m_info.path.string() + " is a whole bundle, not the first part of a split one");
    }
    const PartSpan first = first_part_span(g, m_open->location.first.filename().string(), m_open->file.size);
    BundlePart part{file, first};
    std::error_code ec;
    if (!std::filesystem::equivalent(file, m_open->location.first, ec)) {
        part.span = place_lone_part(g, chunks, first, read_part_candidate(file, g), m_open->location.first.filename().string());
    }
    const Fd fd = open_regular_file(file);
    Progress bar("checking " + name, part.span.chunk_count * g.chunk_size, progress);
    std::string buffer;
    for (std::uint64_t k = part.span.first_chunk; k < part.span.end_chunk(); ++k) {
        const std::uint64_t at = g.chunk_offset(k) - part.span.offset;
        buffer.resize(g.chunk_length(k));
        const std::size_t got = read_full_at(fd.get(), buffer.data(), buffer.size(), at, file.string());
        const Digest digest = sha256(std::string_view(buffer.data(), got));
        if (got != buffer.size() || digest != chunks[k]) {
            throw Error(ErrorKind::verification,
                        name + " is damaged: payload chunk " + std::to_string(k + 1) + " of " + std::to_string(g.chunks()) +
                            ": sha256 mismatch (expected " + to_hex(chunks[k]) + ", got " + to_hex(digest) + ")",
                        "copy the part from the original media again");
        }
        bar.advance(got);
    }
    if (part.span.end_chunk() == g.chunks()) {
        const std::uint64_t at = g.head_size + g.payload_size - part.span.offset;
        buffer.assign(g.tail_size(), '\1');
        const std::size_t got = read_full_at(fd.get(), buffer.data(), buffer.size(), at, file.string());
        if (got != buffer.size() || buffer.find_first_not_of('\0') != std::string::npos) {
            throw Error(ErrorKind::verification, name + " is damaged: the end of the bundle after the payload is not zero padding and the end-of-archive marker");
        }
    }
    bar.finish();
    return part;
}

VerifiedBundle verify_bundle(const std::filesystem::path& path, const TrustStore& trust,
                             const VerifyOptions& options) {
    BundleReader bundle(path, trust, options.now, options.log);
    return options.quick ? bundle.check_chunks(options.progress)
                         : bundle.read_payload(options.sink, options.progress, options.label);
}

PartIdentity identify_part(const std::filesystem::path& file) {
    namespace fs = std::filesystem;
    PartIdentity id;
    id.bundle = part_stem(file);
    id.number = part_number(file).value_or(0);
    const fs::path first = file.parent_path() / part_file_name(id.bundle, 1);
    const fs::path list_file = file.parent_path() / (id.bundle + std::string(k_parts_list_suffix));
    std::error_code ec;
    if (fs::is_regular_file(first, ec)) {
        const BundleInfo info = inspect_bundle(first, nullptr, false);
        const PartSpan head = first_part_span(info.geometry, first.filename().string(), fs::file_size(first));
        const PartSpan span = place_lone_part(info.geometry, info.manifest.payload.chunks, head,
                                              read_part_candidate(file, info.geometry), first.filename().string());
        id.number = span.number;
        id.span = span;
        if (info.parts_problem.empty()) {
            id.of = static_cast<unsigned>(info.parts.size());
        }
        id.bundle = info.manifest.name + "-" + info.manifest.version.str();
        id.source = "its chunks, located in the manifest of " + first.filename().string() + " (signatures not checked)";
        return id;
    }
    if (fs::is_regular_file(list_file, ec)) {
        const PartsList list = parse_parts_list(read_file(list_file), list_file.string());
        const auto it = std::find_if(list.parts.begin(), list.parts.end(),
                                     [&](const PartsListEntry& e) { return e.file == file.filename().string(); });
        if (it == list.parts.end()) {
            throw Error(ErrorKind::verification, file.string() + " is not listed in " + list_file.string());
        }
        if (it->span.size != fs::file_size(file)) {
            throw Error(ErrorKind::verification,
                        file.string() + ": " + std::to_string(fs::file_size(file)) + " bytes, " + list_file.filename().string() +
                            " says " + std::to_string(it->span.size) + ": truncated or not this part");
        }
        id.bundle = list.bundle;
        id.number = it->span.number;
        id.of = static_cast<unsigned>(list.parts.size());
        id.span = it->span;
        id.source = "the parts list " + list_file.filename().string() + " (its size matches; its SHA-256 is checked by sha256sum -c)";
        return id;
    }
    throw Error(ErrorKind::input,
                file.string() + " is part " + std::to_string(id.number) + " of " + id.bundle +
                    " by its name alone: neither the first part nor the parts list is beside it",
                "put " + first.filename().string() + " or " + list_file.filename().string() + " beside it");
}

} // namespace ferry::keys
