#pragma once

#include "core/handles.hpp"

#include <array>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>

namespace ferry {

using Digest = std::array<std::uint8_t, 32>;

// An incremental SHA-256 (OpenSSL EVP).
class Sha256 {
public:
    Sha256();
    void update(const void* data, std::size_t size);
    void update(std::string_view data) { update(data.data(), data.size()); }
    // Returns the digest; the object must not be updated afterwards.
    [[nodiscard]] Digest finish();

private:
    EvpMdCtxPtr m_ctx;
};

// SHA-256 of a byte string.
[[nodiscard]] Digest sha256(std::string_view data);

// SHA-256 of a file's content, read in blocks.
[[nodiscard]] Digest sha256_file(const std::filesystem::path& path);

// Lower-case hex of any bytes.
[[nodiscard]] std::string to_hex(std::span<const std::uint8_t> bytes);

// Parses 64 lower-case hex digits; returns false if TEXT is anything else.
[[nodiscard]] bool parse_digest_hex(std::string_view text, Digest& out);

} // namespace ferry
