#pragma once

// Key files: minisign public key files and Ferry's passphrase-protected secret key files.

#include "keys/key.hpp"

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>

namespace ferry::keys {

// Argon2id work factors written into new encrypted secret key files.
inline constexpr std::uint64_t k_argon2_opslimit = 3; // crypto_pwhash_OPSLIMIT_MODERATE
inline constexpr std::uint64_t k_argon2_memlimit = std::uint64_t{128} << 20;
// The largest work factors a secret key file may ask for, so a file cannot make us hang.
inline constexpr std::uint64_t k_argon2_max_opslimit = 32;
inline constexpr std::uint64_t k_argon2_max_memlimit = std::uint64_t{1} << 30;
// The largest scrypt work factors a minisign secret key file may ask for: minisign's own
// (crypto_pwhash_scryptsalsa208sha256_OPSLIMIT_SENSITIVE and _MEMLIMIT_SENSITIVE).
inline constexpr std::uint64_t k_scrypt_max_opslimit = std::uint64_t{1} << 25;
inline constexpr std::uint64_t k_scrypt_max_memlimit = std::uint64_t{1} << 30;

// A minisign public key file: "untrusted comment: minisign public key ID (ferry key NAME)"
// and the base64 line, each ending in a newline; minisign -V reads it.
[[nodiscard]] std::string format_public_key_file(const PublicKey& key, std::string_view name);

// Parses the text of a minisign public key file; throws an input Error naming WHERE.
[[nodiscard]] PublicKey parse_public_key_file(std::string_view text, const std::string& where);

// Reads and parses a minisign public key file; throws an input Error naming PATH.
[[nodiscard]] PublicKey read_public_key_file(const std::filesystem::path& path);

// The text of a secret key file for KEY named NAME, encrypted with PASSPHRASE, or
// unencrypted (for tests only, and the comment line says so) when PASSPHRASE is null.
[[nodiscard]] std::string encode_secret_key_file(const SecretKey& key, std::string_view name,
                                                 const std::string* passphrase);

// Parses the text of a secret key file, Ferry's own or one written by `minisign -G` (told
// apart by their first bytes), calling ASK_PASSPHRASE only if it is encrypted; throws an
// input Error naming WHERE if the file is invalid or the passphrase is wrong.
[[nodiscard]] SecretKey decode_secret_key_file(std::string_view text, const std::string& where,
                                               const std::function<std::string()>& ask_passphrase);

// Reads and decodes the secret key file at PATH (see decode_secret_key_file).
[[nodiscard]] SecretKey load_secret_key(const std::filesystem::path& path,
                                        const std::function<std::string()>& ask_passphrase);

} // namespace ferry::keys
