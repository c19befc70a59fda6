#pragma once

// The bundle envelope: a strict subset of POSIX tar (see docs/format.md, "The envelope").

#include "core/limits.hpp"
#include "core/time.hpp"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ferry {

inline constexpr std::string_view k_manifest_member = "manifest.yaml";
inline constexpr std::string_view k_payload_member = "payload.tar.zst";
inline constexpr std::string_view k_signature_prefix = "signatures/";
inline constexpr std::string_view k_signature_suffix = ".minisig";
// A trust bundle's first member: the new trust store, the bytes its signatures cover.
inline constexpr std::string_view k_trust_member = "trust.yaml";
// The bound on a trust store, in a trust bundle and on disk.
inline constexpr std::size_t k_max_trust_store_size = 1u << 20;
inline constexpr std::size_t k_max_signature_size = 4096;
// The default bound on the manifest (Limits::manifest_bytes).
inline constexpr std::size_t k_max_manifest_size = Limits{}.manifest_bytes;

// Writes envelope members to a file descriptor.
class EnvelopeWriter {
public:
    EnvelopeWriter(int fd, std::string what, UnixTime mtime);

    // Writes a whole member.
    void add(std::string_view name, std::string_view data);
    // Writes the header of a member whose SIZE bytes the caller then writes with write_data().
    void begin(std::string_view name, std::uint64_t size);
    void write_data(const void* data, std::size_t size);
    // Copies SIZE bytes at IN_OFFSET of IN_FD as member data, in the kernel where possible.
    void copy_data(int in_fd, std::uint64_t in_offset, std::uint64_t size);
    // Moves past SIZE bytes of member data already written at this position.
    void skip_data(std::uint64_t size);
    // Pads the member begun last to a whole block.
    void end();
    // Writes the end-of-archive marker.
    void finish();
    // Bytes written so far.
    [[nodiscard]] std::uint64_t offset() const { return m_offset; }

private:
    void write_raw(const void* data, std::size_t size);
    int m_fd;
    std::string m_what;
    UnixTime m_mtime;
    std::uint64_t m_offset = 0;
    std::uint64_t m_member_size = 0;
};

// The header of one envelope member.
struct EnvelopeMember {
    std::string name;
    std::uint64_t size = 0;
    std::uint64_t header_offset = 0; // where its header starts in the file
};

// Bytes read in order from a file or from a bundle's parts one after the other.
class ByteSource {
public:
    virtual ~ByteSource() = default;
    // Reads up to SIZE bytes; fewer only at the end.
    [[nodiscard]] virtual std::size_t read(void* data, std::size_t size) = 0;
};

// Reads envelope members one after the other, in one pass.
class EnvelopeReader {
public:
    EnvelopeReader(int fd, std::string what);
    // Reads from SOURCE, which must outlive the reader.
    EnvelopeReader(ByteSource& source, std::string what);
    ~EnvelopeReader();
    EnvelopeReader(const EnvelopeReader&) = delete;
    EnvelopeReader& operator=(const EnvelopeReader&) = delete;

    // The next member's header, or nullopt at a valid end of archive.
    [[nodiscard]] std::optional<EnvelopeMember> next();
    // Reads the whole data of the current member, refusing more than MAX_SIZE bytes.
    [[nodiscard]] std::string read_all(std::size_t max_size);
    // Reads up to SIZE bytes of the current member's data; 0 at its end.
    [[nodiscard]] std::size_t read_some(void* data, std::size_t size);
    // Bytes of the current member not read yet.
    [[nodiscard]] std::uint64_t remaining() const { return m_remaining; }
    // The file offset of the next byte to be read.
    [[nodiscard]] std::uint64_t offset() const { return m_offset; }

private:
    void read_exact(void* data, std::size_t size, std::string_view context);
    void skip_rest();
    std::unique_ptr<ByteSource> m_own_source;
    ByteSource* m_source;
    std::string m_what;
    std::uint64_t m_offset = 0;
    std::uint64_t m_remaining = 0;
    std::uint64_t m_padding = 0;
    std::string m_current;
    std::optional<std::uint64_t> m_pax_size;
    std::optional<std::uint64_t> m_mtime; // every member header carries the first one's
};

// The small members at the head of a bundle, read and checked for shape only.
struct BundleHead {
    std::string manifest;
    struct Signature {
        std::string key_id; // from the member name
        std::string text;
    };
    std::vector<Signature> signatures;
    std::uint64_t payload_size = 0;
    std::uint64_t payload_offset = 0;
};

// Whether a bundle may carry no signature: only for the bundler's own work on a bundle built
// unsigned for offline signing (sign, attach, manifest, inspect); never when verifying.
enum class Unsigned { refused, allowed };

// Reads members up to the start of the payload's data; READER is left at that point. The
// manifest may be no larger than LIMITS allow.
[[nodiscard]] BundleHead read_bundle_head(EnvelopeReader& reader, const Limits& limits = {},
                                          Unsigned unsigned_bundle = Unsigned::refused);

// A trust bundle's members: the new trust store and its signatures.
struct TrustBundleHead {
    std::string store;
    std::vector<BundleHead::Signature> signatures;
};

// Reads a whole trust bundle (trust.yaml, then at least one signature, then the end of the
// archive), checked for shape only.
[[nodiscard]] TrustBundleHead read_trust_bundle_head(EnvelopeReader& reader);

// Checks that READER, positioned after the payload's data, is at a valid end of archive.
void expect_bundle_end(EnvelopeReader& reader);

} // namespace ferry
