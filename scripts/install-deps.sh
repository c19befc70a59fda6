#!/usr/bin/env bash
# Installs, from Debian's archive, the packages Ferry needs to build and test, skipping those
# already installed. Safe to run again.
set -euo pipefail

build_packages=(
    g++ cmake make pkg-config
    libarchive-dev libsodium-dev libzstd-dev libssl-dev libyaml-cpp-dev libsqlite3-dev
    libcli11-dev doctest-dev nlohmann-json3-dev
)
# Used by the tests and the demo: the audit procedure's own tools, and the schema check;
# bsdutils' script(1) gives tests/cli/test_console.sh a terminal (colour, the progress bar).
tool_packages=(tar zstd openssl minisign coreutils python3 python3-jsonschema python3-yaml sqlite3 bsdutils)
# Images: the applier pushes and reads back images with skopeo (the sample's and the tests');
# tests/cli/test_images.sh pushes to a docker-registry it starts on 127.0.0.1, imports into a
# containerd it starts on a socket in its scratch folder (containerd: the daemon and ctr, the
# containerd target's tool), and loads into podman with its storage in that folder (podman: the
# podman target's independent check; skopeo already brings its libraries).
image_packages=(skopeo docker-registry containerd podman)
# Used to build and test the Debian packages: dpkg-dev's dpkg-shlibdeps computes their Depends and
# file tells CPack which files are binaries; mmdebstrap makes the clean minimal Debian root that
# tests/cli/test_packages.sh and scripts/offline-set.sh install into (util-linux: unshare).
package_packages=(dpkg-dev file mmdebstrap util-linux)
# The ssh transport's tests start their own sshd on 127.0.0.1 (openssh-server), reached with
# the system's ssh client, ssh-keygen and ssh-keyscan (openssh-client).
ssh_packages=(openssh-client openssh-server)
# The Ansible collection's test (tests/cli/test_ansible.sh) runs ansible-playbook and ansible-doc
# against those nodes: ansible-core, Debian's, with no collection downloaded.
ansible_packages=(ansible-core)

missing=()
for pkg in "${build_packages[@]}" "${tool_packages[@]}" "${image_packages[@]}" "${package_packages[@]}" "${ssh_packages[@]}" "${ansible_packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
        missing+=("$pkg")
    fi
done

if [ "${#missing[@]}" -eq 0 ]; then
    echo "install-deps: all packages present"
    exit 0
fi

echo "install-deps: installing ${missing[*]}"
sudo=()
if [ "$(id -u)" -ne 0 ]; then
    sudo=(sudo)
fi
"${sudo[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
