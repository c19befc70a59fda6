#pragma once

// minisign signatures with the legacy "Ed" algorithm: Ed25519 over the raw message.

#include "keys/key.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace ferry::keys {

// The largest signature file accepted, and the longest comment in one.
inline constexpr std::size_t k_max_signature_file_size = 4096;
inline constexpr std::size_t k_max_comment_size = 1024;

// The content of a minisign signature file.
struct Signature {
    std::string untrusted_comment;
    KeyId id{};
    std::array<std::uint8_t, k_signature_size> sig{};
    std::string trusted_comment;
    // Ed25519(sig || trusted_comment): binds the trusted comment to the signature.
    std::array<std::uint8_t, k_signature_size> global_sig{};

    bool operator==(const Signature&) const = default;
};

// Signs MESSAGE with KEY and the comments as minisign -S -l does, and checks the result;
// throws an input Error if a comment holds a line break or NUL or is too long.
[[nodiscard]] Signature sign_message(const SecretKey& key, std::span<const std::uint8_t> message,
                                     std::string trusted_comment, std::string untrusted_comment);

// The four lines of a minisign signature file, each ending in a newline.
[[nodiscard]] std::string format_signature(const Signature& signature);

// Parses a signature file strictly (exactly the layout format_signature writes, algorithm
// "Ed"); throws an input Error naming WHERE and the line.
[[nodiscard]] Signature parse_signature(std::string_view text, const std::string& where);

// True when both the signature of MESSAGE and the global signature verify under KEY; the
// caller checks that the key ids agree.
[[nodiscard]] bool verify_signature(const PublicKey& key, const Signature& signature,
                                    std::span<const std::uint8_t> message);

} // namespace ferry::keys
