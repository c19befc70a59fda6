#include "cluster.hpp"

#include "error.hpp"
#include "http.hpp"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <sstream>
#include <sys/file.h>
#include <system_error>
#include <unistd.h>

namespace greeter {
namespace {

[[nodiscard]] bool parse_number(std::string_view text, long long& value) {
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    return ec == std::errc() && end == text.data() + text.size();
}

// An exclusive flock on FILE.lock for as long as it lives: who takes or hands over the lease
// reads and writes it under this lock (the lease file itself is replaced by rename).
class LeaseLock {
public:
    explicit LeaseLock(const std::string& file) {
        const std::string path = file + ".lock";
        m_fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        if (m_fd < 0 || flock(m_fd, LOCK_EX) != 0) {
            const std::string why = std::strerror(errno);
            if (m_fd >= 0) {
                close(m_fd);
            }
            throw Error(ErrorKind::settings, path + ": cannot lock: " + why);
        }
    }
    LeaseLock(const LeaseLock&) = delete;
    LeaseLock& operator=(const LeaseLock&) = delete;
    ~LeaseLock() { close(m_fd); } // releases the flock

private:
    int m_fd = -1;
};

// Writes LEASE to FILE atomically: a temporary file beside it, synced, renamed over it, and
// the folder synced.
void write_lease(const std::string& file, const Lease& lease) {
    const std::string temporary = file + ".tmp." + std::to_string(getpid());
    const std::string text = "holder " + lease.holder + "\nport " + std::to_string(lease.port) +
                             "\nexpires " + std::to_string(lease.expires_ms) + '\n';
    const int fd = open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    bool ok = fd >= 0 && write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
    ok = fd >= 0 && fsync(fd) == 0 && ok;
    if (fd >= 0) {
        ok = close(fd) == 0 && ok;
    }
    if (!ok || rename(temporary.c_str(), file.c_str()) != 0) {
        const std::string why = std::strerror(errno);
        unlink(temporary.c_str());
        throw Error(ErrorKind::settings, file + ": cannot write the lease: " + why);
    }
    // The rename itself survives a power cut once the folder is synced.
    const auto slash = file.rfind('/');
    const std::string folder = slash == 0 ? "/" : file.substr(0, slash);
    const int folder_fd = open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (folder_fd >= 0) {
        fsync(folder_fd);
        close(folder_fd);
    }
}

[[nodiscard]] std::string escape(std::string_view text) {
    std::string out;
    for (const char c : text) {
        switch (c) {
        case '\\':
            out += "\\\\";
            break;
        case '\t':
            out += "\\t";
            break;
        case '\n':
            out += "\\n";
            break;
        case '\r':
            out += "\\r";
            break;
        default:
            out += c;
        }
    }
    return out;
}

[[nodiscard]] std::optional<std::string> unescape(std::string_view text) {
    std::string out;
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] != '\\') {
            out += text[i];
            continue;
        }
        if (++i == text.size()) {
            return std::nullopt;
        }
        switch (text[i]) {
        case '\\':
            out += '\\';
            break;
        case 't':
            out += '\t';
            break;
        case 'n':
            out += '\n';
            break;
        case 'r':
            out += '\r';
            break;
        default:
            return std::nullopt;
        }
    }
    return out;
}

} // namespace

long long wall_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

std::optional<Lease> read_lease(const std::string& file) {
    std::ifstream in(file);
    if (!in) {
        return std::nullopt;
    }
    Lease lease;
    std::string line;
    while (std::getline(in, line)) {
        const auto space = line.find(' ');
        const std::string_view key = std::string_view(line).substr(0, space);
        const std::string_view value = space == std::string::npos
                                           ? std::string_view()
                                           : std::string_view(line).substr(space + 1);
        long long number = 0;
        if (key == "holder") {
            lease.holder = value;
        } else if (key == "port" && parse_number(value, number) && number > 0 && number < 65536) {
            lease.port = static_cast<int>(number);
        } else if (key == "expires" && parse_number(value, number)) {
            lease.expires_ms = number;
        }
    }
    if (lease.holder.empty() || lease.port == 0) {
        return std::nullopt;
    }
    return lease;
}

std::string rows_text(long long last, long long upto, const std::vector<Row>& rows) {
    std::string text = "last " + std::to_string(last) + "\nupto " + std::to_string(upto) + '\n';
    for (const Row& row : rows) {
        text += std::to_string(row.id) + '\t' + escape(row.created_at) + '\t' +
                escape(row.language) + '\t' + escape(row.text) + '\n';
    }
    return text;
}

Pulled parse_rows_text(std::string_view text) {
    const auto malformed = [](const std::string& what) {
        return Error(ErrorKind::unhealthy, "malformed rows from the leader: " + what);
    };
    Pulled pulled;
    int line_number = 0;
    while (!text.empty()) {
        const auto end = text.find('\n');
        if (end == std::string_view::npos) {
            throw malformed("the last line is cut short");
        }
        const std::string_view line = text.substr(0, end);
        text.remove_prefix(end + 1);
        if (line.empty() && text.empty()) {
            break; // the newline that ends every answer
        }
        ++line_number;
        if (line_number <= 2) {
            const std::string_view key = line_number == 1 ? "last " : "upto ";
            long long& value = line_number == 1 ? pulled.last : pulled.upto;
            if (line.substr(0, key.size()) != key ||
                !parse_number(line.substr(key.size()), value)) {
                throw malformed("line " + std::to_string(line_number) + " is not \"" +
                                std::string(key) + "N\"");
            }
            continue;
        }
        std::vector<std::string_view> fields;
        std::size_t at = 0;
        for (;;) {
            const auto tab = line.find('\t', at);
            fields.push_back(line.substr(at, tab == std::string_view::npos ? tab : tab - at));
            if (tab == std::string_view::npos) {
                break;
            }
            at = tab + 1;
        }
        Row row;
        const auto created_at = fields.size() == 4 ? unescape(fields[1]) : std::nullopt;
        const auto language = fields.size() == 4 ? unescape(fields[2]) : std::nullopt;
        const auto row_text = fields.size() == 4 ? unescape(fields[3]) : std::nullopt;
        if (!created_at || !language || !row_text || !parse_number(fields[0], row.id)) {
            throw malformed("line " + std::to_string(line_number) + " is not a row");
        }
        row.created_at = *created_at;
        row.language = *language;
        row.text = *row_text;
        pulled.rows.push_back(std::move(row));
    }
    if (line_number < 2 || pulled.upto > pulled.last) {
        throw malformed("no \"last\" and \"upto\" lines");
    }
    return pulled;
}

Cluster::Cluster(ClusterSettings settings, int port, Database& database,
                 void (*log)(const std::string&))
    : m_settings(std::move(settings)), m_port(port), m_database(database), m_log(log),
      m_next_tick(Clock::now()) {}

bool Cluster::synced() const {
    if (m_leader) {
        return true;
    }
    return m_caught_up && Clock::now() - m_last_pull < k_synced_within;
}

bool Cluster::accepts_writes() const {
    // A margin, so that a lease about to run out is not relied on.
    return m_leader && !m_step_down_until && m_lease.expires_ms > wall_ms() + 500;
}

bool Cluster::is_peer(int port) const {
    return m_settings.peers.empty() || std::find(m_settings.peers.begin(), m_settings.peers.end(),
                                                 port) != m_settings.peers.end();
}

void Cluster::note_pull(const std::string& node, int port, long long after) {
    m_followers[port] = {node, after, Clock::now()};
}

void Cluster::begin_step_down() {
    m_log("cluster: stepping down at id " + std::to_string(m_database.last_id()) +
          ": no more writes; waiting for a follower to catch up");
    m_step_down_until = Clock::now() + k_step_down_limit;
    m_step_down_result.reset();
    m_next_tick = Clock::now();
}

std::optional<Cluster::StepDownResult> Cluster::take_step_down_result() {
    auto result = std::move(m_step_down_result);
    m_step_down_result.reset();
    return result;
}

void Cluster::tick() {
    const auto now = Clock::now();
    if (now < m_next_tick) {
        return;
    }
    try {
        if (m_leader) {
            lead_tick();
        } else {
            follow_tick();
        }
    } catch (const Error& e) {
        m_log(std::string("cluster: ") + e.what());
    }
    const auto interval =
        m_leader ? (m_step_down_until ? std::chrono::milliseconds(100) : k_lease_renewal)
                 : k_pull_interval;
    m_next_tick = Clock::now() + interval;
}

bool Cluster::take_lease(const char* why) {
    const LeaseLock lock(m_settings.lease);
    const auto current = read_lease(m_settings.lease);
    if (current && current->holder != m_settings.node && current->expires_ms > wall_ms()) {
        follow(*current, "the lease is held");
        return false;
    }
    const Lease lease{m_settings.node, m_port, wall_ms() + k_lease_validity_ms};
    write_lease(m_settings.lease, lease);
    m_lease = lease;
    if (!m_leader) {
        m_leader = true;
        m_followers.clear();
        m_log(std::string("cluster: leader (") + why + ") at id " +
              std::to_string(m_database.last_id()));
    }
    return true;
}

void Cluster::follow(const Lease& lease, const char* why) {
    const bool changed = m_leader || lease.holder != m_lease.holder || lease.port != m_lease.port;
    m_lease = lease;
    if (changed) {
        m_log("cluster: following " + lease.holder + " on port " + std::to_string(lease.port) +
              " (" + why + ")");
        m_caught_up = false;
    }
    m_leader = false;
}

void Cluster::lead_tick() {
    if (m_step_down_until) {
        try_hand_over();
        if (!m_leader) {
            return;
        }
    }
    static_cast<void>(take_lease("renewed"));
}

void Cluster::try_hand_over() {
    const long long last = m_database.last_id();
    const auto now = Clock::now();
    for (const auto& [port, follower] : m_followers) {
        if (port == m_port || !is_peer(port) || follower.after != last ||
            now - follower.seen > k_synced_within) {
            continue;
        }
        const LeaseLock lock(m_settings.lease);
        const auto current = read_lease(m_settings.lease);
        if (current && current->holder != m_settings.node && current->expires_ms > wall_ms()) {
            break; // lost meanwhile; the renewal below finds out
        }
        const Lease lease{follower.node, port, wall_ms() + k_lease_validity_ms};
        write_lease(m_settings.lease, lease);
        m_log("cluster: handed the lease to " + follower.node + " (port " + std::to_string(port) +
              "), caught up at id " + std::to_string(last));
        m_step_down_result = StepDownResult{follower.node, port, last};
        m_step_down_until.reset();
        follow(lease, "stepped down");
        m_caught_up = true;
        m_cursor = last;
        m_last_pull = now;
        return;
    }
    if (now >= *m_step_down_until) {
        m_log("cluster: no follower caught up with id " + std::to_string(last) + " within " +
              std::to_string(k_step_down_limit.count()) + " s; still the leader");
        m_step_down_result = StepDownResult{{}, 0, last};
        m_step_down_until.reset();
    }
}

void Cluster::follow_tick() {
    const auto lease = read_lease(m_settings.lease);
    if (!lease || lease->expires_ms <= wall_ms()) {
        if (take_lease(lease ? "took the expired lease" : "took the lease; there was none")) {
            return;
        }
    } else if (lease->holder == m_settings.node) {
        if (take_lease("the lease was handed over")) {
            return;
        }
    } else {
        follow(*lease, "the lease holder");
    }
    pull();
}

void Cluster::pull() {
    const std::string path = "/cluster/rows?after=" + std::to_string(m_cursor) +
                             "&node=" + url_encode(m_settings.node) +
                             "&port=" + std::to_string(m_port);
    try {
        const Response response = http_get(m_lease.port, path, k_pull_timeout);
        if (response.status != 200) {
            throw Error(ErrorKind::unhealthy, local_url(m_lease.port, "/cluster/rows") +
                                                  ": status " + std::to_string(response.status) +
                                                  ": " + response.body);
        }
        const Pulled pulled = parse_rows_text(response.body);
        const bool complete = pulled.upto == pulled.last;
        if (!pulled.rows.empty() || complete) {
            m_database.copy_rows(m_cursor, pulled.upto, pulled.rows, complete);
        }
        const bool was_caught_up = m_caught_up;
        m_cursor = pulled.upto;
        m_caught_up = complete;
        m_last_pull = Clock::now();
        if (m_pull_failing || (complete && !was_caught_up)) {
            m_log("cluster: caught up with " + m_lease.holder + " at id " +
                  std::to_string(m_cursor));
        }
        m_pull_failing = false;
    } catch (const Error& e) {
        m_caught_up = false;
        if (!m_pull_failing) {
            m_log(std::string("cluster: cannot copy from ") + m_lease.holder + ": " + e.what());
        }
        m_pull_failing = true;
    }
}

} // namespace greeter
