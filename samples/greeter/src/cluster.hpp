#pragma once

// greeter's cluster mode: instances on loopback ports sharing a lease file. The lease holder leads
// and alone takes writes; followers copy the leader's greetings by pulling the rows after the
// last id they copied; a step-down hands the lease to a follower that has caught up.

#include "database.hpp"
#include "settings.hpp"

#include <chrono>
#include <map>
#include <optional>
#include <string>

namespace greeter {

// The lease as the shared file holds it: "holder NAME", "port N", "expires MS" lines, MS being
// milliseconds since the Unix epoch.
struct Lease {
    std::string holder;
    int port = 0;
    long long expires_ms = 0;
};

// How long a lease stays valid after the leader wrote it, and how often it is renewed.
inline constexpr long long k_lease_validity_ms = 3000;
inline constexpr auto k_lease_renewal = std::chrono::milliseconds(500);
// How often a follower pulls from the leader, and how long a pull may take.
inline constexpr auto k_pull_interval = std::chrono::milliseconds(300);
inline constexpr auto k_pull_timeout = std::chrono::milliseconds(1000);
// A follower is synced while its last pull, no older than this, found nothing more to copy.
inline constexpr auto k_synced_within = std::chrono::milliseconds(2000);
// How long a step-down waits for a follower to catch up with the leader's last id.
inline constexpr auto k_step_down_limit = std::chrono::seconds(10);
// The most rows one pull copies.
inline constexpr int k_pull_limit = 500;

// Milliseconds since the Unix epoch (the lease is shared between processes).
[[nodiscard]] long long wall_ms();

// The lease in FILE, or nullopt when there is none or it cannot be read.
[[nodiscard]] std::optional<Lease> read_lease(const std::string& file);

// The rows the leader hands a follower, as text: "last N" (the leader's last id), "upto M" (the
// answer holds every row in (after, M]), then one line per row: id, created_at, language and
// text separated by tabs, with '\\', tab, CR and LF escaped.
[[nodiscard]] std::string rows_text(long long last, long long upto, const std::vector<Row>& rows);

// What the answer TEXT of rows_text holds; throws Error(unhealthy) when it is malformed.
struct Pulled {
    long long last = 0;
    long long upto = 0;
    std::vector<Row> rows;
};
[[nodiscard]] Pulled parse_rows_text(std::string_view text);

class Cluster {
public:
    using Clock = std::chrono::steady_clock;

    // LOG writes one line to the service's log.
    Cluster(ClusterSettings settings, int port, Database& database,
            void (*log)(const std::string&));

    // The lease's and the copy's work, when due: the leader renews its lease (or finds it lost),
    // a follower takes an expired lease, takes over a lease handed to it, or pulls from the
    // leader; a step-down in progress hands over once a follower caught up.
    void tick();

    // When tick is next due.
    [[nodiscard]] Clock::time_point next_tick() const { return m_next_tick; }

    [[nodiscard]] bool leader() const { return m_leader; }
    [[nodiscard]] bool synced() const;
    [[nodiscard]] bool stepping_down() const { return m_step_down_until.has_value(); }
    [[nodiscard]] const std::string& node() const { return m_settings.node; }
    // The leader as this instance knows it (empty when none), and its port.
    [[nodiscard]] const std::string& leader_name() const { return m_lease.holder; }
    [[nodiscard]] int leader_port() const { return m_lease.port; }
    // Whether a write may be acknowledged now: the leader, not stepping down, its lease valid.
    [[nodiscard]] bool accepts_writes() const;
    // Whether PORT is one of the configured peers (any port when none are configured).
    [[nodiscard]] bool is_peer(int port) const;

    // The leader records a follower's pull: NODE on PORT has copied every row up to AFTER.
    void note_pull(const std::string& node, int port, long long after);

    // Starts a step-down: writes are refused from now on until it ends.
    void begin_step_down();

    // The end of a step-down, once it ended: the successor (empty when none caught up in time,
    // and this instance leads again) and the last id it had caught up with.
    struct StepDownResult {
        std::string successor;
        int port = 0;
        long long last_id = 0;
    };
    [[nodiscard]] std::optional<StepDownResult> take_step_down_result();

private:
    struct Follower {
        std::string node;
        long long after = 0;
        Clock::time_point seen;
    };

    void lead_tick();
    void follow_tick();
    void pull();
    void try_hand_over();
    [[nodiscard]] bool take_lease(const char* why);
    void follow(const Lease& lease, const char* why);

    ClusterSettings m_settings;
    int m_port;
    Database& m_database;
    void (*m_log)(const std::string&);

    bool m_leader = false;
    Lease m_lease;                 // as last read or written
    long long m_cursor = 0;        // a follower: every row up to here is the leader's
    bool m_caught_up = false;      // a follower: the last pull found nothing more
    Clock::time_point m_last_pull; // a follower: when the last pull answered
    bool m_pull_failing = false;
    Clock::time_point m_next_tick;
    std::map<int, Follower> m_followers; // the leader: by port
    std::optional<Clock::time_point> m_step_down_until;
    std::optional<StepDownResult> m_step_down_result;
};

} // namespace greeter
