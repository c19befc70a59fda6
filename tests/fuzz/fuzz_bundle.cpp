// Fuzz target: the bundle reader's envelope, on raw bytes: what `inspect` and `verify` read
// before any payload byte (read_bundle_head, then the signatures and, once authenticated, the
// manifest), then the payload member's data and the end of the archive.
//
// Oracles, besides "no crash, only ferry::Error": an accepted head has the shape
// docs/format.md promises (a manifest of at most 16 MiB, 1+ signatures of at most 4 KiB named
// by key id, the payload's data starting on a block boundary), and an envelope accepted to its
// end accounts for every byte of the file.
//
// Each input runs twice: as it is, and with every member header's checksum rewritten (walking
// the members as the reader does), so that mutated headers reach the checks behind the
// checksum test.

#include "fuzz.hpp"

#include "core/envelope.hpp"
#include "keys/key.hpp"
#include "keys/trust_store.hpp"
#include "manifest-schema/manifest.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <string>

namespace {

using namespace ferry;

// A fixed "now" inside the validity of the seed bundles' key (tests/fuzz/corpus/bundle/).
constexpr UnixTime k_now = 1767225600; // 2026-01-01T00:00:00Z

// The public key of samples/make-test-keys.sh's test-release-1 when the seeds were made.
constexpr std::string_view k_seed_public_key = "RWRQp2yBGHYLt+yT0DRyOwrvx+D+NbWIPACLD822tr+0KfDQMgZC+xR5";

// The input lives in one memfd, rewritten for each run.
int input_fd() {
    static const int fd = [] {
        const int f = ::memfd_create("fuzz_bundle", MFD_CLOEXEC);
        if (f < 0) {
            std::perror("memfd_create");
            std::abort();
        }
        return f;
    }();
    return fd;
}

void load_input(std::string_view bytes) {
    const int fd = input_fd();
    if (::ftruncate(fd, 0) != 0 ||
        ::pwrite(fd, bytes.data(), bytes.size(), 0) != static_cast<ssize_t>(bytes.size()) ||
        ::lseek(fd, 0, SEEK_SET) != 0) {
        std::perror("memfd");
        std::abort();
    }
}

// The seeds' signing key and a key of our own, so that a signature can be valid, bad, or by an
// unknown key.
const keys::TrustStore& trust() {
    static const keys::TrustStore store = [] {
        keys::TrustStore s;
        s.keys.push_back({"seed", keys::parse_public_key_base64(k_seed_public_key, "seed key"),
                          4102444800, {keys::TrustRole::release}});
        s.keys.push_back({"other", keys::generate_secret_key().public_key(), 4102444800, {keys::TrustRole::release}});
        return s;
    }();
    return store;
}

bool is_key_id(std::string_view id) {
    if (id.size() != 16) {
        return false;
    }
    for (const char c : id) {
        if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'F'))) {
            return false;
        }
    }
    return true;
}

void read_bundle(std::size_t file_size) {
    EnvelopeReader reader(input_fd(), "bundle.ferry");
    const BundleHead head = read_bundle_head(reader);
    fuzz::check(head.manifest.size() <= k_max_manifest_size, "accepted manifest over 16 MiB");
    fuzz::check(!head.signatures.empty(), "accepted head without signatures");
    for (const auto& s : head.signatures) {
        fuzz::check(is_key_id(s.key_id), "accepted signature member not named by a key id");
        fuzz::check(s.text.size() <= k_max_signature_size, "accepted signature over 4 KiB");
    }
    fuzz::check(head.payload_offset == reader.offset() && head.payload_offset % 512 == 0 &&
                    head.payload_offset <= file_size,
                "payload data does not start on a block boundary inside the file");
    fuzz::check(reader.remaining() == head.payload_size, "payload size differs from its member's");

    fuzz::expect_errors([&] {
        (void)keys::authenticate(head, trust(), k_now);
        // As inspect_bundle and verify_bundle: the manifest reaches the parser once authenticated.
        (void)schema::parse_manifest(head.manifest, "manifest.yaml");
    });

    std::array<char, 65536> buffer{};
    while (reader.read_some(buffer.data(), buffer.size()) > 0) {
    }
    expect_bundle_end(reader);
    const std::uint64_t padded = (head.payload_size + 511) / 512 * 512;
    fuzz::check(head.payload_offset + padded + 1024 == file_size,
                "accepted envelope does not account for every byte of the file");
}

// BYTES with each member header's checksum rewritten.
std::string with_fixed_checksums(std::string bytes) {
    std::uint64_t at = 0;
    while (at + 512 <= bytes.size()) {
        char* h = bytes.data() + at;
        if (std::all_of(h, h + 512, [](char c) { return c == 0; })) {
            break;
        }
        fuzz::fix_tar_checksum(h);
        std::uint64_t size = 0;
        for (std::size_t i = 124; i < 136 && h[i] >= '0' && h[i] <= '7'; ++i) {
            size = size * 8 + static_cast<unsigned>(h[i] - '0');
        }
        const std::uint64_t next = at + 512 + (size + 511) / 512 * 512;
        if (next <= at) {
            break;
        }
        at = next;
    }
    return bytes;
}

void run(std::string_view bytes) {
    load_input(bytes);
    fuzz::expect_errors([&] { read_bundle(bytes.size()); });
}

} // namespace

FERRY_FUZZ_TARGET(bundle) {
    const std::string_view input = ferry::fuzz::as_text(data, size);
    run(input);
    const std::string fixed = with_fixed_checksums(std::string(input));
    if (fixed != input) {
        run(fixed);
    }
    return 0;
}
