#include "core/error.hpp"
#include "keys/key.hpp"
#include "keys/key_file.hpp"
#include "keys/passphrase.hpp"
#include "keys/signature.hpp"
#include "keys/sodium.hpp"

#include <doctest/doctest.h>
#include <sodium.h>

#include <sys/stat.h>
#include <sys/wait.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

using ferry::Error;
using ferry::ErrorKind;
using namespace ferry::keys;

namespace {

namespace fs = std::filesystem;

std::vector<std::uint8_t> bytes_of(std::string_view text) {
    return {text.begin(), text.end()};
}

// A fresh folder under the system temp folder, removed with everything in it.
class TempDir {
public:
    TempDir() {
        std::string pattern = (fs::temp_directory_path() / "ferry-keys-XXXXXX").string();
        if (::mkdtemp(pattern.data()) == nullptr) {
            throw std::runtime_error("mkdtemp failed");
        }
        m_path = pattern;
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    ~TempDir() {
        std::error_code ignored;
        fs::remove_all(m_path, ignored);
    }

    [[nodiscard]] fs::path operator/(const std::string& name) const { return m_path / name; }

private:
    fs::path m_path;
};

void write_file(const fs::path& path, std::string_view content) {
    std::ofstream out(path, std::ios::binary);
    out.write(content.data(), static_cast<std::streamsize>(content.size()));
    REQUIRE(out.good());
}

std::string read_file(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// The exit code of a shell command, or -1 if it did not exit normally.
int run(const std::string& command) {
    const int status = std::system((command + " >/dev/null 2>&1").c_str());
    return status != -1 && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

bool have_program(const std::string& name) {
    return run("command -v " + name) == 0;
}

// TEXT (a path or a string without quotes) quoted for the shell.
std::string shell_quoted(const fs::path& text) {
    return "'" + text.string() + "'";
}

// Rebuilds a key file after EDIT changed the bytes of its base64 line.
std::string edit_key_file(const std::string& text,
                          const std::function<void(std::vector<std::uint8_t>&)>& edit) {
    const auto first = text.find('\n');
    const auto second = text.find('\n', first + 1);
    auto blob = decode_base64(std::string_view(text).substr(first + 1, second - first - 1));
    REQUIRE(blob);
    edit(*blob);
    return text.substr(0, first + 1) + encode_base64(*blob) + "\n";
}

std::string no_passphrase() {
    FAIL("the passphrase was asked for an unencrypted key");
    return {};
}

// Sets or (with nullptr) unsets an environment variable for one scope, then restores it.
class ScopedEnv {
public:
    ScopedEnv(const char* name, const char* value) : m_name(name) {
        if (const char* old = std::getenv(name); old != nullptr) {
            m_old = old;
        }
        set(value);
    }
    ScopedEnv(const ScopedEnv&) = delete;
    ScopedEnv& operator=(const ScopedEnv&) = delete;
    ~ScopedEnv() { set(m_old ? m_old->c_str() : nullptr); }

private:
    void set(const char* value) {
        value != nullptr ? ::setenv(m_name, value, 1) : ::unsetenv(m_name);
    }

    const char* m_name;
    std::optional<std::string> m_old;
};

const std::string k_message = "format: ferry-bundle/1\nname: greeter\n";
const std::string k_trusted = "timestamp:1763712000\tfile:manifest.yaml\tkey:alice";

} // namespace

TEST_CASE("keys::key_id_hex") {
    const KeyId id = {0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0xAB};
    CHECK(key_id_hex(id) == "AB07060504030201");
    CHECK(parse_key_id_hex("AB07060504030201") == id);
    CHECK_FALSE(parse_key_id_hex("ab07060504030201"));
    CHECK_FALSE(parse_key_id_hex("AB0706050403020"));
    CHECK_FALSE(parse_key_id_hex("AB070605040302011"));
    CHECK_FALSE(parse_key_id_hex("AB0706050403020G"));
}

TEST_CASE("keys::parse_public_key_base64") {
    const auto key = generate_secret_key().public_key();
    const auto text = public_key_base64(key);
    CHECK(text.size() == 56);
    CHECK(text.starts_with("RW")); // "Ed" in base64
    CHECK(parse_public_key_base64(text, "alice.pub") == key);

    auto blob = *decode_base64(text);
    blob[1] = 'D';
    REQUIRE_THROWS_WITH_AS((void)parse_public_key_base64(encode_base64(blob), "alice.pub"),
                           "alice.pub: not a minisign public key (expected algorithm \"Ed\")",
                           Error);
    REQUIRE_THROWS_WITH_AS((void)parse_public_key_base64(text.substr(0, 52), "trust.yaml:5"),
                           "trust.yaml:5: not a minisign public key (expected 42 bytes, got 39)",
                           Error);
    REQUIRE_THROWS_WITH_AS((void)parse_public_key_base64(text.substr(1), "alice.pub"),
                           "alice.pub: not a minisign public key (invalid base64)", Error);
    REQUIRE_THROWS_WITH_AS((void)parse_public_key_base64(text + " ", "alice.pub"),
                           "alice.pub: not a minisign public key (invalid base64)", Error);
}

TEST_CASE("keys::format_public_key_file") {
    TempDir dir;
    const auto key = generate_secret_key().public_key();
    const auto text = format_public_key_file(key, "alice");
    CHECK(text == "untrusted comment: minisign public key " + key_id_hex(key.id) +
                      " (ferry key alice)\n" + public_key_base64(key) + "\n");

    SUBCASE("round trip through a file") {
        write_file(dir / "alice.pub", text);
        CHECK(read_public_key_file(dir / "alice.pub") == key);
    }
    SUBCASE("CRLF and a missing final newline are tolerated") {
        const auto crlf = "untrusted comment: x\r\n" + public_key_base64(key) + "\r\n";
        CHECK(parse_public_key_file(crlf, "alice.pub") == key);
        CHECK(parse_public_key_file(text.substr(0, text.size() - 1), "alice.pub") == key);
    }
    SUBCASE("errors") {
        REQUIRE_THROWS_WITH_AS((void)parse_public_key_file(text + "extra\n", "alice.pub"),
                               "alice.pub: not a minisign public key file (expected 2 lines: a "
                               "comment, then the key)",
                               Error);
        REQUIRE_THROWS_WITH_AS(
            (void)parse_public_key_file("comment\n" + public_key_base64(key), "alice.pub"),
            "alice.pub:1: expected \"untrusted comment: \"", Error);
        const auto missing = dir / "missing.pub";
        REQUIRE_THROWS_WITH_AS(
            (void)read_public_key_file(missing),
            (missing.string() + ": cannot open: No such file or directory").c_str(), Error);
    }
}

TEST_CASE("keys::SecretKey") {
    auto key = generate_secret_key();
    CHECK(key.is_consistent());
    const auto public_key = key.public_key();
    CHECK(public_key.id == key.id());
    const auto message = bytes_of(k_message);
    const auto sig = key.sign_detached(message);
    CHECK(crypto_sign_verify_detached(sig.data(), message.data(), message.size(),
                                      public_key.key.data()) == 0);

    const SecretKey moved(std::move(key));
    CHECK(moved.public_key() == public_key);
    CHECK(generate_secret_key().id() != moved.id());
}

TEST_CASE("keys::encode_secret_key_file") {
    const auto key = generate_secret_key();
    const auto id_hex = key_id_hex(key.id());

    SUBCASE("unencrypted") {
        const auto text = encode_secret_key_file(key, "test-key", nullptr);
        CHECK(text.starts_with("untrusted comment: ferry secret key test-key, key id " + id_hex +
                               ", UNENCRYPTED - FOR TESTS ONLY"));
        const auto decoded = decode_secret_key_file(text, "test.key", no_passphrase);
        CHECK(decoded.id() == key.id());
        CHECK(decoded.public_key() == key.public_key());
    }
    SUBCASE("encrypted") {
        const std::string passphrase = "correct horse battery staple";
        const auto text = encode_secret_key_file(key, "alice", &passphrase);
        CHECK(text.starts_with("untrusted comment: ferry secret key alice, key id " + id_hex +
                               ", encrypted with a passphrase (Argon2id)\n"));
        CHECK(text.find("UNENCRYPTED") == std::string::npos);
        const auto blob = *decode_base64(text.substr(text.find('\n') + 1, 200));
        REQUIRE(blob.size() == 149);
        CHECK(std::string(blob.begin(), blob.begin() + 5) == std::string("FSK1\x01"));
        CHECK(blob[5] == 3); // opslimit, little-endian
        CHECK(blob[15] == 0);
        CHECK(blob[16] == 0x08); // memlimit 128 MiB = 0x08000000, little-endian

        int asked = 0;
        const auto decoded = decode_secret_key_file(text, "alice.key", [&] {
            ++asked;
            return passphrase;
        });
        CHECK(asked == 1);
        CHECK(decoded.public_key() == key.public_key());
        CHECK(decoded.is_consistent());

        REQUIRE_THROWS_WITH_AS(
            (void)decode_secret_key_file(text, "alice.key", [] { return std::string("wrong"); }),
            "alice.key: wrong passphrase (or the key file is damaged)", Error);
    }
}

TEST_CASE("keys::decode_secret_key_file") {
    const auto key = generate_secret_key();
    const auto text = encode_secret_key_file(key, "test", nullptr);
    const auto expect_error = [](const std::string& file, const std::string& message) {
        REQUIRE_THROWS_WITH_AS((void)decode_secret_key_file(file, "k.key", no_passphrase),
                               message.c_str(), Error);
    };

    SUBCASE("layout") {
        expect_error("just one line\n", "k.key: not a secret key file (expected 2 lines: a "
                                        "comment, then the key)");
        expect_error("untrusted comment: x\nnot base64!\n", "k.key:2: invalid base64");
        expect_error(std::string(5000, 'a'), "k.key: too large for a secret key file");
    }
    SUBCASE("magic and length") {
        expect_error(edit_key_file(text, [](auto& b) { b[0] = 'X'; }),
                     "k.key: not a secret key (expected Ferry's magic \"FSK1\" or minisign's \"Ed\")");
        expect_error(edit_key_file(text, [](auto& b) { b.resize(40); }),
                     "k.key: truncated secret key (40 bytes)");
        expect_error(edit_key_file(text, [](auto& b) { b.pop_back(); }),
                     "k.key: truncated secret key (expected 133 bytes, got 132)");
        expect_error(edit_key_file(text, [](auto& b) { b.push_back(0); }),
                     "k.key: trailing data after the secret key (expected 133 bytes, got 134)");
        expect_error(edit_key_file(text, [](auto& b) { b[4] = 7; }),
                     "k.key: unknown key derivation 7 (expected 0 for none or 1 for Argon2id)");
    }
    SUBCASE("a minisign secret key") {
        // minisign's layout: "Ed" kdf "B2" salt[32] opslimit memlimit | id[8] secret[64] chk[32]
        const auto minisign_file = [&](bool encrypted, bool checksum, std::uint64_t ops,
                                       std::uint64_t mem, const std::string& passphrase) {
            std::vector<std::uint8_t> b = {'E', 'd', 0, 0, 'B', '2'};
            if (encrypted) {
                b[2] = 'S';
                b[3] = 'c';
            }
            b.resize(158);
            for (int i = 0; i < 32; ++i) {
                b[6 + i] = static_cast<std::uint8_t>(i * 7);
            }
            for (int i = 0; i < 8; ++i) {
                b[38 + i] = static_cast<std::uint8_t>(ops >> (8 * i));
                b[46 + i] = static_cast<std::uint8_t>(mem >> (8 * i));
            }
            std::copy(key.id().begin(), key.id().end(), b.begin() + 54);
            std::copy(key.secret().begin(), key.secret().end(), b.begin() + 62);
            if (checksum) {
                crypto_generichash_state st;
                crypto_generichash_init(&st, nullptr, 0, 32);
                crypto_generichash_update(&st, b.data(), 2);
                crypto_generichash_update(&st, b.data() + 54, 72);
                crypto_generichash_final(&st, b.data() + 126, 32);
            }
            if (encrypted) {
                std::vector<std::uint8_t> stream(104);
                REQUIRE(crypto_pwhash_scryptsalsa208sha256(stream.data(), stream.size(),
                                                           passphrase.data(), passphrase.size(),
                                                           b.data() + 6, ops, mem) == 0);
                for (std::size_t i = 0; i < stream.size(); ++i) {
                    b[54 + i] ^= stream[i];
                }
            }
            return "untrusted comment: minisign secret key\n" + encode_base64(b) + "\n";
        };
        constexpr std::uint64_t ops = crypto_pwhash_scryptsalsa208sha256_OPSLIMIT_MIN;
        constexpr std::uint64_t mem = crypto_pwhash_scryptsalsa208sha256_MEMLIMIT_MIN;
        // unencrypted, as minisign -G -W writes it (zero checksum) and as -C -W does (checksum)
        for (const bool checksum : {false, true}) {
            const auto loaded =
                decode_secret_key_file(minisign_file(false, checksum, 0, 0, ""), "k.key", no_passphrase);
            CHECK(loaded.id() == key.id());
            CHECK(loaded.public_key() == key.public_key());
        }
        const auto encrypted = minisign_file(true, true, ops, mem, "a long passphrase");
        int asked = 0;
        const auto loaded = decode_secret_key_file(encrypted, "k.key", [&] {
            ++asked;
            return std::string("a long passphrase");
        });
        CHECK(asked == 1);
        CHECK(loaded.public_key() == key.public_key());
        REQUIRE_THROWS_WITH_AS(
            (void)decode_secret_key_file(encrypted, "k.key", [] { return std::string("another one"); }),
            "k.key: wrong passphrase for this minisign secret key (or the key file is damaged)", Error);
        expect_error(edit_key_file(minisign_file(false, true, 0, 0, ""), [](auto& b) { b[130] ^= 1; }),
                     "k.key: the minisign secret key is damaged (its checksum does not match)");
        expect_error(edit_key_file(encrypted, [](auto& b) { b.pop_back(); }),
                     "k.key: truncated minisign secret key (expected 158 bytes, got 157)");
        expect_error(edit_key_file(encrypted, [](auto& b) { b[2] = 'A'; }),
                     "k.key: minisign secret key with an unknown key derivation (expected \"Sc\" for "
                     "scrypt or none)");
        expect_error(edit_key_file(encrypted, [](auto& b) { b[5] = '3'; }),
                     "k.key: minisign secret key with an unknown checksum function (expected \"B2\", "
                     "BLAKE2b)");
        // work factors beyond minisign's own are refused before any work is done
        expect_error(edit_key_file(encrypted, [](auto& b) { b[41] = 0x04; }),
                     "k.key: unreasonable scrypt opslimit 67141632 (expected 32768 to 33554432)");
        expect_error(edit_key_file(encrypted, [](auto& b) { b[53] = 0x01; }),
                     "k.key: unreasonable scrypt memlimit 72057594054705152 bytes (expected 16777216 "
                     "to 1073741824)");
        expect_error(edit_key_file(encrypted, [](auto& b) { b[39] = 0; }),
                     "k.key: unreasonable scrypt opslimit 0 (expected 32768 to 33554432)");
    }
    SUBCASE("work factors") {
        const std::string passphrase = "pass";
        const auto encrypted = encode_secret_key_file(key, "test", &passphrase);
        expect_error(edit_key_file(encrypted, [](auto& b) { b[16] = 0x48; }),
                     "k.key: unreasonable Argon2id memlimit 1207959552 bytes (expected 8192 to "
                     "1073741824)");
        expect_error(edit_key_file(encrypted, [](auto& b) { b[5] = 0; }),
                     "k.key: unreasonable Argon2id opslimit 0 (expected 1 to 32)");
        expect_error(edit_key_file(encrypted, [](auto& b) { b[6] = 1; }),
                     "k.key: unreasonable Argon2id opslimit 259 (expected 1 to 32)");
    }
    SUBCASE("a damaged unencrypted key") {
        expect_error(edit_key_file(text, [](auto& b) { b[61 + 8] ^= 1; }),
                     "k.key: the secret key is damaged (its public half does not match)");
    }
}

TEST_CASE("keys::load_secret_key") {
    TempDir dir;
    const auto key = generate_secret_key();
    write_file(dir / "test.key", encode_secret_key_file(key, "test", nullptr));
    CHECK(load_secret_key(dir / "test.key", no_passphrase).public_key() == key.public_key());
}

TEST_CASE("keys::read_passphrase") {
    SUBCASE("from the environment") {
        const ScopedEnv env("FERRY_PASSPHRASE", "from the environment");
        CHECK(read_passphrase("Passphrase: ", true) == "from the environment");
    }
    SUBCASE("an empty FERRY_PASSPHRASE") {
        const ScopedEnv env("FERRY_PASSPHRASE", "");
        REQUIRE_THROWS_WITH_AS((void)read_passphrase("Passphrase: ", false),
                               "FERRY_PASSPHRASE is empty", Error);
    }
    SUBCASE("no terminal") {
        const ScopedEnv env("FERRY_PASSPHRASE", nullptr);
        if (std::ifstream("/dev/tty").is_open()) {
            MESSAGE("skipped: this test runs with a terminal");
            return;
        }
        try {
            (void)read_passphrase("Passphrase: ", false);
            FAIL("no error without a terminal");
        } catch (const Error& error) {
            CHECK(std::string(error.what()) == "no terminal to ask for the passphrase");
            CHECK(error.kind() == ErrorKind::usage);
            CHECK(error.hint() == "set FERRY_PASSPHRASE or run from a terminal");
        }
    }
}

TEST_CASE("keys::sign_message") {
    const auto key = generate_secret_key();
    const auto public_key = key.public_key();
    const auto message = bytes_of(k_message);
    const auto signature = sign_message(key, message, k_trusted, "signature from ferry key alice");
    CHECK(signature.id == key.id());
    CHECK(verify_signature(public_key, signature, message));

    SUBCASE("a flipped byte fails") {
        auto changed_message = message;
        changed_message[3] ^= 1;
        CHECK_FALSE(verify_signature(public_key, signature, changed_message));
        auto changed = signature;
        changed.sig[10] ^= 1;
        CHECK_FALSE(verify_signature(public_key, changed, message));
        changed = signature;
        changed.trusted_comment[0] = 'T';
        CHECK_FALSE(verify_signature(public_key, changed, message));
        changed = signature;
        changed.global_sig[63] ^= 0x10;
        CHECK_FALSE(verify_signature(public_key, changed, message));
        CHECK_FALSE(verify_signature(generate_secret_key().public_key(), signature, message));
    }
    SUBCASE("comments must fit on one line") {
        REQUIRE_THROWS_WITH_AS((void)sign_message(key, message, "a\nb", "x"),
                               "trusted comment: comment contains a line break or NUL byte", Error);
        REQUIRE_THROWS_WITH_AS((void)sign_message(key, message, "x", std::string(1025, 'c')),
                               "untrusted comment: comment longer than 1024 bytes", Error);
    }
    SUBCASE("format and parse") {
        const auto text = format_signature(signature);
        CHECK(text.starts_with("untrusted comment: signature from ferry key alice\nRW"));
        CHECK(text.find("\ntrusted comment: " + k_trusted + "\n") != std::string::npos);
        CHECK(std::count(text.begin(), text.end(), '\n') == 4);
        CHECK(parse_signature(text, "alice.minisig") == signature);
    }
}

TEST_CASE("keys::parse_signature") {
    const auto key = generate_secret_key();
    const auto text = format_signature(sign_message(key, bytes_of(k_message), k_trusted, "u"));
    std::vector<std::string> lines;
    for (std::size_t start = 0, end = 0; (end = text.find('\n', start)) != text.npos;
         start = end + 1) {
        lines.push_back(text.substr(start, end - start));
    }
    REQUIRE(lines.size() == 4);
    const auto join = [](const std::vector<std::string>& parts) {
        std::string joined;
        for (const auto& part : parts) {
            joined += part + "\n";
        }
        return joined;
    };
    const auto expect_error = [](const std::string& file, const std::string& message) {
        REQUIRE_THROWS_WITH_AS((void)parse_signature(file, "s.minisig"), message.c_str(), Error);
    };
    const auto with_blob = [&](char first, char second) {
        auto blob = *decode_base64(lines[1]);
        blob[0] = static_cast<std::uint8_t>(first);
        blob[1] = static_cast<std::uint8_t>(second);
        return join({lines[0], encode_base64(blob), lines[2], lines[3]});
    };

    expect_error(text + std::string(4096, 'x'), "s.minisig: signature file too large (" +
                                                    std::to_string(text.size() + 4096) +
                                                    " bytes, at most 4096)");
    expect_error(std::string("untrusted comment: \0\n", 21) + lines[1] + "\n" + lines[2] + "\n" +
                     lines[3] + "\n",
                 "s.minisig: not a signature file (contains a NUL byte)");
    expect_error(text.substr(0, text.size() - 1),
                 "s.minisig: the last line does not end with a newline");
    expect_error(join({lines[0], lines[1], lines[2]}),
                 "s.minisig: expected 4 lines in a minisign signature, got 3");
    expect_error(text + "\n", "s.minisig: expected 4 lines in a minisign signature, got 5");
    expect_error(join({"comment: u", lines[1], lines[2], lines[3]}),
                 "s.minisig:1: expected \"untrusted comment: \"");
    expect_error(
        join({"untrusted comment: " + std::string(1025, 'c'), lines[1], lines[2], lines[3]}),
        "s.minisig:1: comment longer than 1024 bytes");
    expect_error(join({lines[0], lines[1] + "\r", lines[2], lines[3]}),
                 "s.minisig:2: carriage return at the end of the line (expected LF line endings)");
    expect_error(join({lines[0], "RW*", lines[2], lines[3]}), "s.minisig:2: invalid base64");
    expect_error(join({lines[0], lines[3], lines[2], lines[3]}),
                 "s.minisig:2: expected 74 bytes of signature data, got 64");
    expect_error(with_blob('E', 'D'),
                 "s.minisig:2: prehashed signature (algorithm \"ED\"); Ferry signatures use the "
                 "legacy \"Ed\" algorithm (minisign -S -l)");
    expect_error(with_blob('X', 'y'), "s.minisig:2: unknown signature algorithm (expected \"Ed\")");
    expect_error(join({lines[0], lines[1], "trusted: x", lines[3]}),
                 "s.minisig:3: expected \"trusted comment: \"");
    expect_error(join({lines[0], lines[1], lines[2], lines[1]}),
                 "s.minisig:4: expected 64 bytes of global signature, got 74");
}

TEST_CASE("keys::interop") {
    TempDir dir;
    const auto key = generate_secret_key();
    const auto message = bytes_of(k_message);
    write_file(dir / "manifest.yaml", k_message);
    write_file(dir / "bad.yaml", "format: ferry-bundle/1\nname: greeteR\n");
    write_file(dir / "alice.pub", format_public_key_file(key.public_key(), "alice"));
    const auto signature = sign_message(key, message, k_trusted, "signature from ferry key alice");
    write_file(dir / "manifest.minisig", format_signature(signature));

    SUBCASE("minisign -V accepts our signature") {
        if (!have_program("minisign")) {
            MESSAGE("skipped: minisign is not installed");
            return;
        }
        const auto verify = [&](const std::string& file) {
            return run("minisign -V -q -m " + shell_quoted(dir / file) + " -p " +
                       shell_quoted(dir / "alice.pub") + " -x " +
                       shell_quoted(dir / "manifest.minisig"));
        };
        CHECK(verify("manifest.yaml") == 0);
        CHECK(verify("bad.yaml") != 0);
    }
    SUBCASE("openssl pkeyutl -verify -rawin accepts our signature") {
        if (!have_program("openssl")) {
            MESSAGE("skipped: openssl is not installed");
            return;
        }
        auto der = std::vector<std::uint8_t>{0x30, 0x2a, 0x30, 0x05, 0x06, 0x03,
                                             0x2b, 0x65, 0x70, 0x03, 0x21, 0x00};
        const auto public_key = key.public_key();
        der.insert(der.end(), public_key.key.begin(), public_key.key.end());
        write_file(dir / "alice.pem", "-----BEGIN PUBLIC KEY-----\n" + encode_base64(der) +
                                          "\n-----END PUBLIC KEY-----\n");
        write_file(dir / "sig.bin", std::string(signature.sig.begin(), signature.sig.end()));
        const auto verify = [&](const std::string& file) {
            return run("openssl pkeyutl -verify -pubin -inkey " + shell_quoted(dir / "alice.pem") +
                       " -rawin -in " + shell_quoted(dir / file) + " -sigfile " +
                       shell_quoted(dir / "sig.bin"));
        };
        CHECK(verify("manifest.yaml") == 0);
        CHECK(verify("bad.yaml") != 0);
    }
    SUBCASE("we read minisign's keys and legacy signatures") {
        if (!have_program("minisign")) {
            MESSAGE("skipped: minisign is not installed");
            return;
        }
        const auto pub = dir / "m.pub";
        const auto sec = dir / "m.key";
        REQUIRE(run("minisign -G -W -p " + shell_quoted(pub) + " -s " + shell_quoted(sec) +
                    " </dev/null") == 0);
        const auto minisign_key = read_public_key_file(pub);
        // minisign prints the key id in its comment: the convention key_id_hex follows, except
        // that minisign drops leading zeros and Ferry always writes 16 digits.
        std::string printed = key_id_hex(minisign_key.id);
        printed.erase(0, std::min(printed.find_first_not_of('0'), printed.size() - 1));
        CHECK(read_file(pub).starts_with("untrusted comment: minisign public key " + printed + "\n"));
        const auto sign = [&](const std::string& flags, const std::string& out) {
            REQUIRE(run("minisign -S " + flags + " -s " + shell_quoted(sec) + " -m " +
                        shell_quoted(dir / "manifest.yaml") + " -x " + shell_quoted(dir / out) +
                        " -t " + shell_quoted(k_trusted) + " </dev/null") == 0);
            return read_file(dir / out);
        };
        const auto legacy = parse_signature(sign("-l", "legacy.minisig"), "legacy.minisig");
        CHECK(legacy.id == minisign_key.id);
        CHECK(legacy.trusted_comment == k_trusted);
        CHECK(verify_signature(minisign_key, legacy, message));
        REQUIRE_THROWS_WITH_AS((void)parse_signature(sign("", "hashed.minisig"), "hashed.minisig"),
                               "hashed.minisig:2: prehashed signature (algorithm \"ED\"); Ferry "
                               "signatures use the legacy \"Ed\" algorithm (minisign -S -l)",
                               Error);
    }
}

TEST_CASE("keys::check_new_passphrase counts characters, not bytes") {
    CHECK_NOTHROW(check_new_passphrase("twelve chars", "given"));
    CHECK_NOTHROW(check_new_passphrase("ééééééééééé1", "given")); // 12 characters, 23 bytes
    REQUIRE_THROWS_WITH_AS(check_new_passphrase("éééééééééé1", "given"),
                           "the passphrase given is too short (11 characters; a new key needs at least 12)",
                           Error);
}

TEST_CASE("keys::read_passphrase_file") {
    TempDir dir;
    const auto file = dir / "k.pass";
    const auto write = [&](const std::string& text, ::mode_t mode) {
        write_file(file, text);
        std::filesystem::permissions(file, static_cast<std::filesystem::perms>(mode));
    };
    write("first line\r\nsecond line\n", 0600);
    CHECK(read_passphrase_file(file) == "first line");
    write("no line end", 0400);
    CHECK(read_passphrase_file(file) == "no line end");
    write("\nsecond line\n", 0600);
    REQUIRE_THROWS_WITH_AS((void)read_passphrase_file(file),
                           ("passphrase file " + file.string() + ": empty (the passphrase is its first line)").c_str(),
                           Error);
    write("secret\n", 0660);
    REQUIRE_THROWS_WITH_AS((void)read_passphrase_file(file),
                           ("passphrase file " + file.string() + ": readable or writable by others (mode 0660)").c_str(),
                           Error);
    REQUIRE_THROWS_AS((void)read_passphrase_file(dir / "absent"), Error);
}
