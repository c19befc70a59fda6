#define ZSTD_STATIC_LINKING_ONLY // ZSTD_getFrameHeader: the frame's window size
#include <zstd.h>
#include <zstd_errors.h>

#include "core/payload_frames.hpp"

#include "core/error.hpp"
#include "core/handles.hpp"

#include <algorithm>
#include <cstring>
#include <string>

namespace ferry {

namespace {

// One compression and one decompression context per thread, reused for every frame.
ZSTD_CCtx* thread_cctx() {
    thread_local const ZstdCCtxPtr cctx(ZSTD_createCCtx());
    if (!cctx) {
        throw Error(ErrorKind::internal, "out of memory creating the zstd compressor");
    }
    return cctx.get();
}

ZSTD_DCtx* thread_dctx() {
    thread_local const ZstdDCtxPtr dctx(ZSTD_createDCtx());
    if (!dctx) {
        throw Error(ErrorKind::internal, "out of memory creating the zstd decoder");
    }
    return dctx.get();
}

} // namespace

Block compress_frame(std::span<const char> input, int level, bool round_trip) {
    ZSTD_CCtx* cctx = thread_cctx();
    ZSTD_CCtx_reset(cctx, ZSTD_reset_session_and_parameters);
    for (const auto& [param, value] : {std::pair{ZSTD_c_compressionLevel, level}, std::pair{ZSTD_c_checksumFlag, 1}}) {
        const std::size_t rc = ZSTD_CCtx_setParameter(cctx, param, value);
        if (ZSTD_isError(rc)) {
            throw Error(ErrorKind::usage, std::string("zstd parameter rejected: ") + ZSTD_getErrorName(rc));
        }
    }
    Block out(ZSTD_compressBound(input.size()));
    const std::size_t n = ZSTD_compress2(cctx, out.data(), out.size, input.data(), input.size());
    if (ZSTD_isError(n)) {
        throw Error(ErrorKind::internal, std::string("zstd compression failed: ") + ZSTD_getErrorName(n));
    }
    out.size = n;
    if (round_trip) {
        thread_local Block back;
        if (back.size < input.size()) {
            back = Block(std::max(k_frame_size, input.size()));
        }
        const std::size_t m = ZSTD_decompressDCtx(thread_dctx(), back.data(), input.size(), out.data(), out.size);
        if (ZSTD_isError(m) || m != input.size() || std::memcmp(back.data(), input.data(), m) != 0) {
            throw Error(ErrorKind::internal, "a compressed payload frame does not decompress to its input");
        }
    }
    return out;
}

FrameHeader read_frame_header(std::span<const char> frame) {
    ZSTD_frameHeader zfh{};
    const std::size_t rc = ZSTD_getFrameHeader(&zfh, frame.data(), frame.size());
    FrameHeader h;
    if (ZSTD_isError(rc)) {
        h.complete = true; // not a frame this reader cuts: the streaming decoder names it
        return h;
    }
    if (rc > 0) {
        return h;
    }
    h.complete = true;
    h.window_size = zfh.windowSize;
    if (zfh.frameType == ZSTD_frame && zfh.frameContentSize != ZSTD_CONTENTSIZE_UNKNOWN &&
        zfh.frameContentSize <= k_frame_size) {
        h.parallel = true;
        h.content_size = zfh.frameContentSize;
    }
    return h;
}

std::size_t frame_compressed_size(std::span<const char> frame) {
    const std::size_t n = ZSTD_findFrameCompressedSize(frame.data(), frame.size());
    if (ZSTD_getErrorCode(n) == ZSTD_error_srcSize_wrong) {
        return 0;
    }
    if (ZSTD_isError(n)) {
        throw Error(ErrorKind::verification, std::string("payload.tar.zst: zstd: ") + ZSTD_getErrorName(n));
    }
    return n;
}

Block decompress_frame(std::span<const char> frame, std::uint64_t content_size) {
    Block out(static_cast<std::size_t>(content_size));
    const std::size_t n = ZSTD_decompressDCtx(thread_dctx(), out.data(), out.size, frame.data(), frame.size());
    if (ZSTD_isError(n)) {
        throw Error(ErrorKind::verification, std::string("payload.tar.zst: zstd: ") + ZSTD_getErrorName(n));
    }
    if (n != content_size) {
        throw Error(ErrorKind::verification, "payload.tar.zst: a zstd frame holds " + std::to_string(n) +
                                                 " bytes, its header says " + std::to_string(content_size));
    }
    return out;
}

} // namespace ferry
