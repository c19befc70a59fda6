#pragma once

// What a command says on standard error besides its result: how much (quiet, normal,
// verbose), whether in colour, and whether stderr is a terminal that can redraw a line.

#include <string>

namespace ferry {

// How much a command says on stderr; its result on stdout is the same at every level.
enum class Verbosity {
    quiet,   // errors, warnings and the result only (-q)
    normal,  // also progress and the lines a procedure prints as it goes
    verbose, // also each step of the work, and progress lines for small work too (-v)
};

// The level set by the command line (normal until set).
[[nodiscard]] Verbosity verbosity();
// Sets the level, once, from -q or -v.
void set_verbosity(Verbosity level);

// Whether stderr is a terminal that can redraw a line: a tty and TERM is not "dumb".
[[nodiscard]] bool stderr_is_terminal();
// Whether stderr gets colour: it is a terminal and NO_COLOR is unset or empty (no-color.org).
[[nodiscard]] bool stderr_in_colour();

// The style of a message's label on stderr.
enum class Tone { error, warning, hint };
// LABEL ("error:", "warning:", "hint:") in its tone's colour when stderr is in colour, else as it
// is.
[[nodiscard]] std::string paint(Tone tone, const std::string& label);

// Prints "warning: TEXT" on stderr at every level (escaped, coloured on a terminal).
void warn(const std::string& text);
// Prints "TEXT" on stderr unless quiet: what a procedure reports as it goes.
void say(const std::string& text);
// Prints "  TEXT" on stderr when verbose: one step of the work.
void step(const std::string& text);

} // namespace ferry
