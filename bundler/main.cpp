#include "bundler/commands.hpp"

int main(int argc, char** argv) { return ferry::bundler::run_bundler(argc, argv); }
