#!/usr/bin/env bash
# Generates the mixed corpus that scripts/bench.sh bundles (see docs/benchmarks.md).
# Usage: bench_corpus.sh OUT_DIR SIZE_MIB [SMALL_FILES]
#
# With SMALL_FILES, a corpus of many small files instead: bin/, tars/ and random/ hold 1 MiB
# each and text/ the rest of SIZE_MIB, cut into SMALL_FILES text files.
#
# OUT_DIR must not exist. The corpus is built in OUT_DIR.tmp and renamed to OUT_DIR only when
# it is complete, so an existing OUT_DIR is always a whole corpus. Its layout:
#   bin/     ELF files copied from /usr/bin, /usr/sbin, /usr/lib, /usr/libexec (regular files
#            only, symlinks not followed, one copy per inode), at their original paths  ~39 %
#   tars/    tar archives of /usr/share trees (the last one cut to fit)                   ~33 %
#   random/  six files of /dev/urandom bytes                                              ~17 %
#   text/    about 5000 text files per GiB, 0.1x to 1.9x the mean size, made of the lines
#            of text files found on the system (copyright files, Perl modules, headers...) ~11 %
# The parts keep the proportions 350:300:150:100 of SIZE_MIB; small systems may give less.
set -euo pipefail

if [[ $# -lt 2 || $# -gt 3 || ! $2 =~ ^[0-9]+$ || $2 -lt 16 || ! ${3:-1} =~ ^[1-9][0-9]*$ ]]; then
    echo "usage: $0 OUT_DIR SIZE_MIB [SMALL_FILES] (SIZE_MIB >= 16)" >&2
    exit 2
fi
readonly out=$1
readonly size_mib=$2
readonly small_files=${3:-0}
readonly mib=$((1024 * 1024))

if [[ -e $out ]]; then
    echo "$0: error: $out already exists" >&2
    exit 1
fi

if ((small_files > 0)); then
    readonly bin_budget=$mib tar_budget=$mib random_budget=$((6 * (mib / 6)))
    text_count=$small_files
else
    readonly bin_budget=$((size_mib * 350 * mib / 900))
    readonly tar_budget=$((size_mib * 300 * mib / 900))
    readonly random_budget=$((size_mib * 150 * mib / 900))
    text_count=$((5000 * size_mib / 1024))
    ((text_count < 200)) && text_count=200
fi
readonly text_budget=$((size_mib * mib - bin_budget - tar_budget - random_budget))
readonly text_count

readonly tmp=$out.tmp
rm -rf -- "$tmp"
mkdir -p -- "$tmp"/{bin,tars,random,text}

log() { printf 'corpus: %s\n' "$*" >&2; }

# --- ELF files -------------------------------------------------------------------------------
# A name we can put in a bundle and in a SHA256SUMS line without escaping.
safe_name() { [[ $1 =~ ^[A-Za-z0-9._+@/:=,~-]+$ ]]; }

declare -A seen_inode=()
declare -A made_dir=()
copied=0
# copy_elves LIMIT DIR...: copies ELF files of DIRs, in sorted path order, while they fit in
# LIMIT bytes in all.
copy_elves() {
    local -r limit=$1
    shift
    local dirs=() d
    for d in "$@"; do
        [[ -d $d && ! -L $d ]] && dirs+=("$d")
    done
    ((${#dirs[@]} > 0)) || return 0
    local inode size path magic dest
    # -P: never follow symlinks; -type f: regular files only. Files over 64 MiB are left out
    # so that no single library dominates the part, and so are detached debug symbols.
    while IFS=$'\t' read -r -d '' inode size path; do
        ((copied >= limit)) && break
        ((size >= 1024 && size <= 64 * mib && copied + size <= limit)) || continue
        [[ -z ${seen_inode[$inode]:-} ]] || continue
        safe_name "$path" || continue
        magic=""
        LC_ALL=C IFS= read -r -d '' -N 4 magic <"$path" 2>/dev/null || true
        [[ $magic == $'\x7fELF' ]] || continue
        seen_inode[$inode]=1
        dest=$tmp/bin${path}
        if [[ -z ${made_dir[${dest%/*}]:-} ]]; then
            mkdir -p -- "${dest%/*}"
            made_dir[${dest%/*}]=1
        fi
        cp -- "$path" "$dest" 2>/dev/null || continue
        chmod 0644 -- "$dest"
        copied=$((copied + size))
    done < <(find -P "${dirs[@]}" -xdev -path /usr/lib/debug -prune -o -type f -printf '%i\t%s\t%p\0' 2>/dev/null | sort -z -t $'\t' -k3,3)
}
log "ELF files: $((bin_budget / mib)) MiB"
copy_elves $((bin_budget / 2)) /usr/bin /usr/sbin
copy_elves "$bin_budget" /usr/lib /usr/libexec /usr/lib64
log "  copied $((copied / mib)) MiB in $(find "$tmp/bin" -type f | wc -l) files"

# --- tar files of /usr/share trees -----------------------------------------------------------
log "tar files: $((tar_budget / mib)) MiB"
tarred=0
for tree in doc locale perl perl5 man icons vim i18n fpcsrc zoneinfo info fonts mime \
    cmake-3.25 X11 terminfo; do
    ((tarred < tar_budget)) || break
    [[ -d /usr/share/$tree && ! -L /usr/share/$tree ]] || continue
    left=$((tar_budget - tarred))
    # tar does not follow symlinks; head cuts the last archive to the budget (tar then dies of
    # SIGPIPE, which is expected).
    (tar -cf - -C /usr/share "$tree" 2>/dev/null || true) | head -c "$left" >"$tmp/tars/$tree.tar"
    size=$(stat -c %s -- "$tmp/tars/$tree.tar")
    if ((size == 0)); then
        rm -f -- "$tmp/tars/$tree.tar"
        continue
    fi
    tarred=$((tarred + size))
done
log "  wrote $((tarred / mib)) MiB in $(find "$tmp/tars" -type f | wc -l) files"

# --- random data ------------------------------------------------------------------------------
log "random data: $((random_budget / mib)) MiB"
for i in 1 2 3 4 5 6; do
    head -c $((random_budget / 6)) /dev/urandom >"$tmp/random/random-$i.bin"
done

# --- small text files -------------------------------------------------------------------------
log "text files: $((text_budget / mib)) MiB in about $text_count files"
pool=$tmp.pool
text_sources=()
for d in /usr/share/doc /usr/share/perl /usr/share/perl5 /usr/lib/x86_64-linux-gnu/perl-base \
    /usr/include /usr/share/cmake-3.25 /usr/share/vim /usr/share/fpcsrc /usr/share/common-licenses; do
    [[ -d $d && ! -L $d ]] && text_sources+=("$d")
done
if ((${#text_sources[@]} == 0)); then
    echo "$0: error: no text sources found below /usr/share or /usr/include" >&2
    exit 1
fi
# Text-looking names only; copyright files first (they sort first: the doc tree is listed
# first). head stops the pipe once the pool is big enough.
{ find -P "${text_sources[@]}" -type f -size -1024k \( -name copyright -o -name '*.txt' \
    -o -name '*.pm' -o -name '*.pl' -o -name '*.pod' -o -name '*.h' -o -name '*.hpp' \
    -o -name '*.cmake' -o -name '*.vim' -o -name '*.pas' -o -name '*.pp' -o -name '*.inc' \
    -o -name '*.md' -o -name 'README*' -o -name 'GPL*' -o -name '*.py' \) -print0 2>/dev/null \
    | xargs -0 -r cat 2>/dev/null | LC_ALL=C tr -d '\000' || true; } | head -c "$text_budget" >"$pool"
pool_size=$(stat -c %s -- "$pool")
if ((pool_size == 0)); then
    echo "$0: error: found no text to make text files of" >&2
    exit 1
fi
# Too little text on this system: repeat what there is.
while ((pool_size < text_budget)); do
    head -c $((text_budget - pool_size)) "$pool" >>"$pool.more"
    cat "$pool.more" >>"$pool"
    rm -f "$pool.more"
    pool_size=$(stat -c %s -- "$pool")
done
# One awk splits the pool at line ends into files of 0.1x..1.9x the mean size (fixed seed), 100
# files per folder: about text_count files in all.
LC_ALL=C awk -v n="$text_count" -v total="$text_budget" -v dir="$tmp/text" '
    function next_file() {
        if (out != "") close(out)
        i++
        sub_dir = sprintf("%s/d%04d", dir, int((i - 1) / 100))
        if (!(sub_dir in made)) { system("mkdir -p \"" sub_dir "\""); made[sub_dir] = 1 }
        out = sprintf("%s/text-%06d.txt", sub_dir, i)
        target = mean * (0.1 + 1.8 * rand())
        size = 0
    }
    BEGIN { srand(42); mean = total / n; next_file() }
    {
        print > out
        size += length($0) + 1
        written += length($0) + 1
        if (written >= total) exit
        if (size >= target) next_file()
    }' "$pool"
rm -f -- "$pool"
log "  wrote $(find "$tmp/text" -type f | wc -l) files"

mv -- "$tmp" "$out"
log "done: $out, $(du -sb -- "$out" | cut -f1) bytes"
