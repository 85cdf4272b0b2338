#!/usr/bin/env bash
# demo-sync: three devices on loopback sync a case through a hub.
#
#   tests/demo-sync.sh BUILD
#
# A district team laptop, a community-centre hub and a volunteer's device.
# The laptop and the volunteer never connect to each other: everything the
# laptop writes reaches the volunteer through the hub, signed by the laptop.
# The hub announces itself with the UDP beacon (on this host only); the
# others find its address that way.  Every daemon and directory is removed
# on the way out, whatever happens.

set -euo pipefail

[ $# -eq 1 ] || { echo "usage: $0 BUILD" >&2; exit 2; }
build=$(cd "$1" && pwd)
samen_bin=$build/samen
samend_bin=$build/samend
for b in "$samen_bin" "$samend_bin"; do
	[ -x "$b" ] || { echo "demo: $b is not built (make)" >&2; exit 1; }
done

dir=$(mktemp -d /tmp/samen-demo-sync.XXXXXX)
unset SAMEN_PASSPHRASE SAMEN_HOME
pids=()

cleanup() {
	local rc=$? p
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
trap cleanup EXIT
trap 'exit 130' INT TERM

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

# A free TCP port on loopback, and one for the beacon.
free_port() {
	/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
hub_port=$(free_port)
beacon_port=$(free_port)

start() {
	local who=$1 listen=${2:-}
	cat >"$dir/$who/samen.conf" <<-EOF
	# demo: sync on connect and on 'samen sync' only, beacon on this host
	sync_interval = 0
	beacon = 1
	beacon_port = $beacon_port
	beacon_addr = 127.255.255.255
	listen = $listen
	EOF
	"$samend_bin" -d "$dir/$who" 2>"$dir/$who.log" &
	pids+=($!)
	for _ in $(seq 300); do
		quiet "$who" status >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	echo "demo: samend for $who did not start" >&2
	exit 1
}

json() {
	/usr/bin/python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"
}

say "Three devices, each with its own identity: the district team's" \
    "laptop, the hub in the community centre, and a volunteer's tablet."
for who in laptop hub volunteer; do
	printf '%s$ samen init --no-passphrase\n' "$who"
	id=$(quiet "$who" init --no-passphrase)
	echo "$id"
	eval "${who}_id=$id"
done

say "Each starts samend. The hub listens on 127.0.0.1:$hub_port and" \
    "announces itself on the local network (here: this host only)."
start hub "tcp://127.0.0.1:$hub_port"
start laptop
start volunteer
echo "(three daemons running)"

say "The team creates a shared circle for the case and adds the hub" \
    "and the volunteer. Each member gets the circle key sealed to its" \
    "own device key; the hub only relays, the volunteer may read."
on laptop circle new wijkteam-noord
on laptop circle add wijkteam-noord "$hub_id"
on laptop circle add wijkteam-noord "$volunteer_id"
on laptop circle use wijkteam-noord
on laptop peer add "$hub_id"

say "The hub accepts both devices; the volunteer knows the hub. Nobody" \
    "types an address: the hub's beacon tells them where it is."
on hub peer add "$laptop_id"
on hub peer add "$volunteer_id"
on volunteer peer add "$hub_id"
for who in laptop volunteer; do
	for _ in $(seq 100); do
		addr=$(quiet "$who" peer ls --json | json 'd[0]["addr"] or ""')
		[ -n "$addr" ] && break
		sleep 0.2
	done
	[ -n "$addr" ] || { echo "demo: no beacon reached $who" >&2; exit 1; }
	echo "$who found the hub at $addr"
done

say "On the laptop, a case and a note from the home visit."
printf 'laptop$ samen put case name="Familie Jansen" ...\n'
case_id=$(quiet laptop put case "name=Familie Jansen" "status=open" \
    "adres=Lindenlaan 4, Noord" "tags+=schulden" "lead=$laptop_id")
echo "$case_id"
on laptop note "$case_id" "Huisbezoek: post ongeopend, afspraak budgetcoach."

say "The laptop syncs with the hub; later the volunteer syncs with the" \
    "hub. The laptop and the volunteer never meet."
on laptop sync --wait
on volunteer sync --wait

say "On the volunteer's tablet: the case, its note, and its history," \
    "signed by the laptop's device."
on volunteer get case "$case_id"
on volunteer log case "$case_id"
author=$(quiet volunteer log case "$case_id" --json | json 'd[0]["author"]')
[ "$author" = "$laptop_id" ] || {
	echo "demo: the history names $author, not the laptop" >&2
	exit 1
}
echo "(written by the laptop: $laptop_id)"

say "Both change the case's status while apart: neither has synced."
on laptop put case "$case_id" "status=in behandeling" >/dev/null
on volunteer put case "$case_id" "status=wacht op budgetcoach" >/dev/null

say "They sync through the hub again. samen keeps both values and shows" \
    "the conflict until someone decides; nothing is lost."
on volunteer sync --wait
on laptop sync --wait
on volunteer sync --wait
for who in laptop hub volunteer; do
	on "$who" conflicts
done

say "The laptop's worker moves to another district; the volunteer" \
    "takes over. The laptop hands its cases over: ordinary signed writes," \
    "so the history still names who wrote what before."
on laptop handover "$laptop_id" "$volunteer_id"
on laptop sync --wait
on volunteer sync --wait
lead=$(quiet volunteer get case "$case_id" --json | json 'd["fields"]["lead"]')
[ "$lead" = "$volunteer_id" ] || {
	echo "demo: the case's lead is $lead, not the volunteer" >&2
	exit 1
}
on volunteer log case "$case_id"

say "Three replicas, one state: the digests are equal."
digests=()
for who in laptop hub volunteer; do
	d=$(quiet "$who" status --json 2>/dev/null | json 'd["replica_digest"]')
	printf '%-10s %s\n' "$who" "$d"
	digests+=("$d")
done
if [ "${digests[0]}" != "${digests[1]}" ] ||
    [ "${digests[1]}" != "${digests[2]}" ]; then
	echo "demo: the replicas differ" >&2
	exit 1
fi

echo
echo "demo: done. The laptop's entries reached the volunteer through the" \
    "hub, the concurrent edit is a visible conflict on all three, the" \
    "handover reached every replica, and the three digests are equal."
