#include "core/error.hpp"
#include "core/fs.hpp"
#include "core/payload.hpp"
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
Collect read_back(const test::Scratch& dir, const std::string& payload, const PayloadIndex& index) {
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
    read_payload(r, index, &sink, nullptr);
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
