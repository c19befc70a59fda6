#include "applier/node/command.hpp"
#include "applier/node/envfile.hpp"
#include "applier/node/migrations.hpp"
#include "applier/node/receipt.hpp"
#include "applier/node/rootfs.hpp"
#include "applier/state/state.hpp"
#include "core/error.hpp"
#include "core/fs.hpp"
#include "scratch.hpp"

#include <doctest/doctest.h>

#include <cstdlib>
#include <unistd.h>

using namespace ferry;
using namespace ferry::applier;

TEST_CASE("applier::check_audit_chain") {
    const test::Scratch dir;
    {
        StateDb state(dir.path());
        append_audit(state.db(), "applied", "{\"n\":1}");
        append_audit(state.db(), "refused", "{\"n\":2}");
        append_audit(state.db(), "applied", "{\"n\":3}");
        CHECK(check_audit_chain(state.audit_records()).empty());
    }
    Database db(dir / "state.db", false);
    SUBCASE("an edited record") {
        db.exec("UPDATE audit SET detail = '{\"n\":9}' WHERE seq = 2");
        CHECK(check_audit_chain(StateDb(dir.path()).audit_records()) ==
              "record 2 was changed after it was written (hash mismatch)");
    }
    SUBCASE("a deleted record") {
        db.exec("DELETE FROM audit WHERE seq = 2");
        CHECK(check_audit_chain(StateDb(dir.path()).audit_records()) == "record 2 is missing or out of order (found 3)");
    }
    SUBCASE("reordered records") {
        db.exec("UPDATE audit SET seq = -1 WHERE seq = 2; UPDATE audit SET seq = 2 WHERE seq = 3; "
                "UPDATE audit SET seq = 3 WHERE seq = -1;");
        CHECK(check_audit_chain(StateDb(dir.path()).audit_records()) ==
              "record 2 does not follow the record before it (a record was deleted, reordered or changed)");
    }
    SUBCASE("an edited record whose hash was recomputed") {
        StateDb state(dir.path());
        auto records = state.audit_records();
        records[1].detail = "{\"n\":9}";
        db.prepare("UPDATE audit SET detail = ?, hash = ? WHERE seq = 2").bind(1, records[1].detail).bind(2, audit_hash(records[1])).run();
        CHECK(check_audit_chain(state.audit_records()) ==
              "record 3 does not follow the record before it (a record was deleted, reordered or changed)");
    }
}

TEST_CASE("applier::StateDb refuses a damaged database") {
    const test::Scratch dir;
    dir.write("state.db", std::string(8192, 'x'));
    CHECK_THROWS_WITH_AS(StateDb(dir.path()), doctest::Contains("the state database is damaged or unreadable"), Error);
}

TEST_CASE("applier::StateDb schema versions") {
    const test::Scratch dir;
    {
        StateDb state(dir.path());
        state.db().exec("DROP TABLE staged; DROP TABLE run_keys; UPDATE meta SET value = '1' WHERE key = 'schema_version';");
    }
    SUBCASE("the oldest supported version is upgraded to the current one") {
        StateDb state(dir.path());
        CHECK(state.meta("schema_version") == "3");
        CHECK(state.staged_bundles().empty());
        CHECK(state.run_signing_keys(1).empty());
    }
    SUBCASE("a newer version is refused, naming the range") {
        {
            StateDb state(dir.path());
            state.set_meta("schema_version", "9");
        }
        CHECK_THROWS_WITH_AS(StateDb(dir.path()),
                             doctest::Contains("state schema version 9 is not one this ferry-applier reads (1 to 3): it "
                                               "was written by a newer one"),
                             Error);
    }
}

TEST_CASE("applier::StateDb upgrades a version 2 database with its audit log") {
    const test::Scratch dir;
    RunInfo old_run;
    old_run.action = "apply";
    old_run.name = "greeter";
    old_run.version = "1.0.0";
    {
        // A database as version 2 wrote it: no run_keys table, records in the old form.
        StateDb state(dir.path());
        state.db().exec("DROP TABLE run_keys; UPDATE meta SET value = '2' WHERE key = 'schema_version';");
        (void)state.begin_run(old_run, "name: greeter\n");
        append_audit(state.db(), "applied", "{\"run\":1,\"bundle\":\"greeter\",\"version\":\"1.0.0\"}\n");
        append_audit(state.db(), "pruned", "{\"keep\":1}\n");
    }
    StateDb state(dir.path());
    CHECK(state.meta("schema_version") == "3");
    CHECK(state.run_signing_keys(1).empty());
    RunInfo run = old_run;
    run.signing_keys = {{"0123456789ABCDEF", "release-1"}};
    const std::int64_t id = state.begin_run(run, "name: greeter\n");
    CHECK(state.run_signing_keys(id).size() == 1);
    CHECK(state.run_signing_keys(id)[0].name == "release-1");
    JsonWriter detail;
    detail.begin_object().field("bundle", "greeter");
    state.audit("applied", detail);
    const auto records = state.audit_records();
    REQUIRE(records.size() == 3);
    CHECK(check_audit_chain(records).empty());
    CHECK(records[2].detail.find("\"operator\":{\"user\":") != std::string::npos);
    CHECK(records[2].detail.find("\"host\":") != std::string::npos);
}

TEST_CASE("applier::check_receipts") {
    const test::Scratch dir;
    StateDb state(dir.path());
    for (const char* action : {"staged", "applied", "pruned"}) {
        append_audit(state.db(), action, "{}");
    }
    auto records = state.audit_records();
    Receipt receipt;
    receipt.result = "applied";
    receipt.bundle = "greeter";
    receipt.version = "2.0.0";
    receipt.time = "2026-12-01T10:00:00Z";
    receipt.records = 3;
    receipt.head = records[2].hash;
    receipt.file = "receipts/00000003-abc.json";
    Receipt older = receipt;
    older.records = 1;
    older.head = records[0].hash;
    CHECK(check_receipts(records, {older, receipt}).empty());
    SUBCASE("the newest records deleted") {
        records.resize(1);
        CHECK(check_receipts(records, {older, receipt}) ==
              "the log ends at record 1, but receipt 00000003-abc.json (signed after \"applied\" of greeter 2.0.0 at "
              "2026-12-01T10:00:00Z) covers 3 record(s): records 2 to 3 are missing (the log was truncated)");
    }
    SUBCASE("the log rewritten from a receipt's record on") {
        records[2].hash = std::string(64, 'f');
        CHECK(check_receipts(records, {older, receipt}) ==
              "record 3 is not the one receipt 00000003-abc.json (signed after \"applied\" of greeter 2.0.0 at "
              "2026-12-01T10:00:00Z) covers: its hash is " + std::string(64, 'f') + ", the receipt's head " +
                  receipt.head + " (the log was rewritten)");
    }
}

TEST_CASE("applier::current_operator") {
    ::setenv("SUDO_USER", "alice", 1);
    ::setenv("SUDO_UID", "4242", 1);
    const Operator with_sudo = current_operator();
    ::setenv("SUDO_UID", "not a number", 1);
    const Operator bad_uid = current_operator();
    ::unsetenv("SUDO_USER");
    ::unsetenv("SUDO_UID");
    const Operator plain = current_operator();
    CHECK(with_sudo.sudo_user == "alice");
    CHECK(with_sudo.sudo_uid == 4242);
    CHECK(with_sudo.uid == static_cast<std::int64_t>(::geteuid()));
    CHECK_FALSE(bad_uid.sudo_uid.has_value());
    CHECK(plain.sudo_user.empty());
    CHECK_FALSE(plain.sudo_uid.has_value());
    CHECK_FALSE(plain.host.empty());
}

TEST_CASE("applier::merge_env") {
    const EnvMerge m = merge_env("# site\nPORT=9000\nOLD=1\n", "PORT=8080\nGREETING=hi\nLANGUAGE=en\n");
    CHECK(m.text == "# site\nPORT=9000\nOLD=1\n# added by ferry-applier from the new version's defaults\nGREETING=hi\nLANGUAGE=en\n");
    CHECK(m.added == std::vector<std::string>{"GREETING", "LANGUAGE"});
    CHECK(m.dropped == std::vector<std::string>{"OLD"});
    CHECK(merge_env("A=1", "A=2\n").text == "A=1");
}

TEST_CASE("applier::run_command") {
    const test::Scratch dir;
    SUBCASE("exit code and output") {
        const CommandResult r = run_command({{"sh", "-c", "echo hello; exit 3"}, std::chrono::seconds(5), {}, dir / "log", {}});
        CHECK(r.exit_code == 3);
        CHECK_FALSE(r.timed_out);
        CHECK(r.output_tail == "hello");
        CHECK(describe(r, std::chrono::seconds(5)) == "exit code 3; output: hello");
    }
    SUBCASE("timeout ends the process group") {
        const CommandResult r = run_command({{"sh", "-c", "sleep 30 & sleep 30"}, std::chrono::milliseconds(200), {}, dir / "log", {}});
        CHECK(r.timed_out);
        CHECK(describe(r, std::chrono::seconds(1)) == "timed out after 1 s");
    }
    SUBCASE("environment and missing program") {
        const CommandResult r = run_command({{"sh", "-c", "echo $FERRY_X"}, std::chrono::seconds(5), {{"FERRY_X", "42"}}, dir / "log", {}});
        CHECK(r.output_tail == "42");
        const CommandResult missing = run_command({{"/nonexistent/x"}, std::chrono::seconds(5), {}, dir / "log", {}});
        CHECK(missing.exit_code == 127);
        CHECK(missing.output_tail == "cannot run /nonexistent/x: No such file or directory");
    }
    SUBCASE("a labelled command gets a header and a footer in the log, not in its output") {
        const CommandResult r = run_command({{"sh", "-c", "echo hi"}, std::chrono::seconds(5), {}, dir / "log", "stop hook"});
        CHECK(r.output_tail == "hi");
        const std::string log = read_file(dir / "log");
        CHECK(log.starts_with("--- "));
        CHECK(log.find(" stop hook: sh -c 'echo hi'\nhi\n--- ") != std::string::npos);
        CHECK(log.find(" stop hook: exit code 0, after ") != std::string::npos);
    }
    CHECK(expand({"{root}/bin", "x{root}y{root}"}, {{"root", "/r"}}) == std::vector<std::string>{"/r/bin", "x/ry/r"});
}

TEST_CASE("applier::shell_quoted") {
    CHECK(shell_quoted({"/usr/bin/greeterctl", "stop", "/srv/root"}) == "/usr/bin/greeterctl stop /srv/root");
    CHECK(shell_quoted({"sh", "-c", "echo a, b"}) == "sh -c 'echo a, b'");
    CHECK(shell_quoted({"printf", "it's", ""}) == "printf 'it'\\''s' ''");
}

TEST_CASE("applier::apply_sql_migration") {
    const test::Scratch dir;
    Database db(dir / "app.db", true);
    apply_sql_migration(db, "0001", "c1", "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT); INSERT INTO t(v) VALUES('a');", "1.0.0");
    CHECK(migration_ledger(db) == std::map<std::string, std::string>{{"0001", "c1"}});
    SUBCASE("an error in the middle leaves the database as it was") {
        CHECK_THROWS_WITH_AS(apply_sql_migration(db, "0002", "c2", "ALTER TABLE t ADD COLUMN w TEXT; INSERT INTO nope VALUES(1);", "2.0.0"),
                             doctest::Contains("migration 0002 failed: "), Error);
        CHECK(migration_ledger(db).size() == 1);
        CHECK(db.query_text("SELECT COUNT(*) FROM pragma_table_info('t')") == "2");
    }
    SUBCASE("down") {
        revert_sql_migration(db, "0001", "DROP TABLE t;");
        CHECK(migration_ledger(db).empty());
        CHECK_FALSE(db.query_text("SELECT name FROM sqlite_master WHERE name = 't'"));
    }
    SUBCASE("backup and restore") {
        backup_database(dir / "app.db", dir / "backup.db");
        db.exec("DELETE FROM t");
        restore_database(dir / "backup.db", dir / "app.db");
        CHECK(db.query_text("SELECT v FROM t") == "a");
    }
}

TEST_CASE("applier::RootFs") {
    const test::Scratch dir;
    std::filesystem::create_directories(dir / "root/etc");
    RootFs root(dir / "root");
    root.install_data("/usr/bin/app", "binary", 0755);
    CHECK(root.read("/usr/bin/app") == "binary");
    CHECK((std::filesystem::status(dir / "root/usr/bin/app").permissions() & std::filesystem::perms::owner_exec) !=
          std::filesystem::perms::none);
    SUBCASE("never through a symlink") {
        std::filesystem::create_directories(dir / "outside");
        std::filesystem::create_directory_symlink(dir / "outside", dir / "root/opt");
        CHECK_THROWS_WITH_AS(root.install_data("/opt/evil", "x", 0644),
                             doctest::Contains("is a symlink or not a folder; Ferry does not install through symlinks"), Error);
        CHECK(std::filesystem::is_empty(dir / "outside"));
    }
    SUBCASE("remove and copy out") {
        CHECK(root.copy_out("/usr/bin/app", dir / "copy/app"));
        root.remove("/usr/bin/app");
        CHECK_FALSE(root.exists("/usr/bin/app"));
        CHECK_FALSE(root.copy_out("/usr/bin/app", dir / "copy/again"));
    }
}
