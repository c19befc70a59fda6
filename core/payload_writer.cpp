#include "core/payload.hpp"

#include "core/error.hpp"
#include "core/fs.hpp"

#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace ferry {

struct PayloadWriter::Impl {
    int out_fd;
    std::string what;
    PayloadOptions options;
    ZstdCCtxPtr cctx{ZSTD_createCCtx()};
    ArchiveWritePtr tar{archive_write_new()};
    std::vector<char> out_buf = std::vector<char>(ZSTD_CStreamOutSize() * 8);
    std::exception_ptr callback_error;
    PayloadSummary summary;
    Sha256 whole;
    Sha256 chunk;
    std::uint64_t chunk_fill = 0;
    std::uint64_t start_offset = 0;
    std::uint64_t synced = 0;
    static constexpr std::uint64_t k_writeback_step = 32u << 20;

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

    void compress(const void* data, std::size_t size, ZSTD_EndDirective mode) {
        ZSTD_inBuffer in{data, size, 0};
        for (;;) {
            ZSTD_outBuffer out{out_buf.data(), out_buf.size(), 0};
            const std::size_t left = ZSTD_compressStream2(cctx.get(), &out, &in, mode);
            if (ZSTD_isError(left)) {
                throw Error(ErrorKind::internal,
                            std::string("zstd compression failed: ") + ZSTD_getErrorName(left));
            }
            emit(out_buf.data(), out.pos);
            const bool done = mode == ZSTD_e_end ? left == 0 : in.pos == in.size;
            if (done) {
                return;
            }
        }
    }

    static la_ssize_t on_write(archive*, void* self, const void* data, std::size_t size) {
        auto* impl = static_cast<Impl*>(self);
        try {
            impl->compress(data, size, ZSTD_e_continue);
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
    if (!m.cctx || !m.tar) {
        throw Error(ErrorKind::internal, "out of memory creating the payload writer");
    }
    auto set = [&](ZSTD_cParameter p, int v) {
        const std::size_t rc = ZSTD_CCtx_setParameter(m.cctx.get(), p, v);
        if (ZSTD_isError(rc)) {
            throw Error(ErrorKind::usage, std::string("zstd parameter rejected: ") +
                                              ZSTD_getErrorName(rc));
        }
    };
    set(ZSTD_c_compressionLevel, options.level);
    set(ZSTD_c_checksumFlag, 1);
    // Always at least one worker: zstd's output is then the same for any worker count.
    set(ZSTD_c_nbWorkers, std::max(1, options.threads));
    archive* a = m.tar.get();
    if (archive_write_set_format_pax_restricted(a) != ARCHIVE_OK ||
        archive_write_add_filter_none(a) != ARCHIVE_OK ||
        archive_write_open2(a, &m, nullptr, &Impl::on_write, nullptr, nullptr) != ARCHIVE_OK) {
        throw Error(ErrorKind::internal, std::string("cannot start payload tar: ") +
                                             archive_error_string(a));
    }
}

PayloadWriter::~PayloadWriter() = default;

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
    m.compress(nullptr, 0, ZSTD_e_end);
    if (m.chunk_fill > 0) {
        m.summary.chunks.push_back(m.chunk.finish());
        m.chunk_fill = 0;
    }
    m.summary.sha256 = m.whole.finish();
    return m.summary;
}

} // namespace ferry
