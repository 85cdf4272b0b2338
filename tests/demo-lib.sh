# demo-lib: what the demo scripts share; sourced, never run.
#
#   . "$(dirname "$0")/demo-lib.sh"
#   demo_init NAME BUILD
#
# demo_init checks that BUILD holds samen and samend (samen_bin,
# samend_bin), makes the demo's directory (dir, under /tmp) and removes it
# on the way out with every daemon start() began, whatever happens (the
# logs' last lines are printed when the demo fails).  demo_conf holds
# lines start() adds to each device's samen.conf.

set -euo pipefail

pids=()
demo_conf=

demo_init() {
	local name=$1 b
	[ $# -eq 2 ] || { echo "usage: $0 BUILD" >&2; exit 2; }
	build=$(cd "$2" && pwd)
	samen_bin=$build/samen
	samend_bin=$build/samend
	for b in "$samen_bin" "$samend_bin"; do
		[ -x "$b" ] || { echo "demo: $b is not built (make)" >&2; exit 1; }
	done
	dir=$(mktemp -d "/tmp/samen-demo-$name.XXXXXX")
	unset SAMEN_PASSPHRASE SAMEN_HOME
	trap demo_cleanup EXIT
	trap 'exit 130' INT TERM
}

demo_cleanup() {
	local rc=$? p f
	for p in "${pids[@]+"${pids[@]}"}"; do
		kill -TERM "$p" 2>/dev/null || true
	done
	for p in "${pids[@]+"${pids[@]}"}"; do
		wait "$p" 2>/dev/null || true
	done
	if [ "$rc" -ne 0 ]; then
		for f in "$dir"/*.log; do
			[ -f "$f" ] && { echo "--- $f" >&2; tail -n 20 "$f" >&2; }
		done
	fi
	rm -rf "$dir"
	exit "$rc"
}

say() {
	printf '\n# %s\n' "$*"
}

# on DEVICE ARGS...: prints the command as typed on that device, runs it.
on() {
	local who=$1 a
	shift
	printf '%s$ samen' "$who"
	for a in "$@"; do
		case $a in
		*[!A-Za-z0-9_./=+:,-]*|'') printf " '%s'" "${a//\'/\'\\\'\'}" ;;
		*) printf ' %s' "$a" ;;
		esac
	done
	printf '\n'
	"$samen_bin" -d "$dir/$who" "$@"
}

quiet() {
	local who=$1
	shift
	"$samen_bin" -d "$dir/$who" "$@"
}

# init DEVICE: a new identity, without a passphrase for the demo (on a
# real laptop samen asks for one); its id in ${DEVICE}_id.
init() {
	local who=$1 id
	printf '%s$ samen init --no-passphrase\n' "$who"
	id=$(quiet "$who" init --no-passphrase)
	echo "$id"
	eval "${who}_id=$id"
}

# A free TCP (or UDP) port on loopback.
free_port() {
	/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# start DEVICE [LISTEN]: writes its samen.conf (sync on connect and on
# 'samen sync' only, then demo_conf), starts samend with the environment
# given, logs to DEVICE.log, waits until it answers.
start() {
	local who=$1 listen=${2:-}
	cat >"$dir/$who/samen.conf" <<-CONF
	# demo: sync on connect and on 'samen sync' only
	sync_interval = 0
	listen = $listen
	$demo_conf
	CONF
	"$samend_bin" -d "$dir/$who" 2>"$dir/$who.log" &
	pids+=($!)
	for _ in $(seq 300); do
		quiet "$who" status >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	echo "demo: samend for $who did not start" >&2
	exit 1
}

# stop DEVICE: SIGTERM to its samend (the last start()ed for DEVICE's
# directory), waits for it to go.
stop() {
	local who=$1 pid
	pid=$(quiet "$who" status --json | json 'd["pid"]')
	kill -TERM "$pid"
	for _ in $(seq 300); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	echo "demo: samend for $who did not stop" >&2
	exit 1
}

json() {
	/usr/bin/python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"
}
