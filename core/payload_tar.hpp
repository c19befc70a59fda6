#pragma once

// The decompressed payload as its tar reader takes it: shared by the applier's reading of a
// bundle and the bundler's check of the payload it is writing.

#include "core/payload.hpp"
#include "core/payload_frames.hpp"
#include "core/tar_scan.hpp"

#include <optional>
#include <span>
#include <vector>

namespace ferry {

// The decompressed tar, block by block. Remembers where its data ends, so that zero padding
// can be told from data after the end marker, and scans every header on its own.
class TarStream {
public:
    virtual ~TarStream() = default;
    // The next decompressed bytes, or an empty span at the end; valid until the next call.
    std::span<const char> next();
    // Checks that nothing but zero padding follows the first TAR_END bytes (what the tar
    // reader consumed up to its end marker), reading the rest of the stream.
    void drain(std::uint64_t tar_end);

protected:
    // The next block of the tar, or nothing at its end.
    virtual std::optional<Block> pull() = 0;

private:
    Block m_current;
    TarScanner m_scanner;
    std::uint64_t m_delivered = 0; // bytes handed to the tar reader
    std::uint64_t m_data_end = 0;  // offset just past the last non-zero byte delivered
};

// Reads the tar from STREAM and checks each entry against FILES (name, order, type, size,
// mode and, with HASH_FILES, SHA-256), handing the files to SINK; then that only padding
// follows. Throws a verification Error at the first fault.
void read_tar(TarStream& stream, const std::vector<ExpectedFile>& files, PayloadSink* sink, bool hash_files);

} // namespace ferry
