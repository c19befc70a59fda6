#pragma once

// The hash-chained audit log that the node's state database and the rollout coordinator's
// journal both keep, and the operator its records name.

#include "applier/state/sqlite.hpp"
#include "core/json.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace ferry::applier {

struct AuditRecord {
    std::int64_t seq = 0;
    std::string at;
    std::string action;
    std::string detail; // JSON
    std::string prev;
    std::string hash;
};

// Who runs this process, and where, as an audit record names them.
struct Operator {
    std::string user;                     // the effective user's name ("?" if it has none)
    std::int64_t uid = 0;                 // the effective uid
    std::string sudo_user;                // SUDO_USER, when sudo ran the command (as sudo says)
    std::optional<std::int64_t> sudo_uid; // SUDO_UID, likewise
    std::string host;                     // the host name
};

// The operator of this process: the effective user, sudo's account of who asked, the host.
[[nodiscard]] Operator current_operator();

// Adds OP to the object J is writing: "operator" {user, uid, sudo_user, sudo_uid} and "host".
void write_operator(JsonWriter& j, const Operator& op);

// The hash-chained audit log of a database: the node's (StateDb) and the rollout
// coordinator's (its journal) keep the same table.
void create_audit_table(Database& db);
// Appends an audit record to DB's log, chained to the previous one.
void append_audit(Database& db, const std::string& action, const std::string& detail_json);
[[nodiscard]] std::vector<AuditRecord> audit_records(Database& db);

// The hash of an audit record, chained to PREV.
[[nodiscard]] std::string audit_hash(const AuditRecord& record);

// Empty if RECORDS form an unbroken chain from the first record; else the first problem.
[[nodiscard]] std::string check_audit_chain(const std::vector<AuditRecord>& records);

} // namespace ferry::applier
