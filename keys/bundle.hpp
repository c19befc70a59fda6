#pragma once

// Opening, inspecting and verifying a bundle file: the trust decision end to end.

#include "core/envelope.hpp"
#include "core/parts.hpp"
#include "core/payload.hpp"
#include "keys/trust_store.hpp"
#include "manifest-schema/manifest.hpp"

#include <filesystem>
#include <memory>
#include <optional>

namespace ferry::keys {

// One part of a split bundle: its file and what it holds.
struct BundlePart {
    std::filesystem::path file;
    PartSpan span;
};

// Where a bundle given on the command line is: FIRST is the bundle file or its first part.
struct BundleLocation {
    std::filesystem::path first;
    bool split = false;
};

// A bundle file, its first part (NAME.ferry.001), or a folder holding one first part. Throws
// an input Error for a part other than the first, naming the first.
[[nodiscard]] BundleLocation locate_bundle(const std::filesystem::path& given);

// A bundle's head as read for inspection: nothing is verified unless a trust store is given.
struct BundleInfo {
    std::filesystem::path path;
    std::uint64_t file_size = 0; // of the whole bundle, parts together
    BundleGeometry geometry;
    std::vector<BundlePart> parts;  // for a split bundle, when they were checked
    std::string parts_problem;      // what inspect found wrong with the parts, if anything
    BundleHead head;
    schema::Manifest manifest;
    std::optional<Authentication> auth; // set when authenticated against a trust store
};

// Reads only the envelope's head and the manifest; authenticates it first when TRUST is set.
// Without WITH_FILES the manifest's file list is skipped (the components' totals remain). For
// a split bundle it also places every part beside the first (parts_problem says what is wrong).
[[nodiscard]] BundleInfo inspect_bundle(const std::filesystem::path& path, const TrustStore* trust,
                                        bool with_files = true);

// The checks a verification made, in order, for a report. A step is begun before it runs, so
// an error thrown belongs to the step under way (fail_open() records it).
class CheckLog {
public:
    struct Check {
        std::string name;
        bool passed = false;
        std::string detail;
    };
    void begin(std::string name);
    void pass(std::string detail);
    // Marks the step under way as failed with DETAIL; false if no step was under way.
    bool fail_open(const std::string& detail);
    [[nodiscard]] const std::vector<Check>& checks() const { return m_checks; }

private:
    std::vector<Check> m_checks;
    bool m_open = false;
};

// How to verify.
struct VerifyOptions {
    UnixTime now = 0;
    bool progress = true;
    std::string label; // names the work in progress output; the file name when empty
    PayloadSink* sink = nullptr; // receives the payload's files, e.g. for staging
    bool quick = false;          // chunk hashes only, nothing decompressed
    CheckLog* log = nullptr;     // records each check; the whole payload's SHA-256 is then checked too
};

// The result of a successful verification.
struct VerifiedBundle {
    BundleInfo info;
    std::uint64_t chunks = 0;
};

// A bundle verified in steps: opening it reads the head and authenticates the manifest
// (threshold, expiry) and reads nothing of the payload, so the caller decides (plan, policy)
// before read_payload() streams the payload, every chunk authenticated, into a sink.
class BundleReader {
public:
    // Throws a verification Error for a forged or damaged head, a policy Error for an expired one.
    // LOG, when set, records each check and must outlive the reader.
    BundleReader(const std::filesystem::path& path, const TrustStore& trust, UnixTime now, CheckLog* log = nullptr);
    ~BundleReader();
    BundleReader(const BundleReader&) = delete;
    BundleReader& operator=(const BundleReader&) = delete;

    [[nodiscard]] const BundleInfo& info() const { return m_info; }
    // Checks every chunk and file, handing them to SINK (nullptr: check only); call it once.
    [[nodiscard]] VerifiedBundle read_payload(PayloadSink* sink, bool progress, const std::string& label = {});
    // Checks every chunk's hash and the envelope's end without decompressing; call it once, instead of read_payload.
    [[nodiscard]] VerifiedBundle check_chunks(bool progress);
    // Checks FILE, one part of this split bundle, alone: where it belongs by its first chunk, then every chunk in it.
    [[nodiscard]] BundlePart check_part(const std::filesystem::path& file, bool progress);

private:
    // The manifest's payload index, asking for the whole member's SHA-256 when there is a log.
    [[nodiscard]] PayloadIndex payload_index() const;
    // Places the parts after the first, strictly, and appends them to the stream.
    void add_parts();
    // E with the bundle, or the part being read, as its context.
    [[nodiscard]] Error in_context(const Error& e) const;
    struct Open;
    std::unique_ptr<Open> m_open;
    const TrustStore& m_trust;
    CheckLog* m_log = nullptr;
    BundleInfo m_info;
};

// Opens and reads the whole bundle: signatures (threshold), expiry, then every chunk and file
// in one pass (only every chunk with QUICK). Throws a verification Error for a forged or damaged bundle, a policy Error for
// an expired one.
[[nodiscard]] VerifiedBundle verify_bundle(const std::filesystem::path& path, const TrustStore& trust,
                                           const VerifyOptions& options);

// Says which bundle and which part FILE, a part other than the first, is: by the first part
// beside it (its chunks located in that manifest), else by the parts list beside it.
struct PartIdentity {
    std::string bundle;         // NAME-VERSION.ferry
    unsigned number = 0;
    std::optional<unsigned> of; // how many parts, when known
    std::optional<PartSpan> span;
    std::string source;         // how it was identified
};
[[nodiscard]] PartIdentity identify_part(const std::filesystem::path& file);

} // namespace ferry::keys
