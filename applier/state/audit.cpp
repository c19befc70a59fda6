#include "audit.hpp"

#include "core/sha256.hpp"
#include "core/time.hpp"

#include <cstdlib>
#include <pwd.h>
#include <unistd.h>

namespace ferry::applier {

std::string audit_hash(const AuditRecord& r) {
    const std::string text = r.prev + "\n" + std::to_string(r.seq) + "\n" + r.at + "\n" + r.action + "\n" + r.detail;
    return to_hex(sha256(text));
}

void create_audit_table(Database& db) {
    db.exec(R"sql(
CREATE TABLE IF NOT EXISTS audit(
    seq INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    action TEXT NOT NULL,
    detail TEXT NOT NULL,
    prev TEXT NOT NULL,
    hash TEXT NOT NULL);
)sql");
}

void append_audit(Database& db, const std::string& action, const std::string& detail_json) {
    AuditRecord r;
    Statement last = db.prepare("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1");
    if (last.step()) {
        r.seq = last.integer(0) + 1;
        r.prev = last.text(1);
    } else {
        r.seq = 1;
        r.prev = std::string(64, '0');
    }
    r.at = format_time(now());
    r.action = action;
    r.detail = detail_json;
    r.hash = audit_hash(r);
    db.prepare("INSERT INTO audit(seq, at, action, detail, prev, hash) VALUES(?, ?, ?, ?, ?, ?)")
        .bind(1, r.seq)
        .bind(2, r.at)
        .bind(3, r.action)
        .bind(4, r.detail)
        .bind(5, r.prev)
        .bind(6, r.hash)
        .run();
}

std::vector<AuditRecord> audit_records(Database& db) {
    std::vector<AuditRecord> out;
    Statement s = db.prepare("SELECT seq, at, action, detail, prev, hash FROM audit ORDER BY rowid");
    while (s.step()) {
        out.push_back({s.integer(0), s.text(1), s.text(2), s.text(3), s.text(4), s.text(5)});
    }
    return out;
}

Operator current_operator() {
    Operator op;
    const uid_t uid = ::geteuid();
    const passwd* pw = ::getpwuid(uid);
    op.user = pw != nullptr ? pw->pw_name : "?";
    op.uid = static_cast<std::int64_t>(uid);
    if (const char* sudo_user = std::getenv("SUDO_USER")) {
        op.sudo_user = sudo_user;
    }
    if (const char* sudo_uid = std::getenv("SUDO_UID")) {
        char* end = nullptr;
        const long long value = std::strtoll(sudo_uid, &end, 10);
        if (*sudo_uid != '\0' && *end == '\0') {
            op.sudo_uid = value;
        }
    }
    std::array<char, 256> host{};
    (void)::gethostname(host.data(), host.size() - 1);
    op.host = host.data();
    return op;
}

void write_operator(JsonWriter& j, const Operator& op) {
    j.key("operator").begin_object().field("user", op.user).field("uid", op.uid).field("sudo_user", op.sudo_user);
    j.key("sudo_uid");
    if (op.sudo_uid) {
        j.value(*op.sudo_uid);
    } else {
        j.null();
    }
    j.end_object().field("host", op.host);
}

std::string check_audit_chain(const std::vector<AuditRecord>& records) {
    std::string prev(64, '0');
    for (std::size_t i = 0; i < records.size(); ++i) {
        const AuditRecord& r = records[i];
        const auto expected_seq = static_cast<std::int64_t>(i + 1);
        if (r.seq != expected_seq) {
            return "record " + std::to_string(expected_seq) + " is missing or out of order (found " +
                   std::to_string(r.seq) + ")";
        }
        if (r.prev != prev) {
            return "record " + std::to_string(r.seq) + " does not follow the record before it (a record was deleted, reordered or changed)";
        }
        if (audit_hash(r) != r.hash) {
            return "record " + std::to_string(r.seq) + " was changed after it was written (hash mismatch)";
        }
        prev = r.hash;
    }
    return {};
}

} // namespace ferry::applier
