#pragma once

// The node's own key and its signed receipts: after each command that changed the node, a
// minisign-signed JSON statement of the audit chain's head, so a log cut short is noticed.

#include "applier/state/state.hpp"
#include "keys/key.hpp"

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace ferry::applier {

// The node's signing key in LAYOUT, made at first use: the secret key file (mode 0600) and the
// minisign public key file beside it. Refuses a secret key file that others may read.
[[nodiscard]] keys::SecretKey open_node_key(const StateLayout& layout);

// The node's public key, when it has made one.
[[nodiscard]] std::optional<keys::PublicKey> node_public_key(const StateLayout& layout);

// What a receipt states: the node, the time, the newest record (its action is the result) and
// the audit chain's head and record count at that moment.
struct Receipt {
    std::string node;     // the host name
    std::string node_key; // the id of the key that signed it
    std::string time;
    std::string result; // the newest record's action
    std::string bundle; // what the newest record names ("" when none)
    std::string version;
    std::string manifest_sha256;
    std::int64_t records = 0;   // the audit log's record count
    std::string head;           // the newest record's hash
    std::filesystem::path file; // where it was written or read
};

// Signs with KEY and writes the receipt of STATE's audit log as it is now (its newest record
// must exist); returns it.
Receipt write_receipt(StateDb& state, const keys::SecretKey& key);

// The receipts of LAYOUT, fewest records first, each checked against its signature by the
// node's key; throws a verification Error naming a receipt that is malformed or forged.
[[nodiscard]] std::vector<Receipt> read_receipts(const StateLayout& layout);

// Empty when RECORDS hold every record each receipt covers, else what is missing or changed,
// naming the receipt (a log truncated after its latest receipt shows here).
[[nodiscard]] std::string check_receipts(const std::vector<AuditRecord>& records,
                                         const std::vector<Receipt>& receipts);

// The audit log as `audit export` writes it: result, chain_intact and every record.
[[nodiscard]] std::string audit_log_json(const std::vector<AuditRecord>& records);

// What `audit export --out-dir DIR` wrote.
struct AuditExport {
    std::filesystem::path dir;
    std::size_t records = 0;
    std::size_t receipts = 0;
    bool chain_intact = false;
    bool public_key = false; // node.pub was written (the node has a key)
};

// Writes STATE's audit log (audit.json), its receipts as they are, checked or not (receipts/),
// and the node's public key (node.pub) into DIR, which must not exist or be empty.
[[nodiscard]] AuditExport export_audit(StateDb& state, const std::filesystem::path& dir);

} // namespace ferry::applier
