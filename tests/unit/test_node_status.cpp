#include "applier/node/node_status.hpp"
#include "applier/node/plan_report.hpp"
#include "core/error.hpp"
#include "manifest-schema/procedure.hpp"
#include "scratch.hpp"

#include <doctest/doctest.h>

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

using namespace ferry;
using namespace ferry::applier;

TEST_CASE("applier::read_node_status") {
    const test::Scratch dir;
    SUBCASE("no state folder: fresh, and none is created") {
        const NodeStatus status = read_node_status(dir / "state");
        CHECK(status.state == NodeState::fresh);
        CHECK(!status.installed);
        CHECK(exit_code(status.state) == 0);
        CHECK(!std::filesystem::exists(dir / "state"));
    }
    SUBCASE("a state database with nothing installed: fresh") {
        { StateDb state(dir / "state"); }
        CHECK(read_node_status(dir / "state").state == NodeState::fresh);
    }
    SUBCASE("a run left running: interrupted, unless its applier still holds the lock") {
        {
            StateDb state(dir / "state");
            const RunInfo run{0, "apply", "app", "1.0.0", "", 1, RunState::running, "", "", "", "", "", {}};
            (void)state.begin_run(run, "manifest");
        }
        const NodeStatus interrupted = read_node_status(dir / "state");
        CHECK(interrupted.state == NodeState::interrupted);
        CHECK(interrupted.run->version == "1.0.0");
        CHECK(exit_code(interrupted.state) == 7);

        const int fd = ::open((dir / "state" / "lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        REQUIRE(fd >= 0);
        REQUIRE(::flock(fd, LOCK_EX | LOCK_NB) == 0);
        REQUIRE(::write(fd, "4242\n", 5) == 5);
        const NodeStatus busy = read_node_status(dir / "state");
        CHECK(busy.state == NodeState::in_progress);
        CHECK(busy.holder_pid == 4242);
        CHECK(exit_code(busy.state) == 4);
        ::close(fd);
    }
}

TEST_CASE("applier::lock_holder") {
    const test::Scratch dir;
    CHECK(!lock_holder(dir.path()));
    const auto lock = dir.write("lock", "not a pid\n");
    CHECK(!lock_holder(dir.path()));
    const int fd = ::open(lock.c_str(), O_RDONLY | O_CLOEXEC);
    REQUIRE(fd >= 0);
    REQUIRE(::flock(fd, LOCK_EX | LOCK_NB) == 0);
    CHECK(lock_holder(dir.path()) == 0);
    ::close(fd);
    CHECK(!lock_holder(dir.path()));
}

TEST_CASE("schema::never_installed_problem") {
    schema::Procedure procedure;
    CHECK(schema::never_installed_problem("image", false, false, procedure) ==
          "an image with no format and refs, and no dest, is installed only by procedure.images.load, which is "
          "missing");
    CHECK(!schema::never_installed_problem("image", true, false, procedure));
    CHECK(!schema::never_installed_problem("image", false, true, procedure));
    CHECK(!schema::never_installed_problem("migration", false, false, procedure));
    procedure.image_load = {"podman", "load", "-i", "{path}"};
    CHECK(!schema::never_installed_problem("image", false, false, procedure));
}

TEST_CASE("applier::exit_code(PlanResult)") {
    CHECK(exit_code(PlanResult::ok) == 0);
    CHECK(exit_code(PlanResult::already_installed) == 0);
    CHECK(exit_code(PlanResult::refused) == 4);
}
