#!/usr/bin/env bash
# The Debian packages, the way an air-gapped host gets them: cpack builds ferry-applier and
# ferry-bundler (Depends from dpkg-shlibdeps, the project's version); scripts/offline-set.sh gathers
# them and what a minimal Debian 12 lacks into one folder; a clean minimal root made by mmdebstrap
# installs that folder with no network, and the tools run inside it: key generate, build, verify,
# apply into a scratch root, the man pages and the bash completion.
# Needs root, mmdebstrap and Debian's archive the first time; the minimal root and the downloaded
# packages are kept in $FERRY_BUILD_DIR/package-test-cache, so later runs need no network. Runs in
# the plain build only: the sanitizer build's binaries are not what is packaged.

# skip REASON: this test cannot run here; CTest reports it as skipped (exit 77).
skip() {
    echo "skip - $1"
    exit 77
}
if [ "${FERRY_SANITIZE:-OFF}" = "ON" ]; then
    skip "packages are built and tested from the plain build, not the sanitizer build"
fi
if [ "$(id -u)" -ne 0 ]; then
    skip "making and entering a Debian root needs root"
fi
for tool in cpack mmdebstrap dpkg-shlibdeps unshare chroot; do
    if ! command -v "$tool" >/dev/null; then
        skip "$tool is missing (scripts/install-deps.sh installs it)"
    fi
done
if ! unshare --net --mount --pid --fork true 2>/dev/null; then
    skip "cannot make network, mount and process namespaces here (unshare)"
fi

readonly cache="${FERRY_BUILD_DIR:?}/package-test-cache"
if [ ! -f "$cache/bookworm-minbase.tar" ] && ! timeout 20 bash -c '</dev/tcp/deb.debian.org/80' 2>/dev/null; then
    skip "no minimal root cached in $cache and Debian's archive is out of reach"
fi

source "$(dirname "$0")/lib.sh"


# --- the packages
version=$("$FERRY_APPLIER" --version | awk '{ print $2 }')
readonly version
expect_ok "cpack builds the packages" cpack -G DEB -B "$SCRATCH/cpack" --config "$FERRY_BUILD_DIR/CPackConfig.cmake"
arch=$(dpkg --print-architecture)
readonly arch
readonly applier_deb="$SCRATCH/cpack/ferry-applier_${version}_${arch}.deb"
readonly bundler_deb="$SCRATCH/cpack/ferry-bundler_${version}_${arch}.deb"
for deb in "$applier_deb" "$bundler_deb"; do
    name=$(basename "$deb" | cut -d_ -f1)
    if [ ! -f "$deb" ]; then
        fail "$name: no $deb; cpack wrote: $(ls "$SCRATCH/cpack")"
        exit 1
    fi
    run dpkg-deb -f "$deb" Package Version Depends
    expect_output "$name: package name" "Package: $name"
    expect_output "$name: the version is the project's" "Version: $version"
    for lib in libc6 libstdc++6 libssl3 libzstd1 libarchive13 libsodium23 libyaml-cpp0.7; do
        expect_output "$name: Depends from the binary names $lib" "$lib"
    done
    run dpkg-deb -c "$deb"
    for path in "./usr/bin/$name" "./usr/share/man/man1/$name.1.gz" "./usr/share/bash-completion/completions/$name"; do
        expect_output "$name: installs $path" "$path"
    done
done
run dpkg-deb -f "$applier_deb" Depends
expect_output "ferry-applier: Depends names SQLite, which its state needs" "libsqlite3-0"
run dpkg-deb -c "$applier_deb"
expect_output "ferry-applier: installs the Ansible collection where ansible-core finds it" \
    "./usr/share/ansible/collections/ansible_collections/ferry/site/plugins/modules/ferry_apply.py"
if grep -q __pycache__ "$SCRATCH/out"; then fail "ferry-applier: ships __pycache__"; else pass "ferry-applier: no __pycache__"; fi
run dpkg-deb -f "$bundler_deb" Depends
if grep -q libsqlite3 "$SCRATCH/out"; then
    fail "ferry-bundler: Depends names SQLite, which it does not link: $(cat "$SCRATCH/out")"
else
    pass "ferry-bundler: Depends computed from its own binary (no SQLite)"
fi

# --- the offline install set
readonly set_dir="$SCRATCH/ferry-offline"
expect_ok "offline-set.sh gathers the set" env FERRY_OFFLINE_CACHE="$cache" \
    bash "$FERRY_SOURCE_DIR/scripts/offline-set.sh" "$set_dir" "$applier_deb" "$bundler_deb"
if [ "$RC" -ne 0 ]; then
    exit 1
fi
for f in install.sh SHA256SUMS "$(basename "$applier_deb")" "$(basename "$bundler_deb")"; do
    if [ -f "$set_dir/$f" ]; then pass "the set holds $f"; else fail "the set lacks $f: $(ls "$set_dir")"; fi
done
for dep in libarchive13 libsodium23 libssl3 libyaml-cpp0.7 libsqlite3-0; do
    if compgen -G "$set_dir/${dep}_*.deb" >/dev/null; then
        pass "the set holds $dep, which a minimal root lacks"
    else
        fail "the set lacks $dep: $(ls "$set_dir")"
    fi
done

# --- a clean minimal root, no network: install the set, run the tools
readonly root="$SCRATCH/root"
mkdir -p "$root"
tar -xf "$cache/bookworm-minbase.tar" -C "$root"
if chroot "$root" dpkg-query -W ferry-applier >/dev/null 2>&1; then
    fail "the clean root already has ferry-applier"
fi
cp -a "$set_dir" "$root/tmp/ferry-offline"
# inside CMD...: runs CMD in the root, in a network namespace of its own (no interface but lo,
# down), with a /proc of its own that goes away with it.
inside() { unshare --net --mount --pid --fork --mount-proc="$root/proc" chroot "$root" "$@"; }
expect_ok "install.sh installs the set without network" inside sh /tmp/ferry-offline/install.sh
run inside dpkg-query -W -f '${Package} ${Version} ${Status}\n' ferry-applier ferry-bundler
expect_output "ferry-applier is installed" "ferry-applier $version install ok installed"
expect_output "ferry-bundler is installed" "ferry-bundler $version install ok installed"
expect_ok "install.sh again changes nothing and succeeds" inside sh /tmp/ferry-offline/install.sh
run inside dpkg --audit
if [ "$RC" -eq 0 ] && [ ! -s "$SCRATCH/out" ]; then pass "dpkg --audit: nothing half-installed"; else fail "dpkg --audit: $(cat "$SCRATCH/out")"; fi

run inside ferry-applier --version
expect_output "ferry-applier runs in the root" "ferry-applier $version"
cp "$FERRY_SOURCE_DIR/samples/make-test-keys.sh" "$root/tmp/"
expect_ok "key generate (make-test-keys.sh) in the root" inside bash /tmp/make-test-keys.sh ferry-bundler /tmp/keys
expect_ok "key generate --unencrypted in the root" \
    inside ferry-bundler key generate --name site-test --out-dir /tmp/keys --unencrypted
mkdir -p "$root/tmp/src"
printf '#!/bin/sh\necho hello from the package test\n' >"$root/tmp/src/hello"
cat >"$root/tmp/src/hello.yaml" <<'YAML'
name: hello
version: 1.0.0
sequence: 1
expires_in_days: 30
compatible: {product: hello, channel: test}
upgrade_from: ">=0.0.0"
components:
  - name: hello
    version: 1.0.0
    files:
      - {source: hello, role: binary, dest: /usr/bin/hello}
YAML
mkdir -p "$root/tmp/out" "$root/tmp/target"
expect_ok "build in the root" inside ferry-bundler build -q /tmp/src/hello.yaml --key /tmp/keys/test-release-1.key --out-dir /tmp/out
expect_ok "verify in the root" inside ferry-applier verify /tmp/out/hello-1.0.0.ferry --trust /tmp/keys/trust.yaml
expect_ok "apply into a scratch root in the root" inside ferry-applier apply -q /tmp/out/hello-1.0.0.ferry \
    --trust /tmp/keys/trust.yaml --root /tmp/target --state-dir /tmp/state
run inside /tmp/target/usr/bin/hello
expect_output "the applied file runs" "hello from the package test"
run inside ferry-applier status --state-dir /tmp/state
expect_output "status names the installed version" "1.0.0"

# The man pages and the completion, as installed.
for tool in ferry-applier ferry-bundler; do
    if zgrep -q '^\.SH COMMANDS' "$root/usr/share/man/man1/$tool.1.gz"; then pass "$tool.1 installed"; else fail "$tool.1 missing"; fi
done
run inside bash -c 'source /usr/share/bash-completion/completions/ferry-applier
COMP_WORDS=(ferry-applier audit ""); COMP_CWORD=2; _ferry_applier; echo "${COMPREPLY[*]}"'
expect_output "completion in the root: audit's subcommands" "verify export"
run inside bash -c 'source /usr/share/bash-completion/completions/ferry-bundler
COMP_WORDS=(ferry-bundler key generate --un); COMP_CWORD=3; _ferry_bundler; echo "${COMPREPLY[*]}"'
expect_output "completion in the root: key generate's options" "--unencrypted"
