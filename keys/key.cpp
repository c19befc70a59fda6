#include "keys/key.hpp"

#include "core/error.hpp"

#include <sodium.h>

#include <algorithm>

namespace ferry::keys {

namespace {

constexpr std::array<std::uint8_t, 2> k_algorithm_ed = {'E', 'd'};
constexpr std::size_t k_public_key_blob_size =
    k_algorithm_ed.size() + k_key_id_size + k_public_key_size;
constexpr std::string_view k_hex_digits = "0123456789ABCDEF";

} // namespace

std::string key_id_hex(const KeyId& id) {
    std::string text;
    text.reserve(2 * id.size());
    // Little-endian: the last byte is the most significant, so it is printed first.
    for (auto it = id.rbegin(); it != id.rend(); ++it) {
        text += k_hex_digits[*it >> 4];
        text += k_hex_digits[*it & 0x0f];
    }
    return text;
}

std::optional<KeyId> parse_key_id_hex(std::string_view text) {
    if (text.size() != 2 * k_key_id_size) {
        return std::nullopt;
    }
    KeyId id{};
    for (std::size_t i = 0; i < text.size(); ++i) {
        const auto digit = k_hex_digits.find(text[i]);
        if (digit == std::string_view::npos) {
            return std::nullopt;
        }
        const std::size_t byte = k_key_id_size - 1 - i / 2;
        id[byte] = static_cast<std::uint8_t>(id[byte] << 4 | digit);
    }
    return id;
}

std::string public_key_base64(const PublicKey& key) {
    std::array<std::uint8_t, k_public_key_blob_size> blob{};
    auto out = std::copy(k_algorithm_ed.begin(), k_algorithm_ed.end(), blob.begin());
    out = std::copy(key.id.begin(), key.id.end(), out);
    std::copy(key.key.begin(), key.key.end(), out);
    return encode_base64(blob);
}

PublicKey parse_public_key_base64(std::string_view text, const std::string& where) {
    const auto blob = decode_base64(text);
    if (!blob) {
        throw Error(ErrorKind::input, where + ": not a minisign public key (invalid base64)");
    }
    if (blob->size() != k_public_key_blob_size) {
        throw Error(ErrorKind::input, where + ": not a minisign public key (expected " +
                                          std::to_string(k_public_key_blob_size) + " bytes, got " +
                                          std::to_string(blob->size()) + ")");
    }
    if (!std::equal(k_algorithm_ed.begin(), k_algorithm_ed.end(), blob->begin())) {
        throw Error(ErrorKind::input,
                    where + ": not a minisign public key (expected algorithm \"Ed\")");
    }
    PublicKey key;
    const auto id_begin = blob->begin() + k_algorithm_ed.size();
    std::copy(id_begin, id_begin + k_key_id_size, key.id.begin());
    std::copy(id_begin + k_key_id_size, blob->end(), key.key.begin());
    return key;
}

SecretKey::SecretKey(const KeyId& id, std::span<const std::uint8_t, k_secret_key_size> secret)
    : m_id(id), m_secret(k_secret_key_size) {
    std::copy(secret.begin(), secret.end(), m_secret.span().begin());
    m_secret.make_readonly();
}

PublicKey SecretKey::public_key() const {
    PublicKey key;
    key.id = m_id;
    // libsodium's secret key ends with the public key.
    crypto_sign_ed25519_sk_to_pk(key.key.data(), m_secret.span().data());
    return key;
}

std::span<const std::uint8_t, k_secret_key_size> SecretKey::secret() const {
    return m_secret.span().first<k_secret_key_size>();
}

bool SecretKey::is_consistent() const {
    SecureBuffer seed(crypto_sign_SEEDBYTES);
    SecureBuffer derived(crypto_sign_SECRETKEYBYTES);
    std::array<std::uint8_t, k_public_key_size> public_half{};
    crypto_sign_ed25519_sk_to_seed(seed.span().data(), m_secret.span().data());
    if (crypto_sign_seed_keypair(public_half.data(), derived.span().data(), seed.span().data()) !=
        0) {
        return false;
    }
    return sodium_memcmp(derived.span().data(), m_secret.span().data(), k_secret_key_size) == 0;
}

std::array<std::uint8_t, k_signature_size>
SecretKey::sign_detached(std::span<const std::uint8_t> message) const {
    std::array<std::uint8_t, k_signature_size> signature{};
    if (crypto_sign_detached(signature.data(), nullptr, message.data(), message.size(),
                             m_secret.span().data()) != 0) {
        throw Error(ErrorKind::internal, "Ed25519 signing failed");
    }
    return signature;
}

SecretKey generate_secret_key() {
    ensure_sodium();
    KeyId id{};
    randombytes_buf(id.data(), id.size());
    std::array<std::uint8_t, k_public_key_size> public_half{};
    SecureBuffer secret(k_secret_key_size);
    if (crypto_sign_keypair(public_half.data(), secret.span().data()) != 0) {
        throw Error(ErrorKind::internal, "Ed25519 key generation failed");
    }
    return SecretKey(id, secret.span().first<k_secret_key_size>());
}

} // namespace ferry::keys
