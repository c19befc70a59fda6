#include "core/error.hpp"
#include "core/tar_scan.hpp"

#include <doctest/doctest.h>

#include <cstring>
#include <string>

using namespace ferry;

namespace {

// A ustar header block for NAME of SIZE bytes and TYPE (checksum left zero: the scanner leaves
// checksums to the tar reader).
std::string header(const std::string& name, std::uint64_t size, char type = '0') {
    std::string b(512, '\0');
    std::memcpy(b.data(), name.data(), std::min<std::size_t>(name.size(), 100));
    std::snprintf(&b[124], 12, "%011llo", static_cast<unsigned long long>(size));
    b[156] = type;
    std::memcpy(&b[257], "ustar\0" "00", 8);
    return b;
}

std::string padded(std::string data) {
    data.resize((data.size() + 511) / 512 * 512, '\0');
    return data;
}

std::string pax(const std::string& key, const std::string& value) {
    const std::string body = " " + key + "=" + value + "\n";
    std::size_t len = body.size() + 1;
    while (std::to_string(len).size() + body.size() != len) {
        ++len;
    }
    const std::string record = std::to_string(len) + body;
    return header("PaxHeader/x", record.size(), 'x') + padded(record);
}

void scan(const std::string& tar, std::size_t piece) {
    TarScanner s;
    for (std::size_t i = 0; i < tar.size(); i += piece) {
        s.feed(tar.data() + i, std::min(piece, tar.size() - i));
    }
}

} // namespace

TEST_CASE("core::TarScanner") {
    const std::string end(1024, '\0');
    const std::string good = pax("path", std::string(150, 'a')) + header("aaaa", 3) + padded("abc") +
                             header("b", 0) + end;
    for (const std::size_t piece : {1, 7, 512, 4096}) {
        CHECK_NOTHROW(scan(good, piece));
    }
    CHECK_THROWS_WITH_AS(scan(pax("path", std::string("a\0../x", 6)) + header("a", 0) + end, 100),
                         "payload tar, header at offset 512: the pax path \"a\\x00../x\" holds a NUL byte", Error);
    CHECK_THROWS_WITH_AS(scan(pax("path", "app/doc/a") + header("../../etc/passwd", 0) + end, 512),
                         "payload tar, header at offset 1024: the ustar name \"../../etc/passwd\" escapes the root "
                         "behind the pax path \"app/doc/a\" that overrides it",
                         Error);
    CHECK_THROWS_WITH_AS(scan(header("g", 0, 'g') + end, 512),
                         "payload tar, header at offset 0: global pax headers are not allowed", Error);
    CHECK_THROWS_WITH_AS(scan(header("././@LongLink", 0, 'L') + end, 512),
                         "payload tar, header at offset 0: GNU long-name headers are not allowed", Error);
    // The data of an entry is skipped by the size a pax record gives, not the ustar field.
    CHECK_NOTHROW(scan(pax("size", "600") + header("big", 0) + padded(std::string(600, 'x')) + end, 64));
}
