#include "core/payload.hpp"

#include "core/channel.hpp"
#include "core/payload_frames.hpp"
#include "core/payload_tar.hpp"
#include "core/worker_pool.hpp"
#include "core/error.hpp"
#include "core/tar_scan.hpp"

#include <cstring>
#include <future>
#include <thread>

#include <zstd_errors.h>

#include <archive_entry.h>

namespace ferry {

namespace {

// The whole member's SHA-256, when INDEX asks for it.
class WholeDigest {
public:
    explicit WholeDigest(const PayloadIndex& index) : m_expected(index.sha256) {}
    void update(const void* data, std::size_t size) {
        if (m_expected) {
            m_hash.update(data, size);
        }
    }
    void check() {
        if (!m_expected) {
            return;
        }
        const Digest digest = m_hash.finish();
        if (digest != *m_expected) {
            throw Error(ErrorKind::verification, "payload.tar.zst: sha256 mismatch of the whole member (expected " +
                                                     to_hex(*m_expected) + ", got " + to_hex(digest) + ")");
        }
    }

private:
    std::optional<Digest> m_expected;
    Sha256 m_hash;
};

Error chunk_mismatch(const PayloadIndex& index, std::size_t i, const Digest& digest) {
    const std::uint64_t start = i * index.chunk_size;
    const std::uint64_t end = std::min(start + index.chunk_size, index.size);
    return Error(ErrorKind::verification,
                 "payload.tar.zst chunk " + std::to_string(i) + " (bytes " + std::to_string(start) + " to " +
                     std::to_string(end - 1) + "): sha256 mismatch (expected " + to_hex(index.chunks[i]) +
                     ", got " + to_hex(digest) + ")",
                 "the bundle was changed or damaged after it was signed");
}


constexpr std::uint64_t k_tar_block = 512;

std::uint64_t round_block(std::uint64_t n) { return (n + k_tar_block - 1) / k_tar_block * k_tar_block; }

Error window_too_large(int window_log) {
    return Error(ErrorKind::verification,
                 "payload.tar.zst: a zstd frame needs a window larger than the site's limit of 2^" +
                     std::to_string(window_log) + " bytes (" +
                     (window_log >= 20 ? std::to_string(1ull << (window_log - 20)) + " MiB"
                                       : std::to_string(1ull << (window_log - 10)) + " KiB") +
                     "), limits.window_log in the trust store",
                 "a site may raise limits.window_log up to " + std::to_string(k_cap_window_log) +
                     " in its trust store");
}

// Feeds a tar reader with bytes that passed chunk authentication and then zstd. One thread
// reads and hashes chunks; one cuts the authenticated bytes into zstd frames, which a pool
// decompresses several at once (frames as Ferry writes them), or decompresses them itself as
// they come (any other zstd stream); the caller's thread reads the tar. No byte reaches zstd
// before its chunk's hash matched.
class AuthenticatedStream : public TarStream {
public:
    AuthenticatedStream(EnvelopeReader& envelope, const PayloadIndex& index, Progress* progress, int window_log,
                        unsigned decode_threads)
        : m_envelope(envelope), m_index(index), m_progress(progress), m_window_log(window_log),
          m_decode_threads(decode_threads) {
        // The tar can be no larger than its headers, data and end marker allow.
        std::uint64_t limit = 4 * 10240;
        for (const auto& f : index.files) {
            limit += round_block(f.size) + 3 * k_tar_block + round_block(f.path.size()) + 1024;
        }
        m_limit = limit;
        m_reader = std::thread([this] { read_chunks(); });
        m_decoder = std::thread([this] { decompress(); });
    }

    ~AuthenticatedStream() override {
        m_blocks.cancel();
        m_chunks.cancel();
        m_decoder.join();
        m_reader.join();
    }

    AuthenticatedStream(const AuthenticatedStream&) = delete;
    AuthenticatedStream& operator=(const AuthenticatedStream&) = delete;

private:
    std::optional<Block> pull() override {
        auto block = m_blocks.pop();
        if (!block) {
            return std::nullopt;
        }
        return block->get();
    }

    // Thread 1: reads each chunk from the envelope and passes it on only if its hash matches.
    void read_chunks() {
        std::exception_ptr error;
        try {
            WholeDigest whole(m_index);
            for (std::size_t i = 0; i < m_index.chunks.size(); ++i) {
                const std::uint64_t start = i * m_index.chunk_size;
                const auto want = static_cast<std::size_t>(
                    std::min<std::uint64_t>(m_index.chunk_size, m_index.size - start));
                Block chunk(want);
                std::size_t got = 0;
                while (got < want) {
                    const std::size_t n = m_envelope.read_some(chunk.data() + got, want - got);
                    if (n == 0) {
                        break;
                    }
                    got += n;
                }
                const Digest digest = sha256({chunk.data(), got});
                if (got != want || digest != m_index.chunks[i]) {
                    throw chunk_mismatch(m_index, i, digest);
                }
                whole.update(chunk.data(), got);
                if (m_progress != nullptr) {
                    m_progress->advance(got);
                }
                if (i + 1 == m_index.chunks.size()) {
                    whole.check();
                }
                if (!m_chunks.push(std::move(chunk))) {
                    break;
                }
            }
        } catch (...) {
            error = std::current_exception();
        }
        m_chunks.close(error);
    }

    // Thread 2: cuts authenticated chunks into frames for the pool, or decompresses them.
    void decompress() {
        std::exception_ptr error;
        try {
            std::vector<char> pending; // authenticated bytes from the start of a frame on
            bool streaming = m_decode_threads == 0;
            while (auto chunk = m_chunks.pop()) {
                if (streaming) {
                    if (!stream({chunk->data(), chunk->size})) {
                        m_chunks.cancel();
                        return;
                    }
                    continue;
                }
                pending.insert(pending.end(), chunk->data(), chunk->data() + chunk->size);
                std::size_t at = 0;
                while (at < pending.size()) {
                    const std::span<const char> rest(pending.data() + at, pending.size() - at);
                    const FrameHeader header = read_frame_header(rest);
                    if (!header.complete) {
                        break;
                    }
                    if (!header.parallel) {
                        streaming = true; // from here on, as the bytes come
                        at = pending.size();
                        if (!stream(rest)) {
                            m_chunks.cancel();
                        return;
                        }
                        break;
                    }
                    if (header.window_size > (1ull << m_window_log)) {
                        throw window_too_large(m_window_log);
                    }
                    const std::size_t size = frame_compressed_size(rest);
                    if (size == 0) {
                        if (rest.size() > ZSTD_compressBound(k_frame_size) + 64) {
                            throw Error(ErrorKind::verification,
                                        "payload.tar.zst: a zstd frame is longer than its content allows");
                        }
                        break;
                    }
                    count_produced(header.content_size);
                    auto frame = std::make_shared<Block>(size);
                    std::memcpy(frame->data(), rest.data(), size);
                    if (!m_pool) {
                        m_pool = std::make_unique<WorkerPool>(m_decode_threads);
                    }
                    auto block = m_pool->submit([frame, content = header.content_size] {
                        return decompress_frame({frame->data(), frame->size}, content);
                    });
                    if (!m_blocks.push(std::move(block))) {
                        m_chunks.cancel();
                        return;
                    }
                    at += size;
                }
                pending.erase(pending.begin(), pending.begin() + static_cast<std::ptrdiff_t>(at));
            }
            if ((!pending.empty() || m_frame_open) && !m_chunks.cancelled()) {
                throw Error(ErrorKind::verification,
                            "payload.tar.zst: the zstd stream ends in the middle of a frame");
            }
        } catch (...) {
            error = std::current_exception();
        }
        m_blocks.close(error);
    }

    void count_produced(std::uint64_t n) {
        m_produced += n;
        if (m_produced > m_limit) {
            throw Error(ErrorKind::verification,
                        "payload.tar.zst decompresses to more than the manifest's files can fill (limit " +
                            std::to_string(m_limit) + " bytes)");
        }
    }

    // Decompresses BYTES as a stream, in this thread; false if the tar reader cancelled.
    bool stream(std::span<const char> bytes) {
        if (!m_dctx) {
            m_dctx.reset(ZSTD_createDCtx());
            if (!m_dctx) {
                throw Error(ErrorKind::internal, "out of memory creating the zstd decoder");
            }
            ZSTD_DCtx_setParameter(m_dctx.get(), ZSTD_d_windowLogMax, m_window_log);
        }
        ZSTD_inBuffer in{bytes.data(), bytes.size(), 0};
        while (in.pos < in.size || m_frame_open) {
            Block block(k_block_size);
            ZSTD_outBuffer out{block.data(), block.size, 0};
            const std::size_t rc = ZSTD_decompressStream(m_dctx.get(), &out, &in);
            if (ZSTD_getErrorCode(rc) == ZSTD_error_frameParameter_windowTooLarge) {
                throw window_too_large(m_window_log);
            }
            if (ZSTD_isError(rc)) {
                throw Error(ErrorKind::verification, std::string("payload.tar.zst: zstd: ") + ZSTD_getErrorName(rc));
            }
            m_frame_open = rc != 0;
            count_produced(out.pos);
            if (out.pos > 0) {
                block.size = out.pos;
                std::promise<Block> ready;
                ready.set_value(std::move(block));
                if (!m_blocks.push(ready.get_future())) {
                    return false;
                }
            } else if (in.pos == in.size) {
                break; // the frame continues in the next chunk
            }
        }
        return true;
    }

    static constexpr std::size_t k_block_size = 1u << 20;

    EnvelopeReader& m_envelope;
    const PayloadIndex& m_index;
    Progress* m_progress;
    int m_window_log;
    std::uint64_t m_limit = 0;
    Channel<Block> m_chunks{2};
    // Decompressed blocks in payload order; a frame's block arrives when the pool is done.
    unsigned m_decode_threads;
    Channel<std::future<Block>> m_blocks{std::max(4u, m_decode_threads + 2)};
    std::unique_ptr<WorkerPool> m_pool; // made at the first frame it can take
    ZstdDCtxPtr m_dctx;                 // for a stream of other frames
    bool m_frame_open = false;
    std::uint64_t m_produced = 0;
    std::thread m_reader;
    std::thread m_decoder;
};

struct ReadContext {
    TarStream* stream;
    std::exception_ptr error;
};

la_ssize_t on_read(archive*, void* self, const void** buffer) {
    auto* ctx = static_cast<ReadContext*>(self);
    try {
        const auto bytes = ctx->stream->next();
        *buffer = bytes.data();
        return static_cast<la_ssize_t>(bytes.size());
    } catch (...) {
        ctx->error = std::current_exception();
        return -1;
    }
}

std::string entry_kind(archive_entry* entry) {
    if (archive_entry_hardlink(entry) != nullptr) {
        return "a hardlink to " + std::string(archive_entry_hardlink(entry));
    }
    switch (archive_entry_filetype(entry)) {
    case AE_IFDIR:
        return "a directory";
    case AE_IFLNK:
        return "a symlink";
    case AE_IFCHR:
    case AE_IFBLK:
        return "a device node";
    case AE_IFIFO:
        return "a FIFO";
    case AE_IFSOCK:
        return "a socket";
    default:
        return "not a regular file";
    }
}

} // namespace

namespace {

// The manifest's payload size and chunk count agree with the member.
void check_payload_shape(const EnvelopeReader& envelope, const PayloadIndex& index) {
    if (envelope.remaining() != index.size) {
        throw Error(ErrorKind::verification,
                    "payload.tar.zst is " + std::to_string(envelope.remaining()) +
                        " bytes, the manifest says " + std::to_string(index.size));
    }
    const std::uint64_t expected_chunks =
        index.chunk_size == 0 ? 0 : (index.size + index.chunk_size - 1) / index.chunk_size;
    if (index.chunk_size < k_min_chunk_size || index.chunk_size > k_max_chunk_size ||
        index.chunks.size() != expected_chunks) {
        throw Error(ErrorKind::verification,
                    "manifest lists " + std::to_string(index.chunks.size()) +
                        " payload chunks, the payload has " + std::to_string(expected_chunks));
    }
}

} // namespace

void check_payload_chunks(EnvelopeReader& envelope, const PayloadIndex& index, Progress* progress) {
    check_payload_shape(envelope, index);
    std::vector<char> buffer(static_cast<std::size_t>(index.chunk_size));
    WholeDigest whole(index);
    for (std::size_t i = 0; i < index.chunks.size(); ++i) {
        const auto want = static_cast<std::size_t>(std::min<std::uint64_t>(index.chunk_size, index.size - i * index.chunk_size));
        std::size_t got = 0;
        while (got < want) {
            const std::size_t n = envelope.read_some(buffer.data() + got, want - got);
            if (n == 0) {
                break;
            }
            got += n;
        }
        const Digest digest = sha256({buffer.data(), got});
        if (got != want || digest != index.chunks[i]) {
            throw chunk_mismatch(index, i, digest);
        }
        whole.update(buffer.data(), got);
        if (progress != nullptr) {
            progress->advance(got);
        }
    }
    whole.check();
    expect_bundle_end(envelope);
}

unsigned default_decode_threads() {
    const unsigned cores = WorkerPool::cores();
    return cores > 2 ? cores - 1 : 0;
}

void read_payload(EnvelopeReader& envelope, const PayloadIndex& index, PayloadSink* sink,
                  Progress* progress, const Limits& limits, unsigned decode_threads) {
    check_payload_shape(envelope, index);
    AuthenticatedStream stream(envelope, index, progress, limits.window_log, decode_threads);
    read_tar(stream, index.files, sink, true);
    expect_bundle_end(envelope);
}

std::span<const char> TarStream::next() {
    auto block = pull();
    if (!block) {
        m_current = Block();
        return {};
    }
    m_current = std::move(*block);
    // Remember where the last non-zero byte ends, so padding can be told from data.
    for (std::size_t i = m_current.size; i > 0; --i) {
        if (m_current.data()[i - 1] != 0) {
            m_data_end = m_delivered + i;
            break;
        }
    }
    m_delivered += m_current.size;
    m_scanner.feed(m_current.data(), m_current.size);
    return {m_current.data(), m_current.size};
}

void TarStream::drain(std::uint64_t tar_end) {
    for (auto rest = next(); !rest.empty(); rest = next()) {
    }
    if (m_data_end > tar_end) {
        throw Error(ErrorKind::verification,
                    "payload.tar.zst: data after the end of the tar archive (at offset " +
                        std::to_string(tar_end) + " of the decompressed tar)");
    }
}

void read_tar(TarStream& stream, const std::vector<ExpectedFile>& files, PayloadSink* sink, bool hash_files) {
    ReadContext ctx{&stream, nullptr};
    const ArchiveReadPtr tar(archive_read_new());
    archive* a = tar.get();
    auto fail = [&](const std::string& context) {
        if (ctx.error) {
            std::rethrow_exception(ctx.error);
        }
        const char* message = archive_error_string(a);
        throw Error(ErrorKind::verification, context + ": " + (message != nullptr ? message : "unreadable tar data"));
    };
    if (archive_read_support_format_tar(a) != ARCHIVE_OK ||
        archive_read_open(a, &ctx, nullptr, on_read, nullptr) != ARCHIVE_OK) {
        fail("payload tar");
    }
    std::vector<char> ignored;
    for (std::size_t i = 0;; ++i) {
        archive_entry* entry = nullptr;
        const int rc = archive_read_next_header(a, &entry);
        if (rc == ARCHIVE_EOF) {
            if (i < files.size()) {
                throw Error(ErrorKind::verification,
                            "payload is missing " + files[i].path + " (listed in the manifest)");
            }
            break;
        }
        if (rc != ARCHIVE_OK) {
            fail(i < files.size() ? "payload entry " + std::to_string(i) : "payload tar");
        }
        const char* raw_name = archive_entry_pathname(entry);
        const std::string raw = raw_name != nullptr ? raw_name : "";
        if (i >= files.size()) {
            throw Error(ErrorKind::verification, "payload entry " + ferry::quoted(raw) + " is not in the manifest");
        }
        const ExpectedFile& want = files[i];
        if (raw != want.path) {
            throw Error(ErrorKind::verification,
                        "payload entry " + ferry::quoted(raw) + " is not the one the manifest lists next (" +
                            want.path + ")",
                        "entries must appear once each, in manifest order");
        }
        const std::string& name = want.path; // equal to the entry's name, and a valid path
        if (archive_entry_filetype(entry) != AE_IFREG || archive_entry_hardlink(entry) != nullptr ||
            archive_entry_symlink(entry) != nullptr) {
            throw Error(ErrorKind::verification, "payload " + name + ": " + entry_kind(entry) +
                                                     ", only regular files are allowed");
        }
        if (!archive_entry_size_is_set(entry) ||
            static_cast<std::uint64_t>(archive_entry_size(entry)) != want.size) {
            throw Error(ErrorKind::verification,
                        "payload " + name + ": size " + std::to_string(archive_entry_size(entry)) +
                            " differs from the manifest's " + std::to_string(want.size));
        }
        const unsigned mode = archive_entry_mode(entry) & 07777;
        if (mode != want.mode) {
            throw Error(ErrorKind::verification, "payload " + name + ": mode differs from the manifest");
        }
        if (archive_entry_sparse_count(entry) > 0) {
            throw Error(ErrorKind::verification, "payload " + name + ": sparse entries are not allowed");
        }
        if (sink != nullptr) {
            sink->begin_file(want);
        }
        Sha256 hash;
        std::uint64_t total = 0;
        for (;;) {
            const void* buf = nullptr;
            std::size_t size = 0;
            la_int64_t offset = 0;
            const int drc = archive_read_data_block(a, &buf, &size, &offset);
            if (drc == ARCHIVE_EOF) {
                break;
            }
            if (drc != ARCHIVE_OK || static_cast<std::uint64_t>(offset) != total) {
                fail("payload " + name);
            }
            total += size;
            if (total > want.size) {
                throw Error(ErrorKind::verification, "payload " + name + ": larger than declared");
            }
            if (hash_files) {
                hash.update(buf, size);
            }
            if (sink != nullptr) {
                sink->data(buf, size);
            }
        }
        const Digest digest = hash_files ? hash.finish() : want.sha256;
        if (total != want.size || digest != want.sha256) {
            throw Error(ErrorKind::verification,
                        "payload " + name + ": sha256 mismatch (expected " + to_hex(want.sha256) +
                            ", got " + to_hex(digest) + ")");
        }
        if (sink != nullptr) {
            sink->end_file();
        }
    }
    // What the tar reader consumed, up to and including its end-of-archive marker.
    stream.drain(static_cast<std::uint64_t>(archive_filter_bytes(a, 0)));
    if (ctx.error) {
        std::rethrow_exception(ctx.error);
    }
}

} // namespace ferry
