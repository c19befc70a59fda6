#pragma once

// Asking for the passphrase of a secret key.

#include <filesystem>
#include <string>
#include <string_view>

namespace ferry::keys {

// The environment variable that, when set, supplies the passphrase without asking.
inline constexpr const char* k_passphrase_env = "FERRY_PASSPHRASE";

// The passphrase from FERRY_PASSPHRASE, or else read from /dev/tty without echo after
// PROMPT (twice when CONFIRM); throws a usage Error if there is no terminal or it is empty,
// and an input Error if the two entries differ.
[[nodiscard]] std::string read_passphrase(std::string_view prompt, bool confirm);

// The shortest passphrase accepted for a new key, in characters (UTF-8 code points).
inline constexpr std::size_t k_min_new_passphrase_chars = 12;

// Throws a usage Error, naming SOURCE (where the passphrase came from), if PASSPHRASE is
// shorter than k_min_new_passphrase_chars.
void check_new_passphrase(std::string_view passphrase, std::string_view source);

// A passphrase for a new key: read_passphrase(PROMPT, true), then check_new_passphrase.
[[nodiscard]] std::string read_new_passphrase(std::string_view prompt);

// The passphrase held in FILE: its first line, without the line end. The file must be a
// regular file owned by the user running us and readable by no one else (mode 0600 or
// 0400); otherwise, or if it is empty, throws a usage Error naming FILE.
[[nodiscard]] std::string read_passphrase_file(const std::filesystem::path& file);

// Names FILE as the passphrase source of the secret key KEY for the rest of the process
// (--passphrase-file KEY=FILE). FILE is checked now (see read_passphrase_file); throws a
// usage Error if KEY already has one.
void set_passphrase_file(const std::filesystem::path& key, const std::filesystem::path& file);

// The passphrase of the secret key file KEY: from its passphrase file if it has one, else
// read_passphrase("passphrase for KEY: ", false).
[[nodiscard]] std::string passphrase_for_key(const std::filesystem::path& key);

} // namespace ferry::keys
