#pragma once

// What `plan` shows, built as a value: the bundle verified in full, the plan against this
// site, a diff of each configuration file apply changes, the hooks, checks and image loads
// that will run, and the operator's checklist. The tool only renders it.

#include "applier/node/plan.hpp"

#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace ferry::applier {

// What apply would do with the bundle, in the terms of its exit code.
enum class PlanResult {
    ok,                // apply may proceed
    refused,           // apply would be refused (exit 4)
    already_installed, // apply would have nothing to do
};

// One command the procedure will run, with {root} filled in as apply fills it.
struct PlannedCommand {
    std::string name; // the hook ("stop", ...), the check's name, or the image's payload path
    std::vector<std::string> argv;
    std::uint64_t retries = 0; // health checks: tried retries + 1 times
};

// One image reference apply will push or load, and whether its target already has it.
struct PlannedImage {
    std::string file;        // the image file's payload path
    std::string ref;         // NAME:TAG
    std::string digest;      // the signed manifest digest (empty for a docker archive)
    std::string config;      // the signed config digest
    std::string destination; // where it goes ("docker://127.0.0.1:5000/greeter:1.0.0")
    bool present = false;    // the target already holds these digests under ref
    std::string detail;      // what the target holds instead, or why it could not be read
};

// One line of the checklist: done by Ferry, or the operator's to do.
struct ChecklistItem {
    std::string text;
    bool automatic = false;
};

struct PlanReport {
    PlanResult result = PlanResult::ok;
    Plan plan;
    std::filesystem::path root;
    std::string bundle_name;
    std::uint64_t sequence = 0;
    std::vector<std::string> breaking_changes;
    std::string release_notes;
    std::map<std::string, std::string> diffs; // install path -> unified diff of what apply changes
    std::vector<PlannedCommand> hooks;        // in the order apply runs them
    std::vector<PlannedCommand> health;
    std::vector<PlannedCommand> smoke;
    std::vector<PlannedCommand> image_loads;
    std::string image_target;           // the node's image target in a few words, if there are images
    std::vector<PlannedImage> images;
    std::vector<ChecklistItem> checklist;
};

struct PlanRequest {
    std::filesystem::path bundle;
    std::filesystem::path trust; // empty: the node's own below the root
    std::filesystem::path root = "/";
    std::filesystem::path state_dir;
    PolicyOptions policy;
    bool progress = true;
};

// Verifies the bundle in full and works out what apply would do at this site; writes nothing
// (a site without state is planned against an empty, temporary one).
[[nodiscard]] PlanReport make_plan_report(const PlanRequest& request);

// The result's name in JSON ("ok", "refused", "already_installed").
[[nodiscard]] std::string plan_result_name(PlanResult result);

// The exit code `plan` ends with: 4 when apply would be refused, else 0.
[[nodiscard]] int exit_code(PlanResult result);

} // namespace ferry::applier
