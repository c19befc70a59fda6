#include "core/error.hpp"
#include "core/fs.hpp"
#include "core/payload.hpp"
#include "core/payload_frames.hpp"
#include "scratch.hpp"

#include <doctest/doctest.h>

using namespace ferry;

namespace {

struct Collect : PayloadSink {
    std::vector<std::pair<std::string, std::string>> files;
    void begin_file(const ExpectedFile& f) override { files.emplace_back(f.path, ""); }
    void data(const void* b, std::size_t n) override { files.back().second.append(static_cast<const char*>(b), n); }
    void end_file() override {}
};

struct Written {
    PayloadIndex index;
    std::string payload;
};

Written write_payload(const test::Scratch& dir, const std::vector<std::pair<std::string, std::string>>& files,
                      int threads = 1, std::uint64_t chunk_size = k_min_chunk_size) {
    Written out;
    AtomicFile f(dir / "payload.tar.zst");
    PayloadOptions options;
    options.threads = threads;
    options.chunk_size = chunk_size;
    PayloadWriter writer(f.fd(), "payload", options);
    for (const auto& [path, content] : files) {
        const auto source = dir.write("src/" + path, content);
        const Digest d = writer.add_file(path, source, 0644, content.size(), nullptr);
        CHECK(d == sha256(content));
        out.index.files.push_back({path, content.size(), 0644, d});
    }
    const PayloadSummary s = writer.finish();
    f.commit();
    out.payload = read_file(dir / "payload.tar.zst");
    CHECK(s.size == out.payload.size());
    CHECK(s.sha256 == sha256(out.payload));
    out.index.size = s.size;
    out.index.chunk_size = s.chunk_size;
    out.index.chunks = s.chunks;
    return out;
}

// Wraps PAYLOAD in a minimal envelope and reads it back through read_payload.
Collect read_back(const test::Scratch& dir, const std::string& payload, const PayloadIndex& index,
                  unsigned decode_threads = 0, const Limits& limits = {}) {
    {
        AtomicFile f(dir / "b.ferry");
        EnvelopeWriter w(f.fd(), "b", 0);
        w.add(k_manifest_member, "m");
        w.add("signatures/0123456789ABCDEF.minisig", "s");
        w.add(k_payload_member, payload);
        w.finish();
        f.commit();
    }
    Fd fd = open_regular_file(dir / "b.ferry");
    EnvelopeReader r(fd.get(), "b");
    (void)read_bundle_head(r);
    Collect sink;
    read_payload(r, index, &sink, nullptr, limits, decode_threads);
    return sink;
}

std::string random_text(std::size_t n, unsigned seed) {
    std::string s(n, '\0');
    for (auto& c : s) {
        seed = seed * 1103515245 + 12345;
        c = static_cast<char>(seed >> 16);
    }
    return s;
}

} // namespace

TEST_CASE("core::PayloadWriter and read_payload") {
    const test::Scratch dir;
    const std::vector<std::pair<std::string, std::string>> files = {
        {"app/binary/app", random_text(300000, 1)}, {"app/doc/README", "hello\n"}, {"app/doc/empty", ""}};
    const Written w = write_payload(dir, files);
    CHECK(w.index.chunks.size() == (w.payload.size() + k_min_chunk_size - 1) / k_min_chunk_size);

    SUBCASE("round trip delivers every file") {
        const Collect got = read_back(dir, w.payload, w.index);
        CHECK(got.files == files);
    }
    SUBCASE("same bytes whatever the thread count") {
        const test::Scratch other;
        CHECK(write_payload(other, files, 2).payload == w.payload);
    }
    SUBCASE("a flipped payload byte fails its chunk before decompression") {
        std::string bad = w.payload;
        bad[bad.size() - 3] ^= 0x40;
        const std::size_t last = w.index.chunks.size() - 1;
        CHECK_THROWS_WITH_AS(read_back(dir, bad, w.index),
                             doctest::Contains(("payload.tar.zst chunk " + std::to_string(last) + " (bytes ").c_str()),
                             Error);
    }
    SUBCASE("a file's hash differs from the manifest") {
        PayloadIndex index = w.index;
        index.files[1].sha256[0] ^= 1;
        CHECK_THROWS_WITH_AS(read_back(dir, w.payload, index),
                             doctest::Contains("payload app/doc/README: sha256 mismatch"), Error);
    }
    SUBCASE("an entry missing from the manifest") {
        PayloadIndex index = w.index;
        index.files.pop_back();
        CHECK_THROWS_WITH_AS(read_back(dir, w.payload, index), "payload entry \"app/doc/empty\" is not in the manifest",
                             Error);
    }
    SUBCASE("an entry the payload lacks") {
        PayloadIndex index = w.index;
        index.files.push_back({"app/doc/zzz", 1, 0644, {}});
        CHECK_THROWS_WITH_AS(read_back(dir, w.payload, index),
                             "payload is missing app/doc/zzz (listed in the manifest)", Error);
    }
    SUBCASE("a size that differs") {
        PayloadIndex index = w.index;
        index.files[1].size = 5;
        CHECK_THROWS_WITH_AS(read_back(dir, w.payload, index),
                             "payload app/doc/README: size 6 differs from the manifest's 5", Error);
    }
    SUBCASE("a chunk list one short") {
        PayloadIndex index = w.index;
        index.chunks.pop_back();
        CHECK_THROWS_WITH_AS(read_back(dir, w.payload, index), doctest::Contains("payload chunks, the payload has"),
                             Error);
    }
}

namespace {

// The sizes of the zstd frames PAYLOAD is made of.
std::vector<std::size_t> frame_sizes(const std::string& payload) {
    std::vector<std::size_t> sizes;
    for (std::size_t at = 0; at < payload.size();) {
        const std::size_t n = frame_compressed_size({payload.data() + at, payload.size() - at});
        REQUIRE(n > 0);
        sizes.push_back(n);
        at += n;
    }
    return sizes;
}

// PAYLOAD's chunk hashes in INDEX recomputed, as a signer of a damaged payload would have.
PayloadIndex rehashed(PayloadIndex index, const std::string& payload) {
    index.chunks.clear();
    for (std::size_t at = 0; at < payload.size(); at += index.chunk_size) {
        index.chunks.push_back(sha256(std::string_view(payload).substr(at, index.chunk_size)));
    }
    return index;
}

} // namespace

TEST_CASE("core::PayloadWriter frames: independent, read one after another or several at once") {
    const test::Scratch dir;
    // 20 MiB of tar: three frames of k_frame_size tar bytes at most.
    const std::vector<std::pair<std::string, std::string>> files = {{"a/one", random_text(9u << 20, 7)},
                                                                    {"a/two", std::string(5u << 20, 'x')},
                                                                    {"a/three", random_text(6u << 20, 9)}};
    const Written w = write_payload(dir, files, 1, 1u << 20);
    const std::vector<std::size_t> frames = frame_sizes(w.payload);
    CHECK(frames.size() == 3);

    SUBCASE("the same bytes with three threads") {
        const test::Scratch other;
        CHECK(write_payload(other, files, 3, 1u << 20).payload == w.payload);
    }
    SUBCASE("read back in one thread and with two decoders alike") {
        CHECK(read_back(dir, w.payload, w.index, 0).files == files);
        CHECK(read_back(dir, w.payload, w.index, 2).files == files);
    }
    SUBCASE("a damaged frame, its chunks signed as they are, is refused by either reader") {
        std::string bad = w.payload;
        bad[frames[0] + frames[1] / 2] ^= 0x40;
        const PayloadIndex index = rehashed(w.index, bad);
        for (const unsigned threads : {0u, 2u}) {
            CAPTURE(threads);
            CHECK_THROWS_WITH_AS(read_back(dir, bad, index, threads), doctest::Contains("payload.tar.zst: zstd: "), Error);
        }
    }
    SUBCASE("a frame needing a window over the site's limit is refused by either reader") {
        Limits limits;
        limits.window_log = 10;
        for (const unsigned threads : {0u, 2u}) {
            CAPTURE(threads);
            CHECK_THROWS_WITH_AS(read_back(dir, w.payload, w.index, threads, limits),
                                 doctest::Contains("a zstd frame needs a window larger than the site's limit of 2^10"),
                                 Error);
        }
    }
    SUBCASE("a payload cut after its first frame ends in the middle of nothing but misses files") {
        const std::string cut = w.payload.substr(0, frames[0]);
        PayloadIndex index = rehashed(w.index, cut);
        index.size = cut.size();
        CHECK_THROWS_WITH_AS(read_back(dir, cut, index, 2), doctest::Contains("payload a/one"), Error);
    }
}

TEST_CASE("core::PayloadWriter::check_as_written reads the tar back as it is written") {
    const test::Scratch dir;
    AtomicFile f(dir / "payload.tar.zst");
    PayloadOptions options;
    options.threads = 2;
    PayloadWriter writer(f.fd(), "payload", options);
    const std::string content = random_text(100000, 3);
    const auto source = dir.write("src/file", content);
    SUBCASE("as expected") {
        writer.check_as_written({{"app/file", content.size(), 0644, {}}});
        (void)writer.add_file("app/file", source, 0644, content.size(), nullptr);
        CHECK(writer.finish().size > 0);
    }
    SUBCASE("an entry other than the one expected is an internal error") {
        writer.check_as_written({{"app/file", content.size(), 0600, {}}});
        (void)writer.add_file("app/file", source, 0644, content.size(), nullptr);
        CHECK_THROWS_WITH_AS((void)writer.finish(),
                             "the payload being written does not read back: payload app/file: mode differs from the manifest",
                             Error);
    }
}
