#include "journal.hpp"

#include "core/error.hpp"
#include "core/json.hpp"
#include "core/time.hpp"

#include <array>

namespace ferry::rollout {

namespace {

const char* const k_schema = R"sql(
CREATE TABLE IF NOT EXISTS rollouts(
    id INTEGER PRIMARY KEY,
    bundle TEXT NOT NULL,
    version TEXT NOT NULL,
    manifest_sha256 TEXT NOT NULL,
    started TEXT NOT NULL,
    ended TEXT NOT NULL DEFAULT '',
    result TEXT NOT NULL DEFAULT '',
    message TEXT NOT NULL DEFAULT '',
    last_step TEXT NOT NULL DEFAULT '',
    continued INTEGER NOT NULL DEFAULT 0,
    failures INTEGER NOT NULL DEFAULT 0,
    wait_until INTEGER,
    batch TEXT NOT NULL DEFAULT '');
CREATE TABLE IF NOT EXISTS nodes(
    rollout INTEGER NOT NULL REFERENCES rollouts(id),
    node TEXT NOT NULL,
    step TEXT NOT NULL,
    detail TEXT NOT NULL,
    at TEXT NOT NULL,
    PRIMARY KEY(rollout, node));
)sql";

constexpr std::array<std::pair<NodeStep, const char*>, 7> k_steps = {{
    {NodeStep::none, "none"},
    {NodeStep::staged, "staged"},
    {NodeStep::applying, "applying"},
    {NodeStep::applied, "applied"},
    {NodeStep::upgraded, "upgraded"},
    {NodeStep::failed, "failed"},
    {NodeStep::broken, "broken"},
}};

std::filesystem::path database_of(const std::filesystem::path& dir) { return dir / "rollout.db"; }

// WAL with synchronous=NORMAL: every commit survives the coordinator being killed; the ones
// that must also survive a power cut of its machine (the nodes about to be touched, the end of
// a rollout) are made under synchronous=FULL (Durable), which also syncs every commit before them.
void prepare(applier::Database& db) {
    db.exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;");
    db.exec(k_schema);
    applier::create_audit_table(db);
}

// Who runs the coordinator, where: every audit record names them, and who asked sudo for it.
std::string operator_name() {
    const applier::Operator op = applier::current_operator();
    std::string text = op.user + " (uid " + std::to_string(op.uid) + ")";
    if (!op.sudo_user.empty()) {
        text += " through sudo by " + op.sudo_user + (op.sudo_uid ? " (uid " + std::to_string(*op.sudo_uid) + ")" : "");
    }
    return text + " on " + op.host;
}

RolloutRecord read_record(applier::Database& db, std::int64_t id) {
    applier::Statement s = db.prepare("SELECT id, bundle, version, manifest_sha256, started, ended, result, message, "
                                      "last_step, continued, failures, wait_until, batch FROM rollouts WHERE id = ?");
    s.bind(1, id);
    if (!s.step()) {
        throw Error(ErrorKind::internal, db.name() + ": no rollout " + std::to_string(id));
    }
    RolloutRecord r;
    r.id = s.integer(0);
    r.bundle = s.text(1);
    r.version = s.text(2);
    r.manifest_sha256 = s.text(3);
    r.started = s.text(4);
    r.ended = s.text(5);
    r.result = s.text(6);
    r.message = s.text(7);
    r.last_step = s.text(8);
    r.continued = s.integer(9) != 0;
    r.failures = static_cast<std::uint64_t>(s.integer(10));
    if (!s.is_null(11)) {
        r.wait_until = s.integer(11);
    }
    const std::string batch = s.text(12);
    for (std::size_t start = 0; start < batch.size();) {
        const auto end = std::min(batch.find('\n', start), batch.size());
        r.batch.push_back(batch.substr(start, end - start));
        start = end + 1;
    }
    applier::Statement n = db.prepare("SELECT node, step FROM nodes WHERE rollout = ?");
    n.bind(1, id);
    while (n.step()) {
        if (const auto step = parse_step(n.text(1))) {
            r.nodes[n.text(0)] = *step;
        }
    }
    return r;
}

std::optional<std::int64_t> latest_id(applier::Database& db, bool open_only) {
    const auto id = db.query_text(std::string("SELECT id FROM rollouts") + (open_only ? " WHERE ended = ''" : "") +
                                  " ORDER BY id DESC LIMIT 1");
    if (!id) {
        return std::nullopt;
    }
    return std::stoll(*id);
}

// synchronous=FULL while it lives: the commits made meanwhile are on disk when they return.
class Durable {
public:
    explicit Durable(applier::Database& db) : m_db(db) { m_db.exec("PRAGMA synchronous=FULL"); }
    ~Durable() {
        try {
            m_db.exec("PRAGMA synchronous=NORMAL");
        } catch (const Error&) {
            // Stays FULL: slower, never less safe.
        }
    }
    Durable(const Durable&) = delete;
    Durable& operator=(const Durable&) = delete;

private:
    applier::Database& m_db;
};

} // namespace

std::filesystem::path default_rollout_dir(const std::filesystem::path& inventory) {
    const std::filesystem::path abs = std::filesystem::absolute(inventory);
    return abs.parent_path() / (abs.stem().string() + ".rollout");
}

std::string step_name(NodeStep step) {
    for (const auto& [value, name] : k_steps) {
        if (value == step) {
            return name;
        }
    }
    return "?";
}

std::optional<NodeStep> parse_step(const std::string& name) {
    for (const auto& [value, text] : k_steps) {
        if (name == text) {
            return value;
        }
    }
    return std::nullopt;
}

namespace {

applier::StateLock lock_rollout_dir(const std::filesystem::path& dir) {
    try {
        return applier::StateLock(dir);
    } catch (const Error& e) {
        if (e.kind() != ErrorKind::policy) {
            throw;
        }
        const auto pid = applier::lock_holder(dir);
        throw Error(ErrorKind::policy,
                    "another coordinator is rolling out from " + dir.string() +
                        (pid && *pid > 0 ? " (pid " + std::to_string(*pid) + ")" : ""),
                    "wait for it to finish, or stop it; never run two rollouts of one cluster at once");
    }
}

} // namespace

Journal::Journal(const std::filesystem::path& dir)
    : m_dir(std::filesystem::absolute(dir)), m_lock(lock_rollout_dir(m_dir)), m_db(database_of(m_dir), true) {
    prepare(m_db);
}

std::optional<RolloutRecord> Journal::open_rollout() {
    const auto id = latest_id(m_db, true);
    if (!id) {
        return std::nullopt;
    }
    return read(*id);
}

RolloutRecord Journal::begin(const std::string& bundle, const std::string& version, const std::string& manifest_sha256) {
    applier::Transaction tx(m_db);
    m_db.prepare("INSERT INTO rollouts(bundle, version, manifest_sha256, started) VALUES(?, ?, ?, ?)")
        .bind(1, bundle)
        .bind(2, version)
        .bind(3, manifest_sha256)
        .bind(4, format_time(now()))
        .run();
    const std::int64_t id = sqlite3_last_insert_rowid(m_db.get());
    audit(id, "rollout_started", "", "manifest sha256 " + manifest_sha256);
    tx.commit();
    return read(id);
}

void Journal::supersede(std::int64_t id, std::int64_t by) {
    applier::Transaction tx(m_db);
    const std::string why = "superseded by rollout " + std::to_string(by);
    m_db.prepare("UPDATE rollouts SET ended = ?, result = 'superseded', message = ? WHERE id = ?")
        .bind(1, format_time(now()))
        .bind(2, why)
        .bind(3, id)
        .run();
    audit(id, "rollout_superseded", "", why);
    tx.commit();
}

void Journal::node_step(std::int64_t id, const std::string& node, NodeStep step, const std::string& detail) {
    applier::Transaction tx(m_db);
    m_db.prepare("INSERT OR REPLACE INTO nodes(rollout, node, step, detail, at) VALUES(?, ?, ?, ?, ?)")
        .bind(1, id)
        .bind(2, node)
        .bind(3, step_name(step))
        .bind(4, detail)
        .bind(5, format_time(now()))
        .run();
    m_db.prepare("UPDATE rollouts SET last_step = ? WHERE id = ?").bind(1, step_name(step) + " " + node).bind(2, id).run();
    audit(id, "node_" + step_name(step), node, detail);
    tx.commit();
}

void Journal::set_continued(std::int64_t id) {
    const Durable durable(m_db);
    applier::Transaction tx(m_db);
    m_db.prepare("UPDATE rollouts SET continued = 1 WHERE id = ?").bind(1, id).run();
    audit(id, "continued", "", "past the pause after the canaries");
    tx.commit();
}

void Journal::set_failures(std::int64_t id, std::uint64_t failures) {
    m_db.prepare("UPDATE rollouts SET failures = ? WHERE id = ?")
        .bind(1, static_cast<std::int64_t>(failures))
        .bind(2, id)
        .run();
}

void Journal::set_wait_until(std::int64_t id, std::int64_t unix_time) {
    applier::Transaction tx(m_db);
    m_db.prepare("UPDATE rollouts SET wait_until = ? WHERE id = ?").bind(1, unix_time).bind(2, id).run();
    audit(id, "waiting", "", "after the canaries, until " + format_time(unix_time));
    tx.commit();
}

void Journal::decision(std::int64_t id, const std::string& what, const std::string& detail, bool as_step) {
    applier::Transaction tx(m_db);
    if (as_step) {
        m_db.prepare("UPDATE rollouts SET last_step = ? WHERE id = ?")
            .bind(1, detail.empty() ? what : what + " " + detail)
            .bind(2, id)
            .run();
    }
    audit(id, what, "", detail);
    tx.commit();
}

void Journal::begin_batch(std::int64_t id, const std::string& reason, const std::vector<std::string>& nodes) {
    // Before a node of the batch is touched, the journal must say so whatever happens next.
    const Durable durable(m_db);
    applier::Transaction tx(m_db);
    std::string list;
    for (const auto& n : nodes) {
        list += (list.empty() ? "" : "\n") + n;
    }
    m_db.prepare("UPDATE rollouts SET batch = ?, last_step = ? WHERE id = ?")
        .bind(1, list)
        .bind(2, "batch " + reason)
        .bind(3, id)
        .run();
    audit(id, "batch", "", reason);
    tx.commit();
}

void Journal::finish(std::int64_t id, const std::string& result, const std::string& message, bool close) {
    const Durable durable(m_db);
    applier::Transaction tx(m_db);
    m_db.prepare("UPDATE rollouts SET result = ?, message = ?, ended = ? WHERE id = ?")
        .bind(1, result)
        .bind(2, message)
        .bind(3, close ? format_time(now()) : std::string())
        .bind(4, id)
        .run();
    audit(id, "rollout_" + result, "", message);
    tx.commit();
}

std::vector<applier::AuditRecord> Journal::audit_records() { return applier::audit_records(m_db); }

void Journal::audit(std::int64_t id, const std::string& action, const std::string& node, const std::string& detail) {
    static const std::string who = operator_name();
    applier::Statement r = m_db.prepare("SELECT bundle, version FROM rollouts WHERE id = ?");
    r.bind(1, id);
    if (!r.step()) {
        throw Error(ErrorKind::internal, m_db.name() + ": no rollout " + std::to_string(id));
    }
    JsonWriter j;
    j.begin_object()
        .field("rollout", id)
        .field("bundle", r.text(0))
        .field("version", r.text(1))
        .field("node", node)
        .field("detail", detail)
        .field("operator", who)
        .end_object();
    applier::append_audit(m_db, action, j.str());
}

RolloutRecord Journal::read(std::int64_t id) { return read_record(m_db, id); }

std::optional<RolloutRecord> latest_rollout(const std::filesystem::path& dir) {
    if (!std::filesystem::exists(database_of(dir))) {
        return std::nullopt;
    }
    applier::Database db(database_of(dir), false, ErrorKind::input);
    const auto id = latest_id(db, false);
    if (!id) {
        return std::nullopt;
    }
    return read_record(db, *id);
}

std::vector<applier::AuditRecord> rollout_audit_records(const std::filesystem::path& dir) {
    if (!std::filesystem::exists(database_of(dir))) {
        return {};
    }
    applier::Database db(database_of(dir), false, ErrorKind::input);
    return applier::audit_records(db);
}

std::optional<pid_t> coordinator_pid(const std::filesystem::path& dir) { return applier::lock_holder(dir); }

} // namespace ferry::rollout
