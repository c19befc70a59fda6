#include "applier/commands.hpp"

int main(int argc, char** argv) { return ferry::applier::run_applier(argc, argv); }
