#!/usr/bin/env bash
# The man pages and bash completion generated at build time (build/generated-docs): every command
# and option the tools' own --help lists appears in both, the man pages render without warnings,
# and the completion completes commands, options and files.
source "$(dirname "$0")/lib.sh"

readonly docs="$FERRY_BUILD_DIR/generated-docs"

# help_words TOOL WORDS...: the subcommands and option names that `TOOL WORDS... --help` lists,
# one a line: "command NAME" or "option NAME".
help_words() {
    "$@" --help | awk '
        /^Subcommands:/ { section = "command"; next }
        /^Options:/ { section = "option"; next }
        /^[^ ]/ || /^$/ { section = "" }
        section == "command" && /^  [a-z]/ { print "command " $1 }
        section == "option" && /^  -/ { n = split($1, names, ","); for (i = 1; i <= n; i++) print "option " names[i] }'
}

# check_tool TOOL BINARY: walks TOOL's --help, command by command.
check_tool() {
    local tool=$1 binary=$2
    local man="$docs/man1/$tool.1" completion="$docs/completions/$tool"
    local queue=("") path kind name missing=0 count=0
    while [ "${#queue[@]}" -gt 0 ]; do
        path=${queue[0]}
        queue=("${queue[@]:1}")
        # shellcheck disable=SC2086 # the path's words are the command line
        while read -r kind name; do
            count=$((count + 1))
            local escaped=${name//-/\\-}
            if [ "$kind" = command ]; then
                queue+=("${path:+$path }$name")
                if ! grep -qF ".SS \"${path:+${path//-/\\-} }$escaped\"" "$man"; then
                    fail "$tool.1 lacks the command \"${path:+$path }$name\""
                    missing=1
                fi
                if ! grep -qE "^    \"$path\"\) cmds=\"([^\"]* )?$name( [^\"]*)?\"" "$completion"; then
                    fail "completion of $tool lacks the command \"${path:+$path }$name\""
                    missing=1
                fi
            else
                if ! grep -qF "\\fB$escaped\\fR" "$man"; then
                    fail "$tool.1 lacks the option $name of \"$path\""
                    missing=1
                fi
                if ! grep -qE "^    \"$path\"\) cmds=\"[^\"]*\" opts=\"([^\"]* )?$name( [^\"]*)?\"" "$completion"; then
                    fail "completion of $tool lacks the option $name of \"$path\""
                    missing=1
                fi
            fi
        done < <(help_words "$binary" $path)
    done
    if [ "$missing" -eq 0 ]; then
        pass "$tool: every command and option of --help ($count) is in the man page and the completion"
    fi
}

check_tool ferry-applier "$FERRY_APPLIER"
check_tool ferry-bundler "$FERRY_BUNDLER"

for tool in ferry-applier ferry-bundler; do
    if command -v groff >/dev/null; then
        run groff -man -Tutf8 -ww -z "$docs/man1/$tool.1"
        if [ "$RC" -eq 0 ] && [ ! -s "$SCRATCH/err" ]; then
            pass "$tool.1 renders without warnings"
        else
            fail "$tool.1: groff: $(cat "$SCRATCH/err")"
        fi
    fi
    expect_ok "the completion of $tool is valid bash" bash -n "$docs/completions/$tool"
done

# complete WORDS...: what the completion of the tool named by the first word offers for the last.
complete_words() {
    local tool=$1
    bash -c 'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); "_${1//-/_}"; printf "%s\n" "${COMPREPLY[@]}"' \
        complete "$docs/completions/$tool" "$@"
}
mkdir -p "$SCRATCH/dir"
touch "$SCRATCH/dir/spec.yaml"
cd "$SCRATCH/dir" || exit 1
run complete_words ferry-applier ""
expect_output "commands of ferry-applier" "rollback"
run complete_words ferry-applier au
expect_output "a command's prefix" "audit"
run complete_words ferry-applier audit ""
expect_output "audit's subcommands" "export"
run complete_words ferry-applier apply --st
expect_output "apply's options" "--state-dir"
run complete_words ferry-applier apply --trust ""
expect_output "a file for an option's value" "spec.yaml"
run complete_words ferry-bundler build ""
expect_output "a file for build's spec" "spec.yaml"
run complete_words ferry-bundler key generate --
expect_output "key generate's options" "--unencrypted"
