#include "stage.hpp"

#include "applier/node/node_trust.hpp"
#include "applier/node/run.hpp"
#include "applier/node/stage_parts.hpp"
#include "core/error.hpp"
#include "core/fs.hpp"
#include "core/progress.hpp"
#include "keys/bundle.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

namespace ferry::applier {

namespace fs = std::filesystem;

namespace {

constexpr const char* k_copying = "copying";
constexpr const char* k_verified = "verified";

std::string read_at(int fd, std::uint64_t offset, std::uint64_t size, const std::string& what) {
    std::string out(size, '\0');
    std::size_t got = 0;
    while (got < size) {
        const ssize_t n =
            ::pread(fd, out.data() + got, size - got, static_cast<off_t>(offset + got));
        if (n < 0) {
            throw_errno(what);
        }
        if (n == 0) {
            break;
        }
        got += static_cast<std::size_t>(n);
    }
    out.resize(got);
    return out;
}

std::uint64_t chunk_length(const schema::Manifest& m, std::uint64_t k) {
    return std::min<std::uint64_t>(m.payload.chunk_size, m.payload.size - k * m.payload.chunk_size);
}

// How many payload chunks of COPY are already there and match the manifest, from the first.
std::uint64_t intact_chunks(int copy, std::uint64_t copy_size, std::uint64_t payload_offset,
                            const schema::Manifest& m, const std::string& what) {
    std::uint64_t k = 0;
    for (; k < m.payload.chunks.size(); ++k) {
        const std::uint64_t offset = payload_offset + k * m.payload.chunk_size;
        const std::uint64_t length = chunk_length(m, k);
        if (offset + length > copy_size ||
            sha256(read_at(copy, offset, length, what)) != m.payload.chunks[k]) {
            break;
        }
    }
    return k;
}

} // namespace

std::string result_name(StageOutcome::Result result) {
    switch (result) {
    case StageOutcome::Result::staged:
        return "staged";
    case StageOutcome::Result::already_staged:
        return "already_staged";
    case StageOutcome::Result::already_installed:
        return "already_installed";
    case StageOutcome::Result::partial:
        return "partial";
    }
    return "?";
}

std::optional<fs::path> staged_copy(StateDb& state, const std::string& manifest_sha256) {
    const auto staged = state.staged(manifest_sha256);
    const fs::path copy = state.layout().staged_bundle(manifest_sha256);
    if (!staged || staged->state != k_verified || !fs::exists(copy)) {
        return std::nullopt;
    }
    return copy;
}

void drop_staged(StateDb& state, const std::string& manifest_sha256) {
    fs::remove_all(state.layout().staged(manifest_sha256));
    state.drop_staged(manifest_sha256);
}

StageDecision decide_stage(Site& site, const StageOptions& options, const keys::BundleInfo& info) {
    StateDb& state = site.state;
    const schema::Manifest& m = info.manifest;
    Plan plan = make_plan(m, state, site.root, options.policy, options.site.state_dir);
    if (plan.already_installed) {
        refuse_if_another_manifest(plan, state, info.head.manifest);
    }
    try {
        enforce(plan);
    } catch (const Error& e) {
        record(state, "refused", 0, facts_of(info), std::string("stage: ") + e.what());
        throw;
    }
    StageDecision d;
    StageOutcome& out = d.outcome;
    out.name = m.name;
    out.version = m.version.str();
    out.manifest_sha256 = to_hex(sha256(info.head.manifest));
    out.chunks = m.payload.chunks.size();
    out.copy = state.layout().staged_bundle(out.manifest_sha256);
    if (plan.already_installed) {
        out.result = StageOutcome::Result::already_installed;
        d.done = true;
    } else if (staged_copy(state, out.manifest_sha256)) {
        out.result = StageOutcome::Result::already_staged;
        d.done = true;
    }
    return d;
}

namespace {

// Stages a whole bundle on SITE; FACTS says what is known of it as it is read.
StageOutcome stage_whole(Site& site, const StageOptions& options, BundleFacts& facts) {
    StateDb& state = site.state;
    const keys::TrustStore trust = load_site_trust(options.trust, options.site.root);

    // Open and authenticate, then decide as apply would, then copy.
    // A folder holding one whole bundle stands for it.
    const fs::path bundle = keys::locate_bundle(options.bundle).first;
    keys::BundleReader media(bundle, trust, now());
    const keys::BundleInfo& info = media.info();
    facts = facts_of(info);
    const schema::Manifest& m = info.manifest;
    StageDecision decision = decide_stage(site, options, info);
    StageOutcome out = decision.outcome;
    if (decision.done) {
        return out;
    }
    const StateLayout layout = state.layout();

    const std::string what = bundle.string();
    const Fd in = open_regular_file(bundle);
    const std::uint64_t head_size = info.head.payload_offset;
    const std::string head = read_at(in.get(), 0, head_size, what);
    out.media_bytes += head.size();
    const std::string head_sha256 = to_hex(sha256(head));
    const auto previous = state.staged(out.manifest_sha256);
    std::error_code ec;
    const bool resumable =
        previous && previous->head_sha256 == head_sha256 && fs::exists(out.copy, ec);
    if (!resumable) {
        fs::remove_all(out.copy.parent_path());
    }
    fs::create_directories(out.copy.parent_path());
    ::chmod(out.copy.parent_path().c_str(), 0700);
    const Fd copy(::open(out.copy.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!copy.valid()) {
        throw_errno("staging " + out.copy.string());
    }
    struct stat st {};
    ::fstat(copy.get(), &st);
    if (resumable) {
        // Nothing already copied is trusted: every chunk is hashed again.
        out.resumed_at = intact_chunks(copy.get(), static_cast<std::uint64_t>(st.st_size),
                                       head_size, m, out.copy.string());
    } else {
        write_at(copy.get(), 0, head, out.copy.string());
    }
    if (::ftruncate(copy.get(),
                    static_cast<off_t>(head_size + out.resumed_at * m.payload.chunk_size)) != 0) {
        throw_errno("staging " + out.copy.string());
    }
    state.put_staged({out.manifest_sha256, m.name, m.version.str(),
                      static_cast<std::int64_t>(m.sequence), fs::absolute(bundle).string(),
                      head_sha256, static_cast<std::int64_t>(info.file_size),
                      static_cast<std::int64_t>(out.chunks),
                      static_cast<std::int64_t>(out.resumed_at), k_copying, ""});

    set_interrupt_note("ferry-applier: interrupted while staging; run the same `ferry-applier stage` again to continue "
                       "where it stopped");
    Progress progress("staging " + bundle.filename().string(), m.payload.size,
                      options.site.progress);
    progress.advance(out.resumed_at * m.payload.chunk_size);
    for (std::uint64_t k = out.resumed_at; k < out.chunks; ++k) {
        const std::uint64_t offset = head_size + k * m.payload.chunk_size;
        const std::uint64_t length = chunk_length(m, k);
        const std::string chunk = read_at(in.get(), offset, length, what);
        out.media_bytes += chunk.size();
        const std::string where =
            what + ": payload chunk " + std::to_string(k + 1) + " of " + std::to_string(out.chunks);
        if (chunk.size() != length) {
            throw Error(ErrorKind::verification, where + " is truncated (" +
                                                     std::to_string(chunk.size()) + " of " +
                                                     std::to_string(length) + " bytes)");
        }
        const Digest got = sha256(chunk);
        if (got != m.payload.chunks[k]) {
            throw Error(
                ErrorKind::verification,
                where + ": sha256 mismatch (expected " + to_hex(m.payload.chunks[k]) + ", got " +
                    to_hex(got) + "); nothing of it was staged",
                "the chunks before it are kept: stage again from an intact copy to continue");
        }
        write_at(copy.get(), offset, chunk, out.copy.string());
        state.set_staged_progress(out.manifest_sha256, static_cast<std::int64_t>(k + 1), k_copying);
        progress.advance(length);
        crash_point("stage:chunk:" + std::to_string(k + 1));
    }
    progress.finish();
    // The end of the envelope: padding and the end-of-archive blocks, checked by the verify below.
    const std::uint64_t tail_offset = head_size + m.payload.size;
    const std::string tail = read_at(in.get(), tail_offset, info.file_size - tail_offset, what);
    out.media_bytes += tail.size();
    write_at(copy.get(), tail_offset, tail, out.copy.string());
    if (::ftruncate(copy.get(), static_cast<off_t>(info.file_size)) != 0 ||
        ::fsync(copy.get()) != 0) {
        throw_errno("staging " + out.copy.string());
    }
    fsync_dir(out.copy.parent_path());

    // The copy as a whole, as apply will read it: signatures, every chunk, every file.
    keys::VerifyOptions verify;
    verify.now = now();
    verify.progress = options.site.progress;
    verify.label = "verifying the staged copy";
    (void)keys::verify_bundle(out.copy, trust, verify);
    state.set_staged_progress(out.manifest_sha256, static_cast<std::int64_t>(out.chunks),
                              k_verified);
    record(
        state, "staged", 0, facts,
        "from " + fs::absolute(bundle).string() + " into " + out.copy.string() +
            (out.resumed_at > 0 ? "; resumed at chunk " + std::to_string(out.resumed_at + 1) : ""));
    return out;
}

} // namespace

StageOutcome stage_bundle(const StageOptions& options) {
    if (const auto parts = split_media(options.bundle)) {
        return stage_parts(options, *parts);
    }
    Site site(options.site);
    BundleFacts facts{options.bundle.filename().string(), "", "", {}};
    try {
        StageOutcome out = stage_whole(site, options, facts);
        site.write_receipt();
        return out;
    } catch (const Error& e) {
        if (e.kind() == ErrorKind::verification) {
            record(site.state, "verification failed", 0, facts, std::string("stage: ") + e.what());
        }
        throw;
    }
}

} // namespace ferry::applier
