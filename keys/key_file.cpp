#include "keys/key_file.hpp"

#include "core/error.hpp"
#include "core/handles.hpp"

#include <sodium.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <utility>

namespace ferry::keys {

namespace {

constexpr std::size_t k_max_key_file_size = 4096;
constexpr std::string_view k_comment_prefix = "untrusted comment: ";

// Secret key file layout: "FSK1" || kdf || opslimit || memlimit || salt || nonce || box.
constexpr std::string_view k_secret_magic = "FSK1";
constexpr std::uint8_t k_kdf_none = 0;
constexpr std::uint8_t k_kdf_argon2id = 1;
constexpr std::size_t k_kdf_offset = k_secret_magic.size();
constexpr std::size_t k_opslimit_offset = k_kdf_offset + 1;
constexpr std::size_t k_memlimit_offset = k_opslimit_offset + 8;
constexpr std::size_t k_salt_offset = k_memlimit_offset + 8;
constexpr std::size_t k_nonce_offset = k_salt_offset + crypto_pwhash_SALTBYTES;
constexpr std::size_t k_box_offset = k_nonce_offset + crypto_secretbox_NONCEBYTES;
constexpr std::size_t k_plain_size = k_key_id_size + k_secret_key_size;
constexpr std::size_t k_box_size = crypto_secretbox_MACBYTES + k_plain_size;
static_assert(k_argon2_opslimit == crypto_pwhash_OPSLIMIT_MODERATE);

// minisign's secret key layout (minisign.h, SeckeyStruct): sig_alg "Ed" || kdf_alg ("Sc" for
// scrypt, two zero bytes when unencrypted) || chk_alg "B2" || kdf_salt || opslimit (u64 LE) ||
// memlimit (u64 LE) || key id || secret key || checksum, the last three XORed with the scrypt
// output when encrypted; checksum = BLAKE2b-256(sig_alg || key id || secret key).
constexpr std::size_t k_mini_kdf_offset = 2;
constexpr std::size_t k_mini_chk_alg_offset = 4;
constexpr std::size_t k_mini_salt_offset = 6;
constexpr std::size_t k_mini_opslimit_offset =
    k_mini_salt_offset + crypto_pwhash_scryptsalsa208sha256_SALTBYTES;
constexpr std::size_t k_mini_memlimit_offset = k_mini_opslimit_offset + 8;
constexpr std::size_t k_mini_keynum_offset = k_mini_memlimit_offset + 8;
constexpr std::size_t k_mini_checksum_size = crypto_generichash_BYTES;
constexpr std::size_t k_mini_keynum_size = k_key_id_size + k_secret_key_size + k_mini_checksum_size;
constexpr std::size_t k_mini_size = k_mini_keynum_offset + k_mini_keynum_size;
static_assert(k_mini_size == 158);
static_assert(k_scrypt_max_opslimit == crypto_pwhash_scryptsalsa208sha256_OPSLIMIT_SENSITIVE);
static_assert(k_scrypt_max_memlimit == crypto_pwhash_scryptsalsa208sha256_MEMLIMIT_SENSITIVE);

[[noreturn]] void fail(const std::string& where, const std::string& problem,
                       std::string hint = {}) {
    throw Error(ErrorKind::input, where + ": " + problem, std::move(hint));
}

// The comment line and the data line of a two-line key file; tolerates CRLF and a
// missing final newline, nothing else.
std::pair<std::string_view, std::string_view>
split_key_file(std::string_view text, const std::string& where, const std::string& what) {
    if (text.find('\0') != std::string_view::npos) {
        fail(where, "not a " + what + " file (contains a NUL byte)");
    }
    if (text.ends_with('\n')) {
        text.remove_suffix(1);
    }
    const auto newline = text.find('\n');
    if (newline == std::string_view::npos || text.find('\n', newline + 1) != text.npos) {
        fail(where, "not a " + what + " file (expected 2 lines: a comment, then the key)");
    }
    auto comment = text.substr(0, newline);
    auto data = text.substr(newline + 1);
    for (auto* line : {&comment, &data}) {
        if (line->ends_with('\r')) {
            line->remove_suffix(1);
        }
    }
    if (!comment.starts_with(k_comment_prefix)) {
        fail(where + ":1", "expected \"untrusted comment: \"");
    }
    return {comment, data};
}

void check_name(std::string_view name) {
    if (std::any_of(name.begin(), name.end(), [](const char c) {
            return static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
        })) {
        throw Error(ErrorKind::usage,
                    "key name \"" + std::string(name) + "\": control characters are not allowed");
    }
}

void store_le64(std::span<std::uint8_t> out, std::uint64_t value) {
    for (std::size_t i = 0; i < 8; ++i) {
        out[i] = static_cast<std::uint8_t>(value >> (8 * i));
    }
}

std::uint64_t load_le64(std::span<const std::uint8_t> in) {
    std::uint64_t value = 0;
    for (std::size_t i = 0; i < 8; ++i) {
        value |= std::uint64_t{in[i]} << (8 * i);
    }
    return value;
}

std::string read_key_file(const std::filesystem::path& path) {
    const std::string where = path.string();
    Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
    if (!fd.valid()) {
        fail(where, std::string("cannot open: ") + std::strerror(errno));
    }
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) {
        throw_errno(where);
    }
    if (!S_ISREG(st.st_mode)) {
        fail(where, "not a regular file");
    }
    std::string text(k_max_key_file_size + 1, '\0');
    std::size_t length = 0;
    while (length < text.size()) {
        const auto got = ::read(fd.get(), text.data() + length, text.size() - length);
        if (got < 0 && errno == EINTR) {
            continue;
        }
        if (got < 0) {
            throw_errno(where);
        }
        if (got == 0) {
            break;
        }
        length += static_cast<std::size_t>(got);
    }
    if (length > k_max_key_file_size) {
        fail(where, "too large for a key file (more than " + std::to_string(k_max_key_file_size) +
                        " bytes)");
    }
    text.resize(length);
    return text;
}

// Derives the secretbox key from PASSPHRASE, wiping the passphrase afterwards.
SecureBuffer derive_box_key(std::string passphrase, std::span<const std::uint8_t> salt,
                            std::uint64_t opslimit, std::uint64_t memlimit,
                            const std::string& where) {
    SecureBuffer box_key(crypto_secretbox_KEYBYTES);
    const int result = crypto_pwhash(
        box_key.span().data(), box_key.span().size(), passphrase.data(), passphrase.size(),
        salt.data(), opslimit, static_cast<std::size_t>(memlimit), crypto_pwhash_ALG_ARGON2ID13);
    sodium_memzero(passphrase.data(), passphrase.size());
    if (result != 0) {
        throw Error(ErrorKind::internal,
                    where + ": Argon2id key derivation failed (out of memory? it needs " +
                        std::to_string(memlimit >> 20) + " MiB)");
    }
    return box_key;
}

void check_work_factors(std::uint64_t opslimit, std::uint64_t memlimit, const std::string& where) {
    if (opslimit < crypto_pwhash_argon2id_OPSLIMIT_MIN || opslimit > k_argon2_max_opslimit) {
        fail(where, "unreasonable Argon2id opslimit " + std::to_string(opslimit) + " (expected " +
                        std::to_string(crypto_pwhash_argon2id_OPSLIMIT_MIN) + " to " +
                        std::to_string(k_argon2_max_opslimit) + ")");
    }
    if (memlimit < crypto_pwhash_argon2id_MEMLIMIT_MIN || memlimit > k_argon2_max_memlimit) {
        fail(where, "unreasonable Argon2id memlimit " + std::to_string(memlimit) +
                        " bytes (expected " + std::to_string(crypto_pwhash_argon2id_MEMLIMIT_MIN) +
                        " to " + std::to_string(k_argon2_max_memlimit) + ")");
    }
}

// The key of a minisign secret key file (BYTES, decoded from base64): decrypted with the
// passphrase from ASK_PASSPHRASE when its kdf is scrypt, its checksum checked.
SecretKey decode_minisign_secret_key(std::span<const std::uint8_t> bytes, const std::string& where,
                                     const std::function<std::string()>& ask_passphrase) {
    if (bytes.size() != k_mini_size) {
        fail(where, std::string(bytes.size() < k_mini_size ? "truncated" : "trailing data in a") +
                        " minisign secret key (expected " + std::to_string(k_mini_size) + " bytes, got " +
                        std::to_string(bytes.size()) + ")");
    }
    const auto kdf = bytes.subspan(k_mini_kdf_offset, 2);
    const bool scrypt = kdf[0] == 'S' && kdf[1] == 'c';
    if (!scrypt && !(kdf[0] == 0 && kdf[1] == 0)) {
        fail(where, "minisign secret key with an unknown key derivation (expected \"Sc\" for scrypt or none)");
    }
    if (bytes[k_mini_chk_alg_offset] != 'B' || bytes[k_mini_chk_alg_offset + 1] != '2') {
        fail(where, "minisign secret key with an unknown checksum function (expected \"B2\", BLAKE2b)");
    }
    SecureBuffer keynum(k_mini_keynum_size);
    std::copy_n(bytes.begin() + k_mini_keynum_offset, k_mini_keynum_size, keynum.span().begin());
    if (scrypt) {
        const auto opslimit = load_le64(bytes.subspan(k_mini_opslimit_offset));
        const auto memlimit = load_le64(bytes.subspan(k_mini_memlimit_offset));
        if (opslimit < crypto_pwhash_scryptsalsa208sha256_OPSLIMIT_MIN || opslimit > k_scrypt_max_opslimit) {
            fail(where, "unreasonable scrypt opslimit " + std::to_string(opslimit) + " (expected " +
                            std::to_string(crypto_pwhash_scryptsalsa208sha256_OPSLIMIT_MIN) + " to " +
                            std::to_string(k_scrypt_max_opslimit) + ")");
        }
        if (memlimit < crypto_pwhash_scryptsalsa208sha256_MEMLIMIT_MIN || memlimit > k_scrypt_max_memlimit) {
            fail(where, "unreasonable scrypt memlimit " + std::to_string(memlimit) + " bytes (expected " +
                            std::to_string(crypto_pwhash_scryptsalsa208sha256_MEMLIMIT_MIN) + " to " +
                            std::to_string(k_scrypt_max_memlimit) + ")");
        }
        if (!ask_passphrase) {
            throw Error(ErrorKind::internal, where + ": encrypted, and no way to ask a passphrase");
        }
        std::string passphrase = ask_passphrase();
        SecureBuffer stream(k_mini_keynum_size);
        const int result = crypto_pwhash_scryptsalsa208sha256(
            stream.span().data(), stream.span().size(), passphrase.data(), passphrase.size(),
            bytes.data() + k_mini_salt_offset, opslimit, static_cast<std::size_t>(memlimit));
        sodium_memzero(passphrase.data(), passphrase.size());
        if (result != 0) {
            throw Error(ErrorKind::internal, where + ": scrypt key derivation failed (out of memory? it needs " +
                                                 std::to_string(memlimit >> 20) + " MiB)");
        }
        for (std::size_t i = 0; i < k_mini_keynum_size; ++i) {
            keynum.span()[i] ^= stream.span()[i];
        }
    }
    const auto id_bytes = std::as_const(keynum).span().first(k_key_id_size);
    const auto secret = std::as_const(keynum).span().subspan<k_key_id_size, k_secret_key_size>();
    const auto stored = std::as_const(keynum).span().last(k_mini_checksum_size);
    std::array<std::uint8_t, k_mini_checksum_size> computed{};
    crypto_generichash_state state;
    crypto_generichash_init(&state, nullptr, 0, computed.size());
    crypto_generichash_update(&state, bytes.data(), 2); // sig_alg
    crypto_generichash_update(&state, id_bytes.data(), id_bytes.size());
    crypto_generichash_update(&state, secret.data(), secret.size());
    crypto_generichash_final(&state, computed.data(), computed.size());
    sodium_memzero(&state, sizeof state);
    // minisign -G -W leaves the checksum of an unencrypted key zero; any other must match.
    const bool unchecked = !scrypt && std::all_of(stored.begin(), stored.end(), [](auto b) { return b == 0; });
    const bool matches = sodium_memcmp(computed.data(), stored.data(), computed.size()) == 0;
    sodium_memzero(computed.data(), computed.size());
    if (!unchecked && !matches) {
        fail(where, scrypt ? "wrong passphrase for this minisign secret key (or the key file is damaged)"
                           : "the minisign secret key is damaged (its checksum does not match)");
    }
    KeyId id{};
    std::copy(id_bytes.begin(), id_bytes.end(), id.begin());
    SecretKey key(id, secret);
    if (!key.is_consistent()) {
        fail(where, "the secret key is damaged (its public half does not match)");
    }
    return key;
}

} // namespace

std::string format_public_key_file(const PublicKey& key, std::string_view name) {
    check_name(name);
    std::string text = std::string(k_comment_prefix) + "minisign public key " + key_id_hex(key.id);
    if (!name.empty()) {
        text += " (ferry key " + std::string(name) + ")";
    }
    return text + "\n" + public_key_base64(key) + "\n";
}

PublicKey parse_public_key_file(std::string_view text, const std::string& where) {
    const auto [comment, data] = split_key_file(text, where, "minisign public key");
    return parse_public_key_base64(data, where);
}

PublicKey read_public_key_file(const std::filesystem::path& path) {
    return parse_public_key_file(read_key_file(path), path.string());
}

std::string encode_secret_key_file(const SecretKey& key, std::string_view name,
                                   const std::string* passphrase) {
    check_name(name);
    if (passphrase != nullptr && passphrase->empty()) {
        throw Error(ErrorKind::usage, "empty passphrase refused");
    }
    const bool encrypted = passphrase != nullptr;
    SecureBuffer blob(k_box_offset + (encrypted ? k_box_size : k_plain_size));
    const auto out = blob.span();
    std::copy(k_secret_magic.begin(), k_secret_magic.end(), out.begin());

    SecureBuffer plain(k_plain_size);
    std::copy(key.id().begin(), key.id().end(), plain.span().begin());
    std::copy(key.secret().begin(), key.secret().end(), plain.span().begin() + k_key_id_size);

    if (!encrypted) {
        out[k_kdf_offset] = k_kdf_none; // work factors, salt and nonce stay zero
        std::copy(plain.span().begin(), plain.span().end(), out.begin() + k_box_offset);
    } else {
        out[k_kdf_offset] = k_kdf_argon2id;
        store_le64(out.subspan(k_opslimit_offset), k_argon2_opslimit);
        store_le64(out.subspan(k_memlimit_offset), k_argon2_memlimit);
        randombytes_buf(out.data() + k_salt_offset, crypto_pwhash_SALTBYTES);
        randombytes_buf(out.data() + k_nonce_offset, crypto_secretbox_NONCEBYTES);
        const auto box_key =
            derive_box_key(*passphrase, out.subspan(k_salt_offset, crypto_pwhash_SALTBYTES),
                           k_argon2_opslimit, k_argon2_memlimit, "new secret key");
        crypto_secretbox_easy(out.data() + k_box_offset, plain.span().data(), k_plain_size,
                              out.data() + k_nonce_offset, box_key.span().data());
    }

    std::string comment = std::string(k_comment_prefix) + "ferry secret key " + std::string(name) +
                          ", key id " + key_id_hex(key.id());
    comment += encrypted ? ", encrypted with a passphrase (Argon2id)"
                         : ", UNENCRYPTED - FOR TESTS ONLY, never sign a release with it";
    return comment + "\n" + encode_base64(blob.span()) + "\n";
}

SecretKey decode_secret_key_file(std::string_view text, const std::string& where,
                                 const std::function<std::string()>& ask_passphrase) {
    if (text.size() > k_max_key_file_size) {
        fail(where, "too large for a secret key file");
    }
    const auto [comment, data] = split_key_file(text, where, "secret key");
    SecureBuffer blob(data.size());
    const auto length = decode_base64_into(data, blob.span());
    if (!length) {
        fail(where + ":2", "invalid base64");
    }
    const auto bytes = std::as_const(blob).span().first(*length);
    if (bytes.size() < k_secret_magic.size() ||
        !std::equal(k_secret_magic.begin(), k_secret_magic.end(), bytes.begin())) {
        if (bytes.size() >= 2 && bytes[0] == 'E' && bytes[1] == 'd') {
            return decode_minisign_secret_key(bytes, where, ask_passphrase);
        }
        fail(where, "not a secret key (expected Ferry's magic \"FSK1\" or minisign's \"Ed\")");
    }
    if (bytes.size() < k_box_offset) {
        fail(where, "truncated secret key (" + std::to_string(bytes.size()) + " bytes)");
    }
    const std::uint8_t kdf = bytes[k_kdf_offset];
    if (kdf != k_kdf_none && kdf != k_kdf_argon2id) {
        fail(where, "unknown key derivation " + std::to_string(kdf) +
                        " (expected 0 for none or 1 for Argon2id)");
    }
    const std::size_t expected = k_box_offset + (kdf == k_kdf_none ? k_plain_size : k_box_size);
    if (bytes.size() != expected) {
        fail(where, std::string(bytes.size() < expected ? "truncated secret key"
                                                        : "trailing data after the secret key") +
                        " (expected " + std::to_string(expected) + " bytes, got " +
                        std::to_string(bytes.size()) + ")");
    }

    SecureBuffer plain(k_plain_size);
    if (kdf == k_kdf_none) {
        std::copy(bytes.begin() + k_box_offset, bytes.end(), plain.span().begin());
    } else {
        const auto opslimit = load_le64(bytes.subspan(k_opslimit_offset));
        const auto memlimit = load_le64(bytes.subspan(k_memlimit_offset));
        check_work_factors(opslimit, memlimit, where);
        if (!ask_passphrase) {
            throw Error(ErrorKind::internal, where + ": encrypted, and no way to ask a passphrase");
        }
        const auto box_key =
            derive_box_key(ask_passphrase(), bytes.subspan(k_salt_offset, crypto_pwhash_SALTBYTES),
                           opslimit, memlimit, where);
        if (crypto_secretbox_open_easy(plain.span().data(), bytes.data() + k_box_offset, k_box_size,
                                       bytes.data() + k_nonce_offset, box_key.span().data()) != 0) {
            fail(where, "wrong passphrase (or the key file is damaged)");
        }
    }

    KeyId id{};
    std::copy_n(plain.span().begin(), k_key_id_size, id.begin());
    SecretKey key(id, std::as_const(plain).span().subspan<k_key_id_size, k_secret_key_size>());
    if (!key.is_consistent()) {
        fail(where, "the secret key is damaged (its public half does not match)");
    }
    return key;
}

SecretKey load_secret_key(const std::filesystem::path& path,
                          const std::function<std::string()>& ask_passphrase) {
    return decode_secret_key_file(read_key_file(path), path.string(), ask_passphrase);
}

} // namespace ferry::keys
