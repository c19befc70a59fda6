#pragma once

// Asking for the passphrase of a secret key.

#include <string>
#include <string_view>

namespace ferry::keys {

// The environment variable that, when set, supplies the passphrase without asking.
inline constexpr const char* k_passphrase_env = "FERRY_PASSPHRASE";

// The passphrase from FERRY_PASSPHRASE, or else read from /dev/tty without echo after
// PROMPT (twice when CONFIRM); throws a usage Error if there is no terminal or it is empty,
// and an input Error if the two entries differ.
[[nodiscard]] std::string read_passphrase(std::string_view prompt, bool confirm);

} // namespace ferry::keys
