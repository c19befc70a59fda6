#include "keys/sodium.hpp"

#include "core/error.hpp"

#include <sodium.h>

#include <algorithm>

#include <utility>

namespace ferry::keys {

void ensure_sodium() {
    static const bool initialised = sodium_init() >= 0;
    if (!initialised) {
        throw Error(ErrorKind::internal, "libsodium could not be initialised");
    }
}

SecureBuffer::SecureBuffer(std::size_t size) : m_size(size) {
    ensure_sodium();
    // sodium_malloc(0) may return nullptr; one byte keeps the empty buffer valid.
    m_data = static_cast<std::uint8_t*>(sodium_malloc(size == 0 ? 1 : size));
    if (m_data == nullptr) {
        throw Error(ErrorKind::internal, "cannot allocate protected memory for a secret");
    }
    sodium_memzero(m_data, m_size);
}

SecureBuffer::SecureBuffer(SecureBuffer&& other) noexcept
    : m_data(std::exchange(other.m_data, nullptr)), m_size(std::exchange(other.m_size, 0)) {}

SecureBuffer& SecureBuffer::operator=(SecureBuffer&& other) noexcept {
    if (this != &other) {
        sodium_free(m_data);
        m_data = std::exchange(other.m_data, nullptr);
        m_size = std::exchange(other.m_size, 0);
    }
    return *this;
}

SecureBuffer::~SecureBuffer() {
    // sodium_free makes the memory writable again, wipes it and releases the guard pages.
    sodium_free(m_data);
}

void SecureBuffer::make_readonly() {
    if (m_data != nullptr && sodium_mprotect_readonly(m_data) != 0) {
        throw Error(ErrorKind::internal, "cannot write-protect the memory of a secret");
    }
}

std::string encode_base64(std::span<const std::uint8_t> bytes) {
    ensure_sodium();
    std::string text(sodium_base64_ENCODED_LEN(bytes.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
    sodium_bin2base64(text.data(), text.size(), bytes.data(), bytes.size(),
                      sodium_base64_VARIANT_ORIGINAL);
    text.resize(text.size() - 1); // the terminating NUL
    return text;
}

std::optional<std::size_t> decode_base64_into(std::string_view text, std::span<std::uint8_t> out) {
    ensure_sodium();
    if (out.size() < text.size()) {
        throw Error(ErrorKind::internal, "decode_base64_into: output buffer too small");
    }
    // libsodium 1.0.18 reads some bytes above 0x7f as base64 digits, and wants a non-null
    // pointer even for no input: accept only the base64 alphabet, and no empty text.
    const bool alphabet = std::all_of(text.begin(), text.end(), [](char c) {
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/' ||
               c == '=';
    });
    if (text.empty() || !alphabet) {
        return std::nullopt;
    }
    std::size_t length = 0;
    // No characters ignored and no end pointer: anything but canonical base64 is an error.
    if (sodium_base642bin(out.data(), out.size(), text.data(), text.size(), nullptr, &length,
                          nullptr, sodium_base64_VARIANT_ORIGINAL) != 0) {
        return std::nullopt;
    }
    // Non-canonical encodings (stray bits in the last digit) would not format back the same.
    if (encode_base64(out.first(length)) != text) {
        return std::nullopt;
    }
    return length;
}

std::optional<std::vector<std::uint8_t>> decode_base64(std::string_view text) {
    std::vector<std::uint8_t> bytes(text.size());
    const auto length = decode_base64_into(text, bytes);
    if (!length) {
        return std::nullopt;
    }
    bytes.resize(*length);
    return bytes;
}

} // namespace ferry::keys
