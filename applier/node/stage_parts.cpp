#include "applier/node/stage_parts.hpp"

#include "applier/node/node_trust.hpp"
#include "applier/node/run.hpp"
#include "core/error.hpp"
#include "core/fs.hpp"
#include "core/progress.hpp"

#include <algorithm>
#include <fcntl.h>
#include <linux/falloc.h>
#include <map>
#include <sstream>
#include <sys/stat.h>
#include <unistd.h>

namespace ferry::applier {

namespace fs = std::filesystem;

namespace {

constexpr const char* k_copying = "copying";
constexpr const char* k_verified = "verified";
constexpr std::string_view k_record_format = "ferry-staged-parts/1";

void write_record(const StateLayout& layout, const std::string& sha, const StagedParts& staged) {
    const BundleGeometry& g = staged.geometry;
    std::string text = std::string(k_record_format) + " " + std::to_string(g.head_size) + " " +
                       std::to_string(g.payload_size) + " " + std::to_string(g.chunk_size) + "\n";
    for (const auto& p : staged.parts) {
        text += std::to_string(p.number) + " " + std::to_string(p.offset) + " " +
                std::to_string(p.size) + " " + std::to_string(p.first_chunk) + " " +
                std::to_string(p.chunk_count) + "\n";
    }
    write_file_atomic(layout.staged_parts(sha), text, 0600);
}

std::string read_at(int fd, std::uint64_t offset, std::uint64_t size, const std::string& what) {
    std::string out(size, '\0');
    out.resize(read_full_at(fd, out.data(), size, offset, what));
    return out;
}

// Whether the copy holds data at OFFSET (not a hole never written, or punched out).
bool has_data(int fd, std::uint64_t offset) {
    return ::lseek(fd, static_cast<off_t>(offset), SEEK_DATA) == static_cast<off_t>(offset);
}

// Forgets SIZE bytes at OFFSET of the copy: nothing of a refused part is kept.
void forget(int fd, std::uint64_t offset, std::uint64_t size, const std::string& what) {
    if (::fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, static_cast<off_t>(offset),
                    static_cast<off_t>(size)) != 0) {
        const std::string zeros(1 << 20, '\0');
        for (std::uint64_t done = 0; done < size; done += zeros.size()) {
            write_at(fd, offset + done,
                     std::string_view(zeros).substr(
                         0, std::min<std::uint64_t>(zeros.size(), size - done)),
                     what);
        }
    }
    if (::fsync(fd) != 0) {
        throw_errno(what);
    }
}

// Everything a part copy needs.
struct PartCopy {
    const BundleGeometry& g;
    const std::vector<Digest>& chunks;
    int copy;
    std::string copy_name;
    StateDb& state;
    std::string sha;
    std::uint64_t chunks_before; // chunks staged in earlier parts
    StageOutcome& out;
    Progress& progress;
};

// Copies the chunks of SPAN from FILE into the copy, each hashed as it is copied; a chunk
// already in the copy and intact (an interrupted stage of this part) is not read again.
void copy_part(const fs::path& file, const PartSpan& span, PartCopy& c) {
    const std::string what = file.string();
    const Fd in = open_regular_file(file);
    ::posix_fadvise(in.get(), 0, 0, POSIX_FADV_SEQUENTIAL);
    for (std::uint64_t k = span.first_chunk; k < span.end_chunk(); ++k) {
        const std::uint64_t offset = c.g.chunk_offset(k);
        const std::uint64_t length = c.g.chunk_length(k);
        if (has_data(c.copy, offset) &&
            sha256(read_at(c.copy, offset, length, c.copy_name)) == c.chunks[k]) {
            ++c.out.resumed_at;
            c.progress.advance(length);
            continue;
        }
        const std::string chunk = read_at(in.get(), offset - span.offset, length, what);
        c.out.media_bytes += chunk.size();
        const std::string where = file.filename().string() + ": payload chunk " +
                                  std::to_string(k + 1) + " of " + std::to_string(c.chunks.size());
        if (chunk.size() != length) {
            throw Error(ErrorKind::verification, where + " is truncated (" +
                                                     std::to_string(chunk.size()) + " of " +
                                                     std::to_string(length) + " bytes)");
        }
        const Digest got = sha256(chunk);
        if (got != c.chunks[k]) {
            throw Error(ErrorKind::verification,
                        file.filename().string() + " is damaged: payload chunk " +
                            std::to_string(k + 1) + " of " + std::to_string(c.chunks.size()) +
                            ": sha256 mismatch (expected " + to_hex(c.chunks[k]) + ", got " +
                            to_hex(got) + ")");
        }
        write_at(c.copy, offset, chunk, c.copy_name);
        c.state.set_staged_progress(
            c.sha, static_cast<std::int64_t>(c.chunks_before + k + 1 - span.first_chunk),
            k_copying);
        c.progress.advance(length);
        crash_point("stage:chunk:" + std::to_string(k + 1));
    }
    if (span.end_chunk() == c.g.chunks()) {
        const std::uint64_t tail_offset = c.g.head_size + c.g.payload_size;
        const std::string tail =
            read_at(in.get(), tail_offset - span.offset, c.g.tail_size(), what);
        c.out.media_bytes += tail.size();
        if (tail.size() != c.g.tail_size() || tail.find_first_not_of('\0') != std::string::npos) {
            throw Error(ErrorKind::verification,
                        file.filename().string() +
                            " is damaged: the end of the bundle after the payload is not zero "
                            "padding and the end-of-archive marker");
        }
    }
    if (::fsync(c.copy) != 0) {
        throw_errno(c.copy_name);
    }
}

// The bundle a part with no first part beside it belongs to: one staged, or being staged, on this
// node.
std::optional<std::string> staged_bundle_holding(StateDb& state, const keys::TrustStore& trust,
                                                 const fs::path& part,
                                                 std::optional<keys::BundleReader>& reader) {
    const StateLayout layout = state.layout();
    for (const auto& b : state.staged_bundles()) {
        std::error_code ec;
        if (!fs::exists(layout.staged_bundle(b.manifest_sha256), ec)) {
            continue;
        }
        // A staged bundle now expired, or signed by keys no longer trusted, holds nothing to go on with.
        std::optional<keys::BundleReader> candidate;
        try {
            candidate.emplace(layout.staged_bundle(b.manifest_sha256), trust, now());
        } catch (const Error&) {
            continue;
        }
        const auto& info = candidate->info();
        if (locate_part(info.manifest.payload.chunks, read_part_candidate(part, info.geometry))) {
            reader.emplace(layout.staged_bundle(b.manifest_sha256), trust, now());
            return b.manifest_sha256;
        }
    }
    return std::nullopt;
}

std::string part_list(const std::vector<unsigned>& numbers) {
    std::string out;
    for (const unsigned n : numbers) {
        out += (out.empty() ? "" : ", ") + std::to_string(n);
    }
    return out;
}

} // namespace

StagedParts read_staged_parts(const StateLayout& layout, const std::string& manifest_sha256) {
    StagedParts out;
    std::error_code ec;
    const fs::path file = layout.staged_parts(manifest_sha256);
    if (!fs::exists(file, ec)) {
        return out;
    }
    std::istringstream in(read_file(file));
    std::string format;
    in >> format >> out.geometry.head_size >> out.geometry.payload_size >> out.geometry.chunk_size;
    if (format != k_record_format || !in || out.geometry.chunk_size == 0) {
        throw Error(ErrorKind::input, file.string() + ":1: not a record of staged parts");
    }
    PartSpan p;
    while (in >> p.number >> p.offset >> p.size >> p.first_chunk >> p.chunk_count) {
        out.parts.push_back(p);
    }
    return out;
}

std::optional<std::vector<fs::path>> split_media(const fs::path& given) {
    std::error_code ec;
    const bool dir = fs::is_directory(given, ec);
    if (!dir && !part_number(given)) {
        return std::nullopt;
    }
    const fs::path folder =
        dir ? given : (given.parent_path().empty() ? fs::path(".") : given.parent_path());
    std::map<std::string, std::vector<fs::path>> by_stem;
    for (const auto& entry : fs::directory_iterator(folder)) {
        if (part_number(entry.path()) && (dir || part_stem(entry.path()) == part_stem(given))) {
            by_stem[part_stem(entry.path())].push_back(dir ? given / entry.path().filename()
                                                           : given.parent_path() /
                                                                 entry.path().filename());
        }
    }
    if (by_stem.empty()) {
        return std::nullopt;
    }
    if (by_stem.size() > 1) {
        throw Error(ErrorKind::input, given.string() + ": parts of several bundles here",
                    "stage one bundle's parts at a time: name one of its parts");
    }
    auto files = by_stem.begin()->second;
    std::sort(files.begin(), files.end(),
              [](const fs::path& a, const fs::path& b) { return part_number(a) < part_number(b); });
    return files;
}

namespace {

// Stages FILES, parts of one bundle, on SITE; FACTS says what is known of the bundle as it is read.
StageOutcome stage_parts_on(Site& site, const StageOptions& options, const std::vector<fs::path>& files,
                            BundleFacts& facts) {
    StateDb& state = site.state;
    const StateLayout layout = state.layout();
    const keys::TrustStore trust = load_site_trust(options.trust, options.site.root);

    // The manifest: the first part's, or that of a bundle being staged which holds these parts.
    const auto first_file = std::find_if(files.begin(), files.end(),
                                         [](const fs::path& f) { return part_number(f) == 1u; });
    std::optional<keys::BundleReader> reader;
    if (first_file != files.end()) {
        reader.emplace(*first_file, trust, now());
    } else if (!staged_bundle_holding(state, trust, files.front(), reader)) {
        throw Error(
            ErrorKind::input,
            files.front().string() + ": no bundle being staged on this node holds this part",
            "stage the bundle's first part (" + part_file_name(part_stem(files.front()), 1) +
                ") first: it carries the signed manifest");
    }
    const keys::BundleInfo& info = reader->info();
    facts = facts_of(info);
    const BundleGeometry& g = info.geometry;
    const auto& chunks = info.manifest.payload.chunks;
    StageDecision decision = decide_stage(site, options, info);
    StageOutcome out = decision.outcome;
    if (decision.done) {
        return out;
    }
    const std::string& sha = out.manifest_sha256;
    StagedParts staged = read_staged_parts(layout, sha);
    const auto previous = state.staged(sha);
    std::error_code ec;
    const bool resumable = previous && staged.geometry.chunk_size != 0 && fs::exists(out.copy, ec);
    if (!resumable) {
        if (first_file == files.end()) {
            throw Error(ErrorKind::input,
                        files.front().string() + ": the first part of this bundle is not staged",
                        "stage " + part_file_name(part_stem(files.front()), 1) + " first");
        }
        fs::remove_all(out.copy.parent_path());
        fs::create_directories(out.copy.parent_path());
        ::chmod(out.copy.parent_path().c_str(), 0700);
        staged = StagedParts{g, {}};
    }
    const Fd copy(::open(out.copy.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!copy.valid()) {
        throw_errno("staging " + out.copy.string());
    }
    if (!resumable) {
        const Fd in = open_regular_file(*first_file);
        write_at(copy.get(), 0, read_at(in.get(), 0, g.head_size, first_file->string()),
                 out.copy.string());
        if (::ftruncate(copy.get(), static_cast<off_t>(g.file_size())) != 0) {
            throw_errno("staging " + out.copy.string());
        }
        state.put_staged({sha, info.manifest.name, info.manifest.version.str(),
                          static_cast<std::int64_t>(info.manifest.sequence),
                          fs::absolute(*first_file).string(),
                          to_hex(sha256(read_at(copy.get(), 0, g.head_size, out.copy.string()))),
                          static_cast<std::int64_t>(g.file_size()),
                          static_cast<std::int64_t>(out.chunks), 0, k_copying, ""});
        write_record(layout, sha, staged);
    }
    set_interrupt_note("ferry-applier: interrupted while staging; run the same `ferry-applier "
                       "stage` again to continue "
                       "where it stopped");

    auto staged_chunks = [&] {
        std::uint64_t n = 0;
        for (const auto& p : staged.parts) {
            n += p.chunk_count;
        }
        return n;
    };
    const std::string first_name = part_file_name(part_stem(files.front()), 1);
    for (const auto& file : files) {
        const std::string name = file.filename().string();
        PartSpan span;
        if (part_number(file) == 1u) {
            span = first_part_span(g, name, fs::file_size(file));
        } else {
            const auto first = std::find_if(staged.parts.begin(), staged.parts.end(),
                                            [](const PartSpan& p) { return p.number == 1; });
            const PartCandidate candidate = read_part_candidate(file, g);
            span = place_lone_part(g, chunks, *first, candidate, first_name);
            if (span.number == 0) {
                span.number = candidate.number;
            }
        }
        if (std::find(staged.parts.begin(), staged.parts.end(), span) != staged.parts.end()) {
            out.parts_had.push_back(span.number);
            continue;
        }
        for (const auto& p : staged.parts) {
            if (span.first_chunk < p.end_chunk() && p.first_chunk < span.end_chunk()) {
                throw Error(ErrorKind::verification,
                            name + " is a duplicate: it holds payload chunks " +
                                std::to_string(span.first_chunk + 1) + " to " +
                                std::to_string(span.end_chunk()) + ", which overlap part " +
                                std::to_string(p.number) +
                                " staged before; nothing of it was staged");
            }
            if (p.number == span.number) {
                throw Error(ErrorKind::verification,
                            name + " is out of order: part " + std::to_string(p.number) +
                                " staged before holds payload chunks " +
                                std::to_string(p.first_chunk + 1) + " to " +
                                std::to_string(p.end_chunk()) + "; nothing of it was staged");
            }
        }
        Progress progress("staging " + name, span.chunk_count * g.chunk_size,
                          options.site.progress);
        PartCopy c{g,   chunks,          copy.get(), out.copy.string(), state,
                   sha, staged_chunks(), out,        progress};
        try {
            copy_part(file, span, c);
        } catch (const Error& e) {
            forget(copy.get(), g.chunk_offset(span.first_chunk),
                   std::min(span.chunk_count * g.chunk_size,
                            g.payload_size - span.first_chunk * g.chunk_size),
                   out.copy.string());
            state.set_staged_progress(sha, static_cast<std::int64_t>(staged_chunks()), k_copying);
            throw Error(
                e.kind(), std::string(e.what()) + "; nothing of it was staged",
                "the parts staged before are kept: stage this part again from an intact copy");
        }
        progress.finish();
        staged.parts.push_back(span);
        write_record(layout, sha, staged);
        state.set_staged_progress(sha, static_cast<std::int64_t>(staged_chunks()), k_copying);
        out.parts_now.push_back(span.number);
    }
    fsync_dir(out.copy.parent_path());

    const MissingParts missing = missing_parts(g, staged.parts);
    if (!missing.chunks.empty()) {
        out.result = StageOutcome::Result::partial;
        out.missing = describe_missing(missing);
        record(state, "staged parts", 0, facts_of(info),
               "parts " + part_list(out.parts_now) + " from " +
                   fs::absolute(files.front().parent_path()).string() + "; missing " + out.missing);
        site.write_receipt();
        return out;
    }
    // The copy as a whole, as apply will read it: signatures, every chunk, every file.
    keys::VerifyOptions verify;
    verify.now = now();
    verify.progress = options.site.progress;
    verify.label = "verifying the staged copy";
    (void)keys::verify_bundle(out.copy, trust, verify);
    state.set_staged_progress(sha, static_cast<std::int64_t>(out.chunks), k_verified);
    record(state, "staged", 0, facts_of(info),
           "from parts, the last ones from " + fs::absolute(files.front().parent_path()).string() +
               " into " + out.copy.string());
    site.write_receipt();
    return out;
}

} // namespace

StageOutcome stage_parts(const StageOptions& options, const std::vector<fs::path>& files) {
    Site site(options.site);
    BundleFacts facts{files.front().filename().string(), "", "", {}};
    try {
        return stage_parts_on(site, options, files, facts);
    } catch (const Error& e) {
        if (e.kind() == ErrorKind::verification) {
            record(site.state, "verification failed", 0, facts, std::string("stage: ") + e.what());
        }
        throw;
    }
}

} // namespace ferry::applier
