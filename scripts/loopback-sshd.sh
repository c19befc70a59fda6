# Sourced by the tests (tests/cli/lib.sh), scripts/demo.sh and scripts/bench-ssh.sh: a real
# OpenSSH server on 127.0.0.1 with throwaway keys, standing in for the nodes a coordinator
# reaches over ssh.

# loopback_sshd DIR PORT: writes into DIR (made if missing) host_key, the server's key; id, the
# user key it accepts for the current user (authorized_keys); known_hosts, naming host_key for
# [127.0.0.1]:PORT, so that no host key is ever trusted on first use; sshd_config. Then starts
# /usr/sbin/sshd on 127.0.0.1:PORT, logging to DIR/sshd.log, and waits at most 5 s for its
# DIR/sshd.pid. The sessions' HOME is DIR/home, so that the user's shell start-up files
# (~/.bashrc) are not run on the "nodes"; scp gets Debian's sftp-server. Returns 1 when sshd
# did not start (DIR/sshd.log says why).
loopback_sshd() {
    local dir=$1 port=$2 sftp_server=/usr/lib/openssh/sftp-server
    [ -x "$sftp_server" ] || sftp_server=internal-sftp
    mkdir -p "$dir/home"
    ssh-keygen -q -t ed25519 -N '' -C host -f "$dir/host_key"
    ssh-keygen -q -t ed25519 -N '' -C coordinator -f "$dir/id"
    cp "$dir/id.pub" "$dir/authorized_keys"
    echo "[127.0.0.1]:$port $(cut -d' ' -f1,2 "$dir/host_key.pub")" >"$dir/known_hosts"
    cat >"$dir/sshd_config" <<EOF_CONFIG
ListenAddress 127.0.0.1
Port $port
HostKey $dir/host_key
PidFile $dir/sshd.pid
AuthorizedKeysFile $dir/authorized_keys
AllowUsers $(id -un)
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
MaxStartups 50
MaxSessions 50
SetEnv HOME=$dir/home
Subsystem sftp $sftp_server
LogLevel VERBOSE
EOF_CONFIG
    if [ "$(id -u)" -eq 0 ]; then mkdir -p /run/sshd; fi
    /usr/sbin/sshd -f "$dir/sshd_config" -E "$dir/sshd.log" || true
    local _
    for _ in $(seq 1 50); do [ -s "$dir/sshd.pid" ] && break; sleep 0.1; done
    [ -s "$dir/sshd.pid" ]
}

# loopback_sshd_stop DIR: the sshd loopback_sshd started in DIR stopped, with the connections
# it still serves (so that no ssh master of a coordinator stopped mid-way lingers); nothing if
# it did not start.
loopback_sshd_stop() {
    local listener
    if [ -s "$1/sshd.pid" ]; then
        listener=$(cat "$1/sshd.pid")
        kill "$listener" $(ps -eo pid=,ppid= | awk -v top="$listener" '$2 == top { print $1 }') 2>/dev/null || true
    fi
}
