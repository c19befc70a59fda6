#pragma once

// The payload's zstd frames: the tar is cut into pieces of k_frame_size bytes (the last one
// shorter), each compressed on its own as one frame that records its content size and a
// checksum. The frames do not depend on each other, so a writer compresses several at once
// and a reader decompresses several at once; any zstd decoder reads their sequence as one
// stream. See docs/format.md, "Payload".

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

namespace ferry {

inline constexpr std::size_t k_frame_size = 8u << 20;

// Bytes in flight between threads; allocated without zero-filling.
struct Block {
    explicit Block(std::size_t n = 0) : bytes(n > 0 ? new char[n] : nullptr), size(n) {}
    std::unique_ptr<char[]> bytes;
    std::size_t size;
    [[nodiscard]] char* data() const { return bytes.get(); }
};

// Compresses INPUT into one frame at LEVEL. With ROUND_TRIP, decompresses the frame again and
// throws an internal Error unless it gives back exactly INPUT.
Block compress_frame(std::span<const char> input, int level, bool round_trip);

// What a frame's header says, when FRAME begins with a complete one.
struct FrameHeader {
    bool complete = false;         // false: more bytes are needed to read the header
    bool parallel = false;         // a frame of at most k_frame_size bytes with its size recorded
    std::uint64_t content_size = 0;
    std::uint64_t window_size = 0;
};
// Throws nothing: a header zstd cannot read makes a frame that is not PARALLEL, left to the
// streaming decoder, which names the fault.
FrameHeader read_frame_header(std::span<const char> frame);

// The compressed size of the frame FRAME begins with, or 0 while FRAME does not hold all of it.
std::size_t frame_compressed_size(std::span<const char> frame);

// Decompresses FRAME, which holds exactly one frame of CONTENT_SIZE bytes; throws a
// verification Error naming the payload if it is damaged.
Block decompress_frame(std::span<const char> frame, std::uint64_t content_size);

} // namespace ferry
