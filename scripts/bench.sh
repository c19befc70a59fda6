#!/usr/bin/env bash
# Ferry benchmark, run by hand (not part of the test suite). See docs/benchmarks.md.
#
# Usage: scripts/bench.sh [--corpus DIR] [--size-mib N] [--keep] [--work DIR] [--build DIR]
#                         [--wait-quiet SECONDS]
#   --corpus DIR   corpus to bundle: reused if DIR exists (a corpus this script generated
#                  earlier), generated there otherwise. Default: WORK/corpus, generated afresh.
#   --size-mib N   size of a generated corpus in MiB (default 1024)
#   --keep         keep the bundles, archives and keys of the run in WORK/run
#   --work DIR     work folder (default /var/tmp/ferry-bench)
#   --build DIR    build tree holding bundler/ferry-bundler and applier/ferry-applier
#                  (default: build-bench, else build, below the repository); use a Release build
#   --wait-quiet S  before timing, wait up to S seconds for other processes to leave the
#                  machine (under 10 % busy); default 0: measure at once
#
# It times Ferry's build and verify against the pipeline a user would script from tar, zstd,
# sha256sum and minisign, and against bare tar | zstd, with a warm page cache. Where Debian's
# rauc and squashfs-tools are installed, also RAUC: a bundle of the same tree (verity format,
# squashfs compressed with zstd level 3, signed with a self-signed certificate) built with
# `rauc bundle` and installed as `rauc extract` plus sync. Each timing is
# the median of 3 runs; the runs of the different commands are interleaved.
set -euo pipefail

repo=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)
readonly repo
readonly reps=3
readonly inspect_runs=20

usage() { sed -n '2,18s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; }
die() {
    echo "bench: error: $*" >&2
    exit 1
}

corpus=""
size_mib=1024
keep=0
work=/var/tmp/ferry-bench
build=""
wait_quiet=0
while (($# > 0)); do
    case $1 in
    --corpus) corpus=${2:?--corpus needs a folder}; shift 2 ;;
    --size-mib) size_mib=${2:?--size-mib needs a number}; shift 2 ;;
    --keep) keep=1; shift ;;
    --work) work=${2:?--work needs a folder}; shift 2 ;;
    --build) build=${2:?--build needs a folder}; shift 2 ;;
    --wait-quiet) wait_quiet=${2:?--wait-quiet needs seconds}; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
    esac
done
if [[ ! $size_mib =~ ^[0-9]+$ ]] || ((size_mib < 16)); then
    die "--size-mib must be a whole number >= 16"
fi
[[ $wait_quiet =~ ^[0-9]+$ ]] || die "--wait-quiet must be a whole number of seconds"

# --- tools --------------------------------------------------------------------------------------
if [[ -z $build ]]; then
    for candidate in "$repo/build-bench" "$repo/build"; do
        if [[ -x $candidate/bundler/ferry-bundler ]]; then
            build=$candidate
            break
        fi
    done
fi
[[ -n $build ]] || die "no build tree found; build one with
  cmake -S $repo -B $repo/build-bench -DCMAKE_BUILD_TYPE=Release && cmake --build $repo/build-bench -j\$(nproc)"
build=$(cd -- "$build" && pwd)
readonly build
readonly bundler=$build/bundler/ferry-bundler
readonly applier=$build/applier/ferry-applier
[[ -x $bundler && -x $applier ]] || die "$build has no bundler/ferry-bundler or applier/ferry-applier"
build_type=$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$build/CMakeCache.txt" 2>/dev/null || true)
if [[ $build_type != Release ]]; then
    echo "bench: warning: $build is a '${build_type:-unknown}' build, not Release: figures will be off" >&2
fi
stale=$(find "$repo"/core "$repo"/bundler "$repo"/applier "$repo"/manifest-schema -newer "$bundler" \
    \( -name '*.cpp' -o -name '*.hpp' -o -name CMakeLists.txt \) 2>/dev/null | head -n 3 || true)
if [[ -n $stale ]]; then
    echo "bench: warning: sources are newer than $bundler (e.g. ${stale%%$'\n'*}): rebuild it first" >&2
fi
commit=$(git -C "$repo" describe --always --dirty 2>/dev/null || echo unknown)
readonly commit

if [[ ! -x /usr/bin/time ]]; then
    if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
        echo "bench: installing GNU time (/usr/bin/time)" >&2
        apt-get install -y -q time >/dev/null || die "apt-get install time failed"
    else
        die "/usr/bin/time (GNU time) is missing: install the 'time' package"
    fi
fi
for tool in tar zstd sha256sum minisign timeout awk find xargs sort; do
    command -v "$tool" >/dev/null || die "$tool is missing"
done

# --- corpus -------------------------------------------------------------------------------------
started=$EPOCHREALTIME
mkdir -p -- "$work"
work=$(cd -- "$work" && pwd)
readonly work
if [[ -z $corpus ]]; then
    corpus=$work/corpus
    rm -rf -- "$corpus" "$corpus.tmp"
fi
if [[ -d $corpus ]]; then
    echo "bench: reusing the corpus in $corpus" >&2
else
    echo "bench: generating a $size_mib MiB corpus in $corpus" >&2
    mkdir -p -- "$(dirname -- "$corpus")"
    bash "$repo/scripts/bench_corpus.sh" "$corpus" "$size_mib"
fi
corpus=$(cd -- "$corpus" && pwd)
readonly corpus
for part in bin tars random text; do
    [[ -d $corpus/$part ]] || die "$corpus has no $part/ folder: not a corpus of scripts/bench_corpus.sh"
done
extra=$(find "$corpus" -mindepth 1 -maxdepth 1 ! -name bin ! -name tars ! -name random ! -name text | head -n 3)
[[ -z $extra ]] || die "$corpus holds more than bin/ tars/ random/ text/: $extra"
corpus_bytes=$(find "$corpus" -type f -printf '%s\n' | awk '{ s += $1 } END { printf "%.0f", s }')
corpus_files=$(find "$corpus" -type f | wc -l)
readonly corpus_bytes corpus_files
corpus_setup_s=$(awk -v a="$started" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.0f", b - a }')

# Bounded runtime: no single command may take longer than this (a hang is a failure).
limit_s=$((120 + 300 * corpus_bytes / (1024 * 1024 * 1024)))
readonly limit_s

# --- run folder, keys, spec ---------------------------------------------------------------------
readonly run=$work/run
rm -rf -- "$run"
mkdir -p -- "$run"/{keys,out,naive}
cleanup() {
    if ((keep == 0)); then
        rm -rf -- "$run"
    fi
}
trap cleanup EXIT

bash "$repo/samples/make-test-keys.sh" "$bundler" "$run/keys" 2>/dev/null >/dev/null ||
    die "samples/make-test-keys.sh failed"
readonly key=$run/keys/test-release-1.key
readonly trust=$run/keys/trust.yaml
# A corpus of many small files has a manifest over the default site limits (16 MiB, 100,000
# files); a site with such bundles raises them in its trust store, as here, within the format's caps.
echo "limits: {manifest_bytes: 268435456, files: 1000000}" >>"$trust"
minisign -G -f -W -p "$run/keys/mk.pub" -s "$run/keys/mk.key" >/dev/null || die "minisign -G failed"

readonly spec=$run/ferry-bench.yaml
cat >"$spec" <<EOF
# Written by scripts/bench.sh: the benchmark corpus as one component.
name: ferry-bench
version: 1.0.0
sequence: 1
expires_in_days: 30
compatible: {product: ferry-bench, channel: bench}
upgrade_from: ">=0.0.0 <1.0.0"
breaking_changes: []
components:
  - name: corpus
    version: 1.0.0
    files:
      - {source: "$corpus/bin/", role: binary, dest: /opt/corpus/bin/}
      - {source: "$corpus/tars/", role: doc, dest: /opt/corpus/tars/}
      - {source: "$corpus/random/", role: doc, dest: /opt/corpus/random/}
      - {source: "$corpus/text/", role: doc, dest: /opt/corpus/text/}
EOF
readonly bundle=$run/out/ferry-bench-1.0.0.ferry
readonly naive=$run/naive.tar.zst
readonly plain=$run/plain.tar.zst
readonly sums=$run/naive/SHA256SUMS
readonly extract=$run/x

# --- the commands -------------------------------------------------------------------------------
# Each is one bash -c script, so that /usr/bin/time sees a whole pipeline; the Ferry commands run
# directly under time so that its %M is Ferry's own peak RSS.
declare -A cmd_text=() prepare=()
names=(ferry_build ferry_build_fast naive_build plain_build ferry_verify naive_verify plain_verify ferry_apply plain_extract)

cmd_text[ferry_build]="$bundler build $spec --key $key --out-dir $run/out --force -q --level 3"
prepare[ferry_build]="rm -f $bundle"
# The same without its self-check, into a folder of its own (the bundle above is the one measured next).
cmd_text[ferry_build_fast]="$bundler build $spec --key $key --out-dir $run/out-fast --force -q --level 3 --no-self-check"
prepare[ferry_build_fast]="rm -rf $run/out-fast && mkdir $run/out-fast"

# SHA256SUMS goes into the archive, beside the corpus files (like Ferry's manifest in the
# bundle), and the signature covers the whole archive.
cmd_text[naive_build]="set -o pipefail
(cd $corpus && find . -type f -print0 | sort -z | xargs -0 sha256sum > $sums) &&
tar -cf - -C $run/naive SHA256SUMS -C $corpus . | zstd -T0 -3 -q > $naive &&
minisign -S -s $run/keys/mk.key -m $naive >/dev/null"
prepare[naive_build]="rm -f $sums $naive $naive.minisig"

cmd_text[plain_build]="set -o pipefail
tar -cf - -C $corpus . | zstd -T0 -3 -q > $plain"
prepare[plain_build]="rm -f $plain"

cmd_text[ferry_verify]="$applier verify $bundle --trust $trust -q"
prepare[ferry_verify]=":"

cmd_text[naive_verify]="set -o pipefail
minisign -Vm $naive -p $run/keys/mk.pub -q && mkdir $extract &&
zstd -dc $naive | tar -xf - -C $extract && (cd $extract && sha256sum -c --quiet SHA256SUMS)"
prepare[naive_verify]="rm -rf $extract"

cmd_text[plain_verify]="zstd -dc $plain > /dev/null"
prepare[plain_verify]=":"

# Apply to an empty sandbox root: verify, stage, install every file (each fsynced and renamed
# into place), commit. The baseline extracts the same data and syncs it, as durable as apply.
cmd_text[ferry_apply]="$applier apply $bundle --trust $trust --root $run/root --state-dir $run/state -q"
prepare[ferry_apply]="rm -rf $run/root $run/state && mkdir $run/root"
cmd_text[plain_extract]="set -o pipefail
mkdir $run/xroot && zstd -dc $plain | tar -xf - -C $run/xroot && sync -f $run/xroot"
prepare[plain_extract]="rm -rf $run/xroot"

# RAUC, where it is installed: the same tree as the bundle's content (hard links, made before
# timing), one marker file as its one image so the manifest is valid.
rauc_dir=$run/rauc
readonly raucb=$rauc_dir/bench.raucb
have_rauc=0
if command -v rauc >/dev/null && command -v mksquashfs >/dev/null && command -v unsquashfs >/dev/null; then
    have_rauc=1
    mkdir -p "$rauc_dir/content"
    openssl req -x509 -newkey rsa:2048 -nodes -keyout "$rauc_dir/key.pem" -out "$rauc_dir/cert.pem" \
        -subj /CN=ferry-bench -days 30 2>/dev/null || die "openssl could not make RAUC's certificate"
    cp -al "$corpus/." "$rauc_dir/content/corpus" 2>/dev/null || cp -a "$corpus/." "$rauc_dir/content/corpus"
    printf 'ferry-bench\n' >"$rauc_dir/content/corpus.marker"
    printf '[update]\ncompatible=ferry-bench\nversion=1.0.0\n\n[bundle]\nformat=verity\n\n[image.corpus]\nfilename=corpus.marker\n' \
        >"$rauc_dir/content/manifest.raucm"
    names+=(rauc_build rauc_extract)
    cmd_text[rauc_build]="rauc bundle --cert $rauc_dir/cert.pem --key $rauc_dir/key.pem --mksquashfs-args='-comp zstd -Xcompression-level 3' $rauc_dir/content $raucb"
    prepare[rauc_build]="rm -f $raucb"
    cmd_text[rauc_extract]="rauc extract --keyring $rauc_dir/cert.pem $raucb $rauc_dir/x && sync -f $rauc_dir/x"
    prepare[rauc_extract]="rm -rf $rauc_dir/x"
else
    echo "bench: rauc, mksquashfs or unsquashfs missing (Debian's rauc and squashfs-tools): RAUC not timed" >&2
fi

declare -A times=() rss=() cpu=() ucpu=()

# timed NAME: runs the command NAME once under /usr/bin/time; appends seconds and KiB.
timed() {
    local -r name=$1
    local -r tfile=$run/time.$name
    bash -c "${prepare[$name]}"
    sync
    local status=0
    if [[ $name == ferry_* ]]; then
        # shellcheck disable=SC2086 # the command is a plain word list
        /usr/bin/time -f '%e %M %U %S' -o "$tfile" timeout --kill-after=10 "$limit_s" ${cmd_text[$name]} \
            >"$run/stdout.$name" 2>"$run/stderr.$name" || status=$?
    else
        /usr/bin/time -f '%e %M %U %S' -o "$tfile" timeout --kill-after=10 "$limit_s" bash -c "${cmd_text[$name]}" \
            >"$run/stdout.$name" 2>"$run/stderr.$name" || status=$?
    fi
    if ((status != 0)); then
        echo "bench: FAILED ($name, exit status $status$( ((status == 124)) && echo ", timed out after ${limit_s}s")):" >&2
        echo "  command: ${cmd_text[$name]}" >&2
        echo "  stdout:" >&2
        head -c 4000 "$run/stdout.$name" | sed 's/^/    /' >&2
        echo "  stderr:" >&2
        head -c 4000 "$run/stderr.$name" | grep -v '^Command exited with non-zero status' | sed 's/^/    /' >&2
        keep=1
        die "stopping; the run folder $run is kept"
    fi
    local e m u s c
    read -r e m u s < <(tail -n 1 "$tfile")
    c=$(awk -v u="$u" -v s="$s" 'BEGIN { printf "%.2f", u + s }')
    times[$name]+="$e "
    rss[$name]+="$m "
    cpu[$name]+="$c "
    ucpu[$name]+="$u "
    printf '  %-13s %7.2f s  (cpu %6.2f s)  %7d KiB  load %s\n' "$name" "$e" "$c" "$m" "$(cut -d' ' -f1 /proc/loadavg)" >&2
}

# Busy CPU seconds of the whole machine so far (all processes, all cores), from /proc/stat.
machine_busy_s() {
    awk -v hz="$(getconf CLK_TCK)" '$1 == "cpu" { printf "%.2f", ($2 + $3 + $4 + $7 + $8 + $9) / hz; exit }' /proc/stat
}
# User-mode CPU seconds of the whole machine so far: leaves out the kernel's own work (page
# cache writeback of the outputs), which is not another process's load.
machine_user_s() {
    awk -v hz="$(getconf CLK_TCK)" '$1 == "cpu" { printf "%.2f", ($2 + $3) / hz; exit }' /proc/stat
}
# Busy share of the machine over the next 2 seconds, in percent.
machine_busy_pct() {
    local -r a=$(machine_busy_s)
    sleep 2
    awk -v a="$a" -v b="$(machine_busy_s)" -v n="$(nproc)" 'BEGIN { printf "%.0f", 100 * (b - a) / (2 * n) }'
}

median() { tr ' ' '\n' <<<"$1" | grep -v '^$' | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
maximum() { tr ' ' '\n' <<<"$1" | grep -v '^$' | sort -g | tail -n 1; }

# --- warm the page cache ------------------------------------------------------------------------
echo "bench: corpus $corpus_files files, $corpus_bytes bytes; warming the page cache" >&2
find "$corpus" -type f -print0 | xargs -0 cat >/dev/null

idle_busy_pct=$(machine_busy_pct)
wait_started=$SECONDS
while ((idle_busy_pct > 10 && SECONDS - wait_started < wait_quiet)); do
    echo "bench: machine ${idle_busy_pct}% busy; waiting for it to quieten (up to ${wait_quiet}s)" >&2
    sleep 8
    idle_busy_pct=$(machine_busy_pct)
done
if ((idle_busy_pct > 10)); then
    echo "bench: warning: other processes keep the machine ${idle_busy_pct}% busy; the timings will be disturbed" >&2
fi

# --- timed runs ---------------------------------------------------------------------------------
timed_started=$EPOCHREALTIME
user_before=$(machine_user_s)
for ((rep = 1; rep <= reps; rep++)); do
    echo "bench: run $rep of $reps" >&2
    for name in "${names[@]}"; do
        timed "$name"
    done
done
user_after=$(machine_user_s)
timed_wall=$(awk -v a="$timed_started" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a }')
rm -rf -- "$extract"
# User CPU time the machine spent outside the timed commands while they ran: other processes
# (and this script's own small steps between runs). Much of it means the figures are disturbed.
own_user=$(for name in "${names[@]}"; do echo "${ucpu[$name]}"; done | tr ' ' '\n' | awk '{ s += $1 } END { printf "%.2f", s }')
foreign_cpu=$(awk -v a="$user_before" -v b="$user_after" -v o="$own_user" 'BEGIN { f = b - a - o; printf "%.1f", f < 0 ? 0 : f }')
foreign_pct=$(awk -v f="$foreign_cpu" -v w="$timed_wall" -v n="$(nproc)" 'BEGIN { printf "%.0f", 100 * f / (w * n) }')

# Inspect: reads the manifest only; mean over inspect_runs runs, after one untimed run.
"$applier" inspect "$bundle" --trust "$trust" >"$run/inspect.txt" 2>&1 || {
    cat "$run/inspect.txt" >&2
    keep=1
    die "ferry-applier inspect $bundle failed"
}
inspect_total=0
for ((i = 0; i < inspect_runs; i++)); do
    t0=$EPOCHREALTIME
    "$applier" inspect "$bundle" --trust "$trust" >/dev/null 2>&1 || die "ferry-applier inspect $bundle failed"
    t1=$EPOCHREALTIME
    inspect_total=$(awk -v s="$inspect_total" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.6f", s + b - a }')
done
inspect_ms=$(awk -v s="$inspect_total" -v n="$inspect_runs" 'BEGIN { printf "%.1f", 1000 * s / n }')

# --- figures ------------------------------------------------------------------------------------
declare -A med=()
for name in "${names[@]}"; do
    med[$name]=$(median "${times[$name]}")
done
build_rss_mib=$(awk -v k="$(maximum "${rss[ferry_build]}")" 'BEGIN { printf "%.0f", k / 1024 }')
verify_rss_mib=$(awk -v k="$(maximum "${rss[ferry_verify]}")" 'BEGIN { printf "%.0f", k / 1024 }')
bundle_bytes=$(stat -c %s -- "$bundle")
naive_bytes=$(stat -c %s -- "$naive")
plain_bytes=$(stat -c %s -- "$plain")
manifest_bytes=$(tar -xOf "$bundle" manifest.yaml | wc -c)
payload_files=$(tar -xOf "$bundle" manifest.yaml | grep -c '^  - path:' || true)
total_s=$(awk -v a="$started" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.0f", b - a }')

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }
ratio3() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", (b > 0 ? a / b : 0) }'; }
# verdict VALUE OP LIMIT
verdict() { awk -v v="$1" -v l="$3" -v op="$2" 'BEGIN {
    ok = (op == "<=") ? v <= l : (op == "<") ? v < l : (v >= 1 - l && v <= 1 + l)
    print ok ? "PASS" : "MISS" }'; }

r_naive=$(ratio "${med[ferry_build]}" "${med[naive_build]}")
r_plain=$(ratio "${med[ferry_build]}" "${med[plain_build]}")
r_fast=$(ratio "${med[ferry_build_fast]}" "${med[plain_build]}")
r_verify=$(ratio "${med[ferry_verify]}" "${med[plain_verify]}")
r_verify_naive=$(ratio "${med[ferry_verify]}" "${med[naive_verify]}")
r_apply=$(ratio "${med[ferry_apply]}" "${med[plain_extract]}")
r_size=$(ratio3 "$bundle_bytes" "$plain_bytes")
if ((have_rauc)); then
    r_rauc_build=$(ratio "${med[ferry_build]}" "${med[rauc_build]}")
    r_rauc_apply=$(ratio "${med[ferry_apply]}" "${med[rauc_extract]}")
    raucb_bytes=$(stat -c %s -- "$raucb")
fi
peak_mib=$((build_rss_mib > verify_rss_mib ? build_rss_mib : verify_rss_mib))

mib_of() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1048576 }'; }
{
    echo "Ferry benchmark, $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "machine: $(nproc) cores, $(lscpu 2>/dev/null | sed -n 's/^Model name:[[:space:]]*//p' | head -n 1), $(free -g | awk '/^Mem:/ { print $2 }') GiB RAM"
    echo "ferry: $("$bundler" --version 2>/dev/null | head -n 1), commit $commit ($build, ${build_type:-unknown} build$([[ -n $stale ]] && echo ", OLDER THAN ITS SOURCES"))"
    echo "tools: $(zstd --version | head -n 1); $(tar --version | head -n 1); minisign $(minisign -v 2>&1 | awk '{ print $2 }')$( ((have_rauc)) && echo "; $(rauc --version); $(mksquashfs -version 2>&1 | head -n 1)")"
    echo "corpus: $corpus, $corpus_files files, $corpus_bytes bytes ($(mib_of "$corpus_bytes") MiB)"
    for part in bin tars random text; do
        printf '  %-7s %6d files %9s MiB\n' "$part/" "$(find "$corpus/$part" -type f | wc -l)" \
            "$(mib_of "$(find "$corpus/$part" -type f -printf '%s\n' | awk '{ s += $1 } END { printf "%.0f", s }')")"
    done
    echo "all timings warm-cache (corpus read once before timing), median of $reps interleaved runs, zstd level 3, all cores"
    echo "machine load: ${idle_busy_pct}% busy just before the runs; during the timed runs other processes used ${foreign_cpu} user CPU s = ${foreign_pct}% of the machine$( ((foreign_pct > 5)) && echo " -- DISTURBED: re-run on a quiet machine")"
    echo
    echo "| measurement | median s | runs s | CPU s (user+sys, median) | peak RSS MiB (max) |"
    echo "|---|---:|---|---:|---:|"
    for name in "${names[@]}"; do
        label=$name
        case $name in
        ferry_build) label="ferry-bundler build" ;;
        ferry_build_fast) label="ferry-bundler build --no-self-check" ;;
        naive_build) label="naive build: sha256sum + tar \\| zstd -T0 -3 + minisign -S" ;;
        plain_build) label="baseline: tar \\| zstd -T0 -3" ;;
        ferry_verify) label="ferry-applier verify" ;;
        naive_verify) label="naive verify: minisign -V + zstd -dc \\| tar -x + sha256sum -c" ;;
        plain_verify) label="baseline: zstd -dc > /dev/null" ;;
        ferry_apply) label="ferry-applier apply (verify, stage, install, commit)" ;;
        plain_extract) label="baseline: zstd -dc \\| tar -x && sync" ;;
        rauc_build) label="RAUC: rauc bundle (verity, squashfs zstd -3)" ;;
        rauc_extract) label="RAUC: rauc extract && sync" ;;
        esac
        printf '| %s | %s | %s | %s | %s |\n' "$label" "${med[$name]}" "$(xargs <<<"${times[$name]}")" "$(median "${cpu[$name]}")" \
            "$(awk -v k="$(maximum "${rss[$name]}")" 'BEGIN { printf "%.0f", k / 1024 }')"
    done
    printf '| ferry-applier inspect (mean of %d) | %s ms | | | |\n' "$inspect_runs" "$inspect_ms"
    echo
    echo "| size | bytes | MiB | corpus / size |"
    echo "|---|---:|---:|---:|"
    printf '| corpus | %d | %s | 1.00 |\n' "$corpus_bytes" "$(mib_of "$corpus_bytes")"
    printf '| Ferry bundle | %d | %s | %s |\n' "$bundle_bytes" "$(mib_of "$bundle_bytes")" "$(ratio "$corpus_bytes" "$bundle_bytes")"
    printf '| naive.tar.zst (+ .minisig) | %d | %s | %s |\n' "$naive_bytes" "$(mib_of "$naive_bytes")" "$(ratio "$corpus_bytes" "$naive_bytes")"
    printf '| plain.tar.zst | %d | %s | %s |\n' "$plain_bytes" "$(mib_of "$plain_bytes")" "$(ratio "$corpus_bytes" "$plain_bytes")"
    if ((have_rauc)); then
        printf '| RAUC bundle (.raucb) | %d | %s | %s |\n' "$raucb_bytes" "$(mib_of "$raucb_bytes")" "$(ratio "$corpus_bytes" "$raucb_bytes")"
    fi
    printf '| (Ferry manifest, %d files listed) | %d | %s | |\n' "$payload_files" "$manifest_bytes" "$(mib_of "$manifest_bytes")"
    echo
    echo "| ratio | value | target | result |"
    echo "|---|---:|---|---|"
    printf '| build / naive build | %s | <= 0.55 | %s |\n' "$r_naive" "$(verdict "$r_naive" '<=' 0.55)"
    printf '| build / tar\\|zstd | %s | <= 1.3 | %s |\n' "$r_plain" "$(verdict "$r_plain" '<=' 1.3)"
    printf '| build --no-self-check / tar\\|zstd | %s | <= 1.1 | %s |\n' "$r_fast" "$(verdict "$r_fast" '<=' 1.1)"
    printf '| verify / zstd -dc | %s | <= 0.9 | %s |\n' "$r_verify" "$(verdict "$r_verify" '<=' 0.9)"
    printf '| inspect ms | %s | < 20 | %s |\n' "$inspect_ms" "$(verdict "$inspect_ms" '<' 20)"
    printf '| apply / zstd -d \\| tar -x | %s | <= 1.2 | %s |\n' "$r_apply" "$(verdict "$r_apply" '<=' 1.2)"
    printf '| peak RSS MiB (build %s, verify %s) | %s | < 200 | %s |\n' "$build_rss_mib" "$verify_rss_mib" "$peak_mib" "$(verdict "$peak_mib" '<' 200)"
    printf '| bundle bytes / tar\\|zstd bytes | %s | 1.00 +- 0.02 | %s |\n' "$r_size" "$(verdict "$r_size" '~' 0.02)"
    printf '| (verify / naive verify, no target) | %s | | |\n' "$r_verify_naive"
    if ((have_rauc)); then
        printf '| build / rauc bundle | %s | <= 1.0 | %s |\n' "$r_rauc_build" "$(verdict "$r_rauc_build" '<=' 1.0)"
        printf '| apply / rauc extract + sync | %s | <= 1.0 | %s |\n' "$r_rauc_apply" "$(verdict "$r_rauc_apply" '<=' 1.0)"
    else
        echo "| (RAUC not installed: not compared) | | | |"
    fi
    echo
    echo "wall time of the benchmark: ${total_s}s (corpus generation or reuse: ${corpus_setup_s}s)"
} | tee "$work/last-results.md"
# The same figures for scripts/bench-scale.sh, one line under a header.
{
    printf 'corpus_bytes\tcorpus_files\tbuild_s\tbuild_ratio\tverify_s\tverify_ratio\tapply_s\tapply_ratio\tbuild_rss_mib\tverify_rss_mib\tapply_rss_mib\tdisturbed_pct\n'
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$corpus_bytes" "$corpus_files" "${med[ferry_build]}" "$r_plain" \
        "${med[ferry_verify]}" "$r_verify" "${med[ferry_apply]}" "$r_apply" "$build_rss_mib" "$verify_rss_mib" \
        "$(awk -v k="$(maximum "${rss[ferry_apply]}")" 'BEGIN { printf "%.0f", k / 1024 }')" "$foreign_pct"
} >"$work/last-results.tsv"
echo "bench: table written to $work/last-results.md; corpus kept in $corpus$( ((keep)) && echo "; run kept in $run")" >&2
