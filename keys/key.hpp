#pragma once

// Ed25519 keys as minisign names them: an 8-byte key id beside each key.

#include "keys/sodium.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace ferry::keys {

inline constexpr std::size_t k_key_id_size = 8;
inline constexpr std::size_t k_public_key_size = 32;
inline constexpr std::size_t k_secret_key_size = 64;
inline constexpr std::size_t k_signature_size = 64;

// The 8 random bytes that name a key, in the order they are stored in files.
using KeyId = std::array<std::uint8_t, k_key_id_size>;

// The 16 upper-case hex digits of ID read as a little-endian integer, as minisign prints it.
[[nodiscard]] std::string key_id_hex(const KeyId& id);

// The key id written as exactly 16 upper-case hex digits, or nothing if TEXT is not that.
[[nodiscard]] std::optional<KeyId> parse_key_id_hex(std::string_view text);

// A minisign (Ed25519) public key with its key id.
struct PublicKey {
    KeyId id{};
    std::array<std::uint8_t, k_public_key_size> key{};

    bool operator==(const PublicKey&) const = default;
};

// BASE64("Ed" || id || key): the second line of a minisign public key file.
[[nodiscard]] std::string public_key_base64(const PublicKey& key);

// Parses the second line of a minisign public key file; throws an input Error naming WHERE.
[[nodiscard]] PublicKey parse_public_key_base64(std::string_view text, const std::string& where);

// An Ed25519 secret key and its key id, kept in write-protected sodium_malloc memory.
class SecretKey {
public:
    // Copies SECRET (libsodium's 64-byte form: seed || public key) into protected memory.
    SecretKey(const KeyId& id, std::span<const std::uint8_t, k_secret_key_size> secret);
    SecretKey(SecretKey&&) noexcept = default;
    SecretKey& operator=(SecretKey&&) noexcept = default;
    SecretKey(const SecretKey&) = delete;
    SecretKey& operator=(const SecretKey&) = delete;
    ~SecretKey() = default;

    // The key id.
    [[nodiscard]] const KeyId& id() const { return m_id; }
    // The matching public key.
    [[nodiscard]] PublicKey public_key() const;
    // The 64 secret bytes, for writing the key file; copy them only into protected memory.
    [[nodiscard]] std::span<const std::uint8_t, k_secret_key_size> secret() const;
    // True when the public half stored in the secret matches the seed (the key is intact).
    [[nodiscard]] bool is_consistent() const;
    // The Ed25519 signature of MESSAGE (the whole message, not a hash of it).
    [[nodiscard]] std::array<std::uint8_t, k_signature_size>
    sign_detached(std::span<const std::uint8_t> message) const;

private:
    KeyId m_id;
    SecureBuffer m_secret;
};

// A new key pair with a random key id.
[[nodiscard]] SecretKey generate_secret_key();

} // namespace ferry::keys
