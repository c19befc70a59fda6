#include "core/error.hpp"
#include "core/tar_scan.hpp"

#include <doctest/doctest.h>

#include <cstring>
#include <string>

using namespace ferry;

namespace {

// A ustar header block for NAME of SIZE bytes and TYPE, with its checksum.
std::string header(const std::string& name, std::uint64_t size, char type = '0', const std::string& link = "") {
    std::string b(512, '\0');
    std::memcpy(b.data(), name.data(), std::min<std::size_t>(name.size(), 100));
    std::memcpy(&b[100], "0000644", 7);
    std::snprintf(&b[124], 12, "%011llo", static_cast<unsigned long long>(size));
    b[156] = type;
    std::memcpy(&b[157], link.data(), std::min<std::size_t>(link.size(), 100));
    std::memcpy(&b[257], "ustar\0" "00", 8);
    unsigned sum = 0;
    for (std::size_t i = 0; i < 512; ++i) {
        sum += (i >= 148 && i < 156) ? ' ' : static_cast<unsigned char>(b[i]);
    }
    std::snprintf(&b[148], 8, "%06o", sum);
    b[155] = ' ';
    return b;
}

std::string padded(std::string data) {
    data.resize((data.size() + 511) / 512 * 512, '\0');
    return data;
}

std::string pax_records(const std::string& key, const std::string& value) {
    const std::string body = " " + key + "=" + value + "\n";
    std::size_t len = body.size() + 1;
    while (std::to_string(len).size() + body.size() != len) {
        ++len;
    }
    return std::to_string(len) + body;
}

std::string pax(const std::string& key, const std::string& value) {
    const std::string record = pax_records(key, value);
    return header("PaxHeader/x", record.size(), 'x') + padded(record);
}

void scan(const std::string& tar, std::size_t piece) {
    TarScanner s;
    for (std::size_t i = 0; i < tar.size(); i += piece) {
        s.feed(tar.data() + i, std::min(piece, tar.size() - i));
    }
}

const std::string k_end(1024, '\0');

} // namespace

TEST_CASE("core::TarScanner") {
    const std::string good = pax("path", std::string(150, 'a')) + header("aaaa", 3) + padded("abc") +
                             header("b", 0) + pax("mtime", "4102444800") + header("c", 0) + k_end;
    for (const std::size_t piece : {1, 7, 512, 4096}) {
        CHECK_NOTHROW(scan(good, piece));
    }
    CHECK_THROWS_WITH_AS(scan(pax("path", std::string("a\0../x", 6)) + header("a", 0) + k_end, 100),
                         "payload tar, header at offset 0: the pax path \"a\\x00../x\" holds a NUL byte", Error);
    CHECK_THROWS_WITH_AS(scan(pax("path", "app/doc/a") + header("../../etc/passwd", 0) + k_end, 512),
                         "payload tar, header at offset 1024: the ustar name \"../../etc/passwd\" escapes the root "
                         "behind the pax path \"app/doc/a\" that overrides it",
                         Error);
    CHECK_THROWS_WITH_AS(scan(header("g", 0, 'g') + k_end, 512),
                         "payload tar, header at offset 0: \"g\" is a global pax header (type 'g'): only regular "
                         "files (type '0') and pax extended headers (type 'x') are allowed",
                         Error);
    // The data of an entry is skipped by the size a pax record gives, not the ustar field.
    CHECK_NOTHROW(scan(pax("size", "600") + header("big", 0) + padded(std::string(600, 'x')) + k_end, 64));
}

TEST_CASE("core::TarScanner: every type flag but '0' and 'x' is refused by name") {
    for (unsigned type = 0; type < 256; ++type) {
        CAPTURE(type);
        const std::string tar = header("a/b", 0, static_cast<char>(type), type == '0' ? "" : "t") + k_end;
        if (type == '0') {
            CHECK_NOTHROW(scan(tar, 512));
            continue;
        }
        if (type == 'x') {
            // A pax header must describe a file: here it is the last header.
            CHECK_THROWS_WITH_AS(scan(tar, 512),
                                 "payload tar, header at offset 512: the archive ends after a pax header, without "
                                 "the file it describes",
                                 Error);
            continue;
        }
        try {
            scan(tar, 512);
            FAIL("accepted");
        } catch (const Error& e) {
            const std::string message = e.what();
            CHECK(message.starts_with("payload tar, header at offset 0: \"a/b\" is " +
                                      tar_type_name(static_cast<unsigned char>(type))));
            CHECK(message.ends_with(": only regular files (type '0') and pax extended headers (type 'x') are allowed"));
        }
    }
    CHECK_THROWS_WITH_AS(scan(header("a/b", 0, 'X') + k_end, 512),
                         "payload tar, header at offset 0: \"a/b\" is a Solaris extended header (type 'X'): only "
                         "regular files (type '0') and pax extended headers (type 'x') are allowed",
                         Error);
    CHECK_THROWS_WITH_AS(scan(header("vol", 1024, 'V') + k_end, 512),
                         "payload tar, header at offset 0: \"vol\" is a GNU volume header (type 'V'): only regular "
                         "files (type '0') and pax extended headers (type 'x') are allowed",
                         Error);
    CHECK_THROWS_WITH_AS(scan(header("a/b", 0, '2', "/etc/shadow") + k_end, 512),
                         "payload tar, header at offset 0: \"a/b\" is a symlink (type '2') to \"/etc/shadow\": only "
                         "regular files (type '0') and pax extended headers (type 'x') are allowed",
                         Error);
    CHECK_THROWS_WITH_AS(scan(header("a/b", 0, '\0') + k_end, 512),
                         "payload tar, header at offset 0: \"a/b\" is an old-style regular file (type 0x00): only "
                         "regular files (type '0') and pax extended headers (type 'x') are allowed",
                         Error);
}

TEST_CASE("core::TarScanner: pax keys are an allow-list") {
    CHECK_THROWS_WITH_AS(scan(pax("linkpath", "/etc/shadow") + header("a", 0) + k_end, 512),
                         "payload tar, header at offset 0: the pax key \"linkpath\" is not allowed (only path, size "
                         "and mtime)",
                         Error);
    CHECK_THROWS_WITH_AS(scan(pax("GNU.sparse.map", "0,1") + header("a", 0) + k_end, 512),
                         "payload tar, header at offset 0: the pax key \"GNU.sparse.map\" describes a sparse file: "
                         "sparse files are not allowed",
                         Error);
    const std::string two_paths = pax_records("path", "a") + pax_records("path", "b");
    CHECK_THROWS_WITH_AS(scan(header("P", two_paths.size(), 'x') + padded(two_paths) + header("a", 0) + k_end, 512),
                         "payload tar, header at offset 0: the pax header has two path records", Error);
    CHECK_THROWS_WITH_AS(scan(pax("size", "12x") + header("a", 0) + k_end, 512),
                         "payload tar, header at offset 0: malformed pax size \"12x\"", Error);
    CHECK_THROWS_WITH_AS(scan(pax("path", "a") + pax("path", "b") + header("a", 0) + k_end, 512),
                         "payload tar, header at offset 1024: two pax headers in a row", Error);
    CHECK_THROWS_WITH_AS(scan(pax("path", "") + header("a", 0) + k_end, 512),
                         "payload tar, header at offset 0: the pax path is empty", Error);
}

TEST_CASE("core::TarScanner: headers are checked, padding is zero") {
    std::string bad_sum = header("a", 0);
    bad_sum[0] = 'b';
    CHECK_THROWS_WITH_AS(scan(bad_sum + k_end, 512), "payload tar, header at offset 0: bad header checksum", Error);
    std::string gnu = header("a", 0);
    std::memcpy(&gnu[257], "ustar  \0", 8);
    CHECK_THROWS_WITH_AS(scan(gnu + k_end, 512),
                         "payload tar, header at offset 0: not a POSIX ustar header (magic \"ustar  \\x00\")", Error);
    std::string data = padded("abc");
    data[100] = 'X';
    CHECK_THROWS_WITH_AS(scan(header("a", 3) + data + k_end, 7),
                         "payload tar, offset 612: the padding after the data of the entry at offset 0 is not zero",
                         Error);
    std::string records = padded(pax_records("path", "a"));
    records[500] = 'X';
    CHECK_THROWS_WITH_AS(scan(header("P", pax_records("path", "a").size(), 'x') + records + header("a", 0) + k_end, 1),
                         "payload tar, header at offset 0: the padding after the pax records is not zero", Error);
    // A name field with bytes after its end: a second byte-form of the same header.
    std::string name = header(std::string("a\0junk", 6), 0);
    CHECK_THROWS_WITH_AS(scan(name + k_end, 512),
                         "payload tar, header at offset 0: non-zero bytes after the end of the name field", Error);
    CHECK_THROWS_WITH_AS(scan(header("a", 0, '0', "b") + k_end, 512),
                         "payload tar, header at offset 0: the regular file \"a\" carries a link name", Error);
}
