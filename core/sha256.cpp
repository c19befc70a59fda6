#include "sha256.hpp"

#include "core/error.hpp"
#include "core/fs.hpp"

#include <vector>

namespace ferry {

Sha256::Sha256() : m_ctx(EVP_MD_CTX_new()) {
    if (!m_ctx || EVP_DigestInit_ex(m_ctx.get(), EVP_sha256(), nullptr) != 1) {
        throw Error(ErrorKind::internal, "cannot initialise SHA-256");
    }
}

void Sha256::update(const void* data, std::size_t size) {
    if (size > 0 && EVP_DigestUpdate(m_ctx.get(), data, size) != 1) {
        throw Error(ErrorKind::internal, "SHA-256 update failed");
    }
}

Digest Sha256::finish() {
    Digest out{};
    unsigned int len = 0;
    if (EVP_DigestFinal_ex(m_ctx.get(), out.data(), &len) != 1 || len != out.size()) {
        throw Error(ErrorKind::internal, "SHA-256 final failed");
    }
    return out;
}

Digest sha256(std::string_view data) {
    Sha256 h;
    h.update(data);
    return h.finish();
}

Digest sha256_file(const std::filesystem::path& path) {
    const Fd fd = open_regular_file(path);
    Sha256 h;
    std::vector<char> buf(1u << 20);
    for (;;) {
        const std::size_t n = read_full(fd.get(), buf.data(), buf.size(), path.string());
        if (n == 0) {
            return h.finish();
        }
        h.update(buf.data(), n);
    }
}

std::string to_hex(std::span<const std::uint8_t> bytes) {
    static constexpr char k_digits[] = "0123456789abcdef";
    std::string out;
    out.reserve(bytes.size() * 2);
    for (const std::uint8_t b : bytes) {
        out.push_back(k_digits[b >> 4]);
        out.push_back(k_digits[b & 0xf]);
    }
    return out;
}

bool parse_digest_hex(std::string_view text, Digest& out) {
    if (text.size() != 64) {
        return false;
    }
    auto nibble = [](char c) -> int {
        if (c >= '0' && c <= '9') {
            return c - '0';
        }
        if (c >= 'a' && c <= 'f') {
            return c - 'a' + 10;
        }
        return -1;
    };
    for (std::size_t i = 0; i < out.size(); ++i) {
        const int hi = nibble(text[2 * i]);
        const int lo = nibble(text[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            return false;
        }
        out[i] = static_cast<std::uint8_t>(hi << 4 | lo);
    }
    return true;
}

} // namespace ferry
