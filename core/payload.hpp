#pragma once

// The payload: a POSIX tar of the bundle's files, zstd-compressed, hashed in fixed-size
// chunks (see docs/format.md, "Payload").

#include "core/envelope.hpp"
#include "core/limits.hpp"
#include "core/progress.hpp"
#include "core/sha256.hpp"

#include <cstdint>
#include <exception>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace ferry {

inline constexpr std::uint64_t k_default_chunk_size = 4u << 20;
inline constexpr std::uint64_t k_min_chunk_size = 64u << 10;
inline constexpr std::uint64_t k_max_chunk_size = 64u << 20;
// The default bound on the zstd window (Limits::window_log).
inline constexpr int k_max_window_log = Limits{}.window_log;

// How to compress a payload.
struct PayloadOptions {
    int level = 3;
    int threads = 1; // frames compressed at once; any value >= 1 gives the same bytes
    // Decompress each frame again as soon as it is compressed and compare it with its input:
    // the first part of the bundler's self-check, done while later frames compress.
    bool check_frames = true;
    std::uint64_t chunk_size = k_default_chunk_size;
    UnixTime mtime = 0;
};

// What the manifest records of a written payload.
struct PayloadSummary {
    std::uint64_t size = 0;
    Digest sha256{};
    std::uint64_t chunk_size = 0;
    std::vector<Digest> chunks;
};

// One file the payload must hold, in order.
struct ExpectedFile {
    std::string path;
    std::uint64_t size = 0;
    unsigned mode = 0;
    Digest sha256{};
};

// Streams files into a compressed payload written to a file descriptor.
class PayloadWriter {
public:
    PayloadWriter(int out_fd, std::string what, const PayloadOptions& options);
    ~PayloadWriter();
    PayloadWriter(const PayloadWriter&) = delete;
    PayloadWriter& operator=(const PayloadWriter&) = delete;

    // Reads the tar back while it is written, as an applier reads it, checking each entry's
    // name, order, type, size and mode against FILES (whose hashes are not used: each file is
    // hashed as it is written, and the frames' round trip proves the payload decompresses to
    // those bytes). The second part of the bundler's self-check; call before add_file().
    void check_as_written(std::vector<ExpectedFile> files);
    // Appends SOURCE as PATH; returns its SHA-256. Throws if its size is not SIZE.
    [[nodiscard]] Digest add_file(const std::string& path, const std::filesystem::path& source,
                                  unsigned mode, std::uint64_t size, Progress* progress);
    // Ends the tar and its last zstd frame; returns sizes and hashes.
    [[nodiscard]] PayloadSummary finish();

    struct Impl;

private:
    std::unique_ptr<Impl> m_impl;
};

// The manifest's description of a payload.
struct PayloadIndex {
    std::uint64_t size = 0;
    std::uint64_t chunk_size = 0;
    std::vector<Digest> chunks;
    std::vector<ExpectedFile> files;
    // When set, the whole member's SHA-256 is checked as well: one more hash pass, which the
    // chunks make redundant for safety; a verification report shows it.
    std::optional<Digest> sha256;
};

// Receives the verified payload's files; data arrives only after its chunk was authenticated,
// but a file is known to be intact only at end_file().
class PayloadSink {
public:
    virtual ~PayloadSink() = default;
    virtual void begin_file(const ExpectedFile& file) = 0;
    virtual void data(const void* bytes, std::size_t size) = 0;
    virtual void end_file() = 0;
};

// Frames are decompressed in parallel only on more than two cores: on two, chunk hashing,
// decompression and the tar reader's file hashing already keep both busy in three threads,
// and parallel frames would only add copies.
unsigned default_decode_threads();

// Reads the payload member from ENVELOPE: authenticates every chunk, decompresses (with a
// window no larger than LIMITS allow), reads the tar and checks every entry against INDEX.
// Throws a verification Error at the first fault.
//
// DECODE_THREADS > 0 decompresses frames as Ferry writes them (see payload_frames.hpp) that
// many at once; 0 decompresses the stream in one thread, as it comes.
void read_payload(EnvelopeReader& envelope, const PayloadIndex& index, PayloadSink* sink,
                  Progress* progress, const Limits& limits = {}, unsigned decode_threads = default_decode_threads());

// Checks the payload member of ENVELOPE against INDEX chunk by chunk, hashes only (nothing is
// decompressed), then the end of the bundle. Throws a verification Error at the first fault.
void check_payload_chunks(EnvelopeReader& envelope, const PayloadIndex& index, Progress* progress);

} // namespace ferry
