#pragma once

// libsodium plumbing shared by the key code: initialisation, guarded memory, base64.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace ferry::keys {

// Initialises libsodium once per process; throws an internal Error if it cannot.
void ensure_sodium();

// Bytes in sodium_malloc memory (guard pages, locked, wiped when freed), for secrets.
class SecureBuffer {
public:
    // Allocates SIZE zeroed bytes; throws an internal Error if that fails.
    explicit SecureBuffer(std::size_t size);
    SecureBuffer(SecureBuffer&& other) noexcept;
    SecureBuffer& operator=(SecureBuffer&& other) noexcept;
    SecureBuffer(const SecureBuffer&) = delete;
    SecureBuffer& operator=(const SecureBuffer&) = delete;
    ~SecureBuffer();

    // The bytes, writable until make_readonly().
    [[nodiscard]] std::span<std::uint8_t> span() { return {m_data, m_size}; }
    // The bytes, read-only.
    [[nodiscard]] std::span<const std::uint8_t> span() const { return {m_data, m_size}; }
    // Write-protects the memory, so a stray write crashes instead of corrupting a secret.
    void make_readonly();

private:
    std::uint8_t* m_data = nullptr;
    std::size_t m_size = 0;
};

// Base64 (original alphabet, padded) of BYTES, as minisign writes it.
[[nodiscard]] std::string encode_base64(std::span<const std::uint8_t> bytes);

// Decodes strict padded base64 TEXT into OUT, which must hold at least TEXT.size() bytes;
// returns the decoded length, or nothing if TEXT is not canonical base64.
[[nodiscard]] std::optional<std::size_t> decode_base64_into(std::string_view text,
                                                            std::span<std::uint8_t> out);

// Decodes strict padded base64 TEXT; nothing if it is not canonical base64.
[[nodiscard]] std::optional<std::vector<std::uint8_t>> decode_base64(std::string_view text);

} // namespace ferry::keys
