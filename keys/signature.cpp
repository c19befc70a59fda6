#include "keys/signature.hpp"

#include "core/error.hpp"

#include <sodium.h>

#include <algorithm>
#include <array>
#include <vector>

namespace ferry::keys {

namespace {

constexpr std::string_view k_untrusted_prefix = "untrusted comment: ";
constexpr std::string_view k_trusted_prefix = "trusted comment: ";
constexpr std::array<std::uint8_t, 2> k_algorithm_ed = {'E', 'd'};
constexpr std::array<std::uint8_t, 2> k_algorithm_prehashed = {'E', 'D'};
constexpr std::size_t k_signature_blob_size =
    k_algorithm_ed.size() + k_key_id_size + k_signature_size;
constexpr std::size_t k_line_count = 4;

[[noreturn]] void fail(const std::string& where, const std::string& problem) {
    throw Error(ErrorKind::input, where + ": " + problem);
}

// Throws unless COMMENT fits on one line of a signature file.
void check_comment(std::string_view comment, const std::string& where) {
    if (comment.size() > k_max_comment_size) {
        fail(where, "comment longer than " + std::to_string(k_max_comment_size) + " bytes");
    }
    if (comment.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos) {
        fail(where, "comment contains a line break or NUL byte");
    }
}

// The bytes the global signature covers: the signature, then the trusted comment.
std::vector<std::uint8_t> global_message(const std::array<std::uint8_t, k_signature_size>& sig,
                                         std::string_view trusted_comment) {
    std::vector<std::uint8_t> bytes(sig.begin(), sig.end());
    bytes.insert(bytes.end(), trusted_comment.begin(), trusted_comment.end());
    return bytes;
}

std::string_view comment_line(std::string_view line, std::string_view prefix,
                              const std::string& where) {
    if (!line.starts_with(prefix)) {
        fail(where, "expected \"" + std::string(prefix) + "\"");
    }
    const auto comment = line.substr(prefix.size());
    check_comment(comment, where);
    return comment;
}

template <std::size_t N>
std::array<std::uint8_t, N> base64_line(std::string_view line, const std::string& where,
                                        const std::string& what) {
    const auto bytes = decode_base64(line);
    if (!bytes) {
        fail(where, "invalid base64");
    }
    if (bytes->size() != N) {
        fail(where, "expected " + std::to_string(N) + " bytes of " + what + ", got " +
                        std::to_string(bytes->size()));
    }
    std::array<std::uint8_t, N> out{};
    std::copy(bytes->begin(), bytes->end(), out.begin());
    return out;
}

} // namespace

Signature sign_message(const SecretKey& key, std::span<const std::uint8_t> message,
                       std::string trusted_comment, std::string untrusted_comment) {
    check_comment(trusted_comment, "trusted comment");
    check_comment(untrusted_comment, "untrusted comment");
    Signature signature;
    signature.untrusted_comment = std::move(untrusted_comment);
    signature.trusted_comment = std::move(trusted_comment);
    signature.id = key.id();
    signature.sig = key.sign_detached(message);
    signature.global_sig =
        key.sign_detached(global_message(signature.sig, signature.trusted_comment));
    // As minisign does: check our own signature before anyone relies on it.
    if (!verify_signature(key.public_key(), signature, message)) {
        throw Error(ErrorKind::internal, "a signature just made does not verify");
    }
    return signature;
}

std::string format_signature(const Signature& signature) {
    std::array<std::uint8_t, k_signature_blob_size> blob{};
    auto out = std::copy(k_algorithm_ed.begin(), k_algorithm_ed.end(), blob.begin());
    out = std::copy(signature.id.begin(), signature.id.end(), out);
    std::copy(signature.sig.begin(), signature.sig.end(), out);
    std::string text;
    text += std::string(k_untrusted_prefix) + signature.untrusted_comment + "\n";
    text += encode_base64(blob) + "\n";
    text += std::string(k_trusted_prefix) + signature.trusted_comment + "\n";
    text += encode_base64(signature.global_sig) + "\n";
    return text;
}

Signature parse_signature(std::string_view text, const std::string& where) {
    if (text.size() > k_max_signature_file_size) {
        fail(where, "signature file too large (" + std::to_string(text.size()) +
                        " bytes, at most " + std::to_string(k_max_signature_file_size) + ")");
    }
    if (text.find('\0') != std::string_view::npos) {
        fail(where, "not a signature file (contains a NUL byte)");
    }
    if (!text.ends_with('\n')) {
        fail(where, "the last line does not end with a newline");
    }
    std::vector<std::string_view> lines;
    for (auto rest = text; !rest.empty();) {
        const auto newline = rest.find('\n');
        lines.push_back(rest.substr(0, newline));
        rest.remove_prefix(newline + 1);
    }
    if (lines.size() != k_line_count) {
        fail(where,
             "expected 4 lines in a minisign signature, got " + std::to_string(lines.size()));
    }
    const auto at = [&where](std::size_t line) { return where + ":" + std::to_string(line); };
    for (std::size_t i = 0; i < lines.size(); ++i) {
        if (lines[i].ends_with('\r')) {
            fail(at(i + 1), "carriage return at the end of the line (expected LF line endings)");
        }
    }

    Signature signature;
    signature.untrusted_comment = comment_line(lines[0], k_untrusted_prefix, at(1));
    const auto blob = base64_line<k_signature_blob_size>(lines[1], at(2), "signature data");
    if (std::equal(k_algorithm_prehashed.begin(), k_algorithm_prehashed.end(), blob.begin())) {
        fail(at(2), "prehashed signature (algorithm \"ED\"); Ferry signatures use the legacy "
                    "\"Ed\" algorithm (minisign -S -l)");
    }
    if (!std::equal(k_algorithm_ed.begin(), k_algorithm_ed.end(), blob.begin())) {
        fail(at(2), "unknown signature algorithm (expected \"Ed\")");
    }
    const auto id_begin = blob.begin() + k_algorithm_ed.size();
    std::copy(id_begin, id_begin + k_key_id_size, signature.id.begin());
    std::copy(id_begin + k_key_id_size, blob.end(), signature.sig.begin());
    signature.trusted_comment = comment_line(lines[2], k_trusted_prefix, at(3));
    signature.global_sig = base64_line<k_signature_size>(lines[3], at(4), "global signature");
    return signature;
}

bool verify_signature(const PublicKey& key, const Signature& signature,
                      std::span<const std::uint8_t> message) {
    ensure_sodium();
    if (crypto_sign_verify_detached(signature.sig.data(), message.data(), message.size(),
                                    key.key.data()) != 0) {
        return false;
    }
    const auto global = global_message(signature.sig, signature.trusted_comment);
    return crypto_sign_verify_detached(signature.global_sig.data(), global.data(), global.size(),
                                       key.key.data()) == 0;
}

} // namespace ferry::keys
