#include "core/payload.hpp"

#include "core/error.hpp"
#include "core/fs.hpp"
#include "core/payload_frames.hpp"
#include "core/payload_tar.hpp"
#include "core/worker_pool.hpp"

#include <archive_entry.h>
#include <cstring>
#include <deque>
#include <thread>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace ferry {

struct PayloadWriter::Impl {
    int out_fd;
    std::string what;
    PayloadOptions options;
    ArchiveWritePtr tar{archive_write_new()};
    std::exception_ptr callback_error;
    PayloadSummary summary;
    Sha256 whole;
    Sha256 chunk;
    std::uint64_t chunk_fill = 0;
    std::uint64_t start_offset = 0;
    std::uint64_t synced = 0;
    static constexpr std::uint64_t k_writeback_step = 32u << 20;
    // The tar bytes of the frame being filled, then the frames being compressed, in order.
    struct Frame {
        Block compressed;
        Block input;
    };
    Block segment{k_frame_size};
    std::size_t segment_fill = 0;
    std::unique_ptr<WorkerPool> pool;
    std::deque<std::future<Frame>> frames;

    // The self-check's second part: a thread reads the tar back as an applier reads it, from
    // each frame's input once its round trip matched.
    class FrameInputs : public TarStream {
    public:
        Channel<Block> inputs{2};

    private:
        std::optional<Block> pull() override { return inputs.pop(); }
    };
    std::unique_ptr<FrameInputs> check_stream;
    std::vector<ExpectedFile> check_files;
    std::thread checker;
    std::exception_ptr check_error;

    ~Impl() {
        if (checker.joinable()) {
            check_stream->inputs.cancel();
            checker.join();
        }
    }

    // Ends the check; throws an internal Error if the tar did not read back.
    void finish_check() {
        if (!checker.joinable()) {
            return;
        }
        check_stream->inputs.close();
        checker.join();
        if (check_error) {
            try {
                std::rethrow_exception(check_error);
            } catch (const Error& e) {
                throw Error(ErrorKind::internal, std::string("the payload being written does not read back: ") + e.what());
            }
        }
    }

    void emit(const char* data, std::size_t size) {
        write_all(out_fd, data, size, what);
        summary.size += size;
        // Start writeback as we go, so the final fsync does not wait for the whole payload.
        if (summary.size - synced >= k_writeback_step) {
            ::sync_file_range(out_fd, static_cast<off_t>(start_offset + synced),
                              static_cast<off_t>(summary.size - synced), SYNC_FILE_RANGE_WRITE);
            synced = summary.size;
        }
        whole.update(data, size);
        while (size > 0) {
            const std::size_t take =
                static_cast<std::size_t>(std::min<std::uint64_t>(size, options.chunk_size - chunk_fill));
            chunk.update(data, take);
            chunk_fill += take;
            data += take;
            size -= take;
            if (chunk_fill == options.chunk_size) {
                summary.chunks.push_back(chunk.finish());
                chunk = Sha256();
                chunk_fill = 0;
            }
        }
    }

    // Writes the oldest frame in flight once it is compressed.
    void write_oldest() {
        Frame frame = frames.front().get();
        frames.pop_front();
        emit(frame.compressed.data(), frame.compressed.size);
        if (check_stream && !check_stream->inputs.push(std::move(frame.input))) {
            finish_check(); // the check stopped at a fault: raise it now
        }
    }

    // Hands the filled segment to the pool; keeps two frames per thread in flight at most.
    void submit_segment() {
        auto input = std::make_shared<Block>(std::move(segment));
        input->size = segment_fill;
        segment = Block(k_frame_size);
        segment_fill = 0;
        frames.push_back(pool->submit([input, level = options.level, check = options.check_frames] {
            Block compressed = compress_frame({input->data(), input->size}, level, check);
            return Frame{std::move(compressed), std::move(*input)};
        }));
        while (frames.size() > 2 * static_cast<std::size_t>(std::max(1, options.threads))) {
            write_oldest();
        }
    }

    void compress(const char* data, std::size_t size) {
        while (size > 0) {
            const std::size_t take = std::min(size, k_frame_size - segment_fill);
            std::memcpy(segment.data() + segment_fill, data, take);
            segment_fill += take;
            data += take;
            size -= take;
            if (segment_fill == k_frame_size) {
                submit_segment();
            }
        }
    }

    static la_ssize_t on_write(archive*, void* self, const void* data, std::size_t size) {
        auto* impl = static_cast<Impl*>(self);
        try {
            impl->compress(static_cast<const char*>(data), size);
            return static_cast<la_ssize_t>(size);
        } catch (...) {
            impl->callback_error = std::current_exception();
            return -1;
        }
    }

    void check(int rc, const std::string& context) {
        if (callback_error) {
            std::rethrow_exception(callback_error);
        }
        if (rc != ARCHIVE_OK) {
            throw Error(ErrorKind::internal,
                        context + ": " + (archive_error_string(tar.get()) != nullptr ? archive_error_string(tar.get()) : "libarchive error"));
        }
    }
};

PayloadWriter::PayloadWriter(int out_fd, std::string what, const PayloadOptions& options)
    : m_impl(std::make_unique<Impl>()) {
    Impl& m = *m_impl;
    m.out_fd = out_fd;
    m.what = std::move(what);
    m.options = options;
    m.summary.chunk_size = options.chunk_size;
    const off_t start = ::lseek(out_fd, 0, SEEK_CUR);
    m.start_offset = start > 0 ? static_cast<std::uint64_t>(start) : 0;
    if (!m.tar) {
        throw Error(ErrorKind::internal, "out of memory creating the payload writer");
    }
    // Any thread count gives the same bytes: each frame depends on its own tar bytes only.
    m.pool = std::make_unique<WorkerPool>(static_cast<unsigned>(std::max(1, options.threads)));
    archive* a = m.tar.get();
    if (archive_write_set_format_pax_restricted(a) != ARCHIVE_OK ||
        archive_write_add_filter_none(a) != ARCHIVE_OK ||
        archive_write_open2(a, &m, nullptr, &Impl::on_write, nullptr, nullptr) != ARCHIVE_OK) {
        throw Error(ErrorKind::internal, std::string("cannot start payload tar: ") +
                                             archive_error_string(a));
    }
}

PayloadWriter::~PayloadWriter() = default;

void PayloadWriter::check_as_written(std::vector<ExpectedFile> files) {
    Impl& m = *m_impl;
    if (m.checker.joinable() || m.summary.size > 0 || !m.frames.empty() || m.segment_fill > 0) {
        throw Error(ErrorKind::internal, "the payload's check must start before its first file");
    }
    m.check_files = std::move(files);
    m.check_stream = std::make_unique<Impl::FrameInputs>();
    m.checker = std::thread([&m] {
        try {
            read_tar(*m.check_stream, m.check_files, nullptr, false);
        } catch (...) {
            m.check_error = std::current_exception();
            m.check_stream->inputs.cancel();
        }
    });
}

Digest PayloadWriter::add_file(const std::string& path, const std::filesystem::path& source,
                               unsigned mode, std::uint64_t size, Progress* progress) {
    Impl& m = *m_impl;
    Fd fd = open_regular_file(source);
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) {
        throw_errno(source.string());
    }
    if (static_cast<std::uint64_t>(st.st_size) != size) {
        throw Error(ErrorKind::input, source.string() + ": file changed while the bundle was built");
    }
    const ArchiveEntryPtr entry(archive_entry_new());
    archive_entry_set_pathname(entry.get(), path.c_str());
    archive_entry_set_filetype(entry.get(), AE_IFREG);
    archive_entry_set_perm(entry.get(), mode);
    archive_entry_set_size(entry.get(), static_cast<la_int64_t>(size));
    archive_entry_set_mtime(entry.get(), m.options.mtime, 0);
    archive_entry_set_uid(entry.get(), 0);
    archive_entry_set_gid(entry.get(), 0);
    m.check(archive_write_header(m.tar.get(), entry.get()), "payload entry " + path);

    Sha256 hash;
    std::vector<char> buf(1u << 20);
    std::uint64_t total = 0;
    for (;;) {
        const std::size_t n = read_full(fd.get(), buf.data(), buf.size(), source.string());
        if (n == 0) {
            break;
        }
        total += n;
        if (total > size) {
            break;
        }
        hash.update(buf.data(), n);
        const la_ssize_t written = archive_write_data(m.tar.get(), buf.data(), n);
        if (written != static_cast<la_ssize_t>(n)) {
            m.check(ARCHIVE_FATAL, "payload entry " + path);
        }
        if (progress != nullptr) {
            progress->advance(n);
        }
    }
    if (total != size) {
        throw Error(ErrorKind::input, source.string() + ": file changed while the bundle was built");
    }
    m.check(archive_write_finish_entry(m.tar.get()), "payload entry " + path);
    return hash.finish();
}

PayloadSummary PayloadWriter::finish() {
    Impl& m = *m_impl;
    m.check(archive_write_close(m.tar.get()), "closing the payload tar");
    if (m.segment_fill > 0) {
        m.submit_segment();
    }
    while (!m.frames.empty()) {
        m.write_oldest();
    }
    m.finish_check();
    if (m.chunk_fill > 0) {
        m.summary.chunks.push_back(m.chunk.finish());
        m.chunk_fill = 0;
    }
    m.summary.sha256 = m.whole.finish();
    return m.summary;
}

} // namespace ferry
