#!/usr/bin/env bash
# demo-sync: three devices on loopback sync a case through a hub.
#
#   tests/demo-sync.sh BUILD
#
# A team lead's tablet, a worker's laptop and a community-centre hub that
# relays what it cannot read.  The laptop and the lead never connect to
# each other: everything the laptop writes reaches the lead through the
# hub, signed by the laptop.  Then the worker leaves the team: the lead
# removes the laptop, and a new entry does not reach it.  The hub
# announces itself with the UDP beacon (on this host only); the others
# find its address that way.  Every daemon and directory is removed on
# the way out, whatever happens.

. "$(dirname "$0")/demo-lib.sh"
demo_init sync "$@"
hub_port=$(free_port)
beacon_port=$(free_port)
# The hub announces itself with the UDP beacon, on this host only.
demo_conf="beacon = 1
beacon_port = $beacon_port
beacon_addr = 127.255.255.255"

say "Three devices, each with its own identity: the team lead's" \
    "tablet, a worker's laptop, and the hub in the community centre."
for who in lead laptop hub; do
	printf '%s$ samen init --no-passphrase\n' "$who"
	id=$(quiet "$who" init --no-passphrase)
	echo "$id"
	eval "${who}_id=$id"
done

say "Each starts samend. The hub listens on 127.0.0.1:$hub_port and" \
    "announces itself on the local network (here: this host only)."
start hub "tcp://127.0.0.1:$hub_port"
start lead
start laptop
echo "(three daemons running)"

say "The lead creates the team's circle and adds the laptop, which gets" \
    "the circle key sealed to its own device key, and the hub as a relay:" \
    "it carries the circle's entries and is given no key to read them."
on lead circle new wijkteam-noord
on lead circle add wijkteam-noord "$laptop_id"
on lead circle add wijkteam-noord "$hub_id" --role relay
on lead circle use wijkteam-noord

say "The hub accepts both devices; they know the hub. Nobody types an" \
    "address: the hub's beacon tells them where it is."
on hub peer add "$lead_id"
on hub peer add "$laptop_id"
on lead peer add "$hub_id"
on laptop peer add "$hub_id"
for who in lead laptop; do
	for _ in $(seq 100); do
		addr=$(quiet "$who" peer ls --json | json 'd[0]["addr"] or ""')
		[ -n "$addr" ] && break
		sleep 0.2
	done
	[ -n "$addr" ] || { echo "demo: no beacon reached $who" >&2; exit 1; }
	echo "$who found the hub at $addr"
done
on lead sync --wait
on laptop sync --wait
on laptop circle use wijkteam-noord

say "On the laptop, a case and a note from the home visit."
printf 'laptop$ samen put case name="Familie Jansen" ...\n'
case_id=$(quiet laptop put case "name=Familie Jansen" "status=open" \
    "adres=Lindenlaan 4, Noord" "tags+=schulden" "lead=$laptop_id")
echo "$case_id"
on laptop note "$case_id" "Huisbezoek: post ongeopend, afspraak budgetcoach."

say "The laptop syncs with the hub; later the lead syncs with the hub." \
    "The laptop and the lead never meet."
on laptop sync --wait
on lead sync --wait

say "On the lead's tablet: the case, its note, and its history, signed" \
    "by the laptop's device. The hub carried them and reads nothing."
on lead get case "$case_id"
on lead log case "$case_id"
author=$(quiet lead log case "$case_id" --json | json 'd[0]["author"]')
[ "$author" = "$laptop_id" ] || {
	echo "demo: the history names $author, not the laptop" >&2
	exit 1
}
echo "(written by the laptop: $laptop_id)"
on hub get case "$case_id" || true

say "Both change the case's status while apart: neither has synced."
on laptop put case "$case_id" "status=in behandeling" >/dev/null
on lead put case "$case_id" "status=wacht op budgetcoach" >/dev/null

say "They sync through the hub again. samen keeps both values and shows" \
    "the conflict until someone decides; nothing is lost."
on lead sync --wait
on laptop sync --wait
on lead sync --wait
for who in laptop lead; do
	on "$who" conflicts
done

say "Who looked at the family's file? Every read is an audit event (NEN" \
    "7513), sealed so that only the circle's admins can open it; it" \
    "travels with the sync, through a hub that cannot read it either."
on laptop sync --wait
on lead sync --wait
on lead audit case "$case_id"
reader=$(quiet lead audit case "$case_id" --json | json '",".join(
    e["device"] for e in (d["events"] if isinstance(d, dict) else d)
    if e["action"] == "read")')
case ,$reader, in
*",$laptop_id,"*) ;;
*)
	echo "demo: the audit names no read by the laptop ($reader)" >&2
	exit 1
	;;
esac
on laptop audit case "$case_id" || true

say "The worker leaves the team. The laptop hands its cases to the lead:" \
    "ordinary signed writes, so the history still names who wrote what."
on laptop handover "$laptop_id" "$lead_id"
on laptop sync --wait
on lead sync --wait
lead=$(quiet lead get case "$case_id" --json | json 'd["fields"]["lead"]')
[ "$lead" = "$lead_id" ] || {
	echo "demo: the case's lead is $lead, not the team lead" >&2
	exit 1
}

say "The lead removes the laptop from the circle: a new key, sealed to" \
    "the devices that stay, for everything written from now on."
on lead circle rm wijkteam-noord "$laptop_id"
printf 'lead$ samen put case name="Familie de Boer" ...\n'
new_id=$(quiet lead put case "name=Familie de Boer" "status=open")
echo "$new_id"
on lead sync --wait

say "The laptop syncs once more. The hub hands it its removal and" \
    "nothing else; the laptop erases the circle from its disk."
on laptop sync --wait
for _ in $(seq 100); do
	n=$(quiet laptop circle ls --json | json 'len(d)')
	[ "$n" = 1 ] && break
	sleep 0.2
done
on laptop circle ls
on laptop get case "$new_id" || true
# The WAL is truncated as soon as no reader holds it.
for _ in $(seq 50); do
	grep -rqa -e "Familie de Boer" -e "Familie Jansen" "$dir/laptop" ||
	    break
	sleep 0.2
done
if grep -rqa -e "Familie de Boer" -e "Familie Jansen" "$dir/laptop"; then
	echo "demo: the laptop's files still hold the circle's entries" >&2
	exit 1
fi
echo "(no file of the laptop holds an entry of the circle)"

say "The new entry reached the lead's tablet only; the hub carried the" \
    "team's entries all along and cannot read one."
on lead get case "$new_id" >/dev/null && echo "lead: reads $new_id"
on hub get case "$new_id" || true
if grep -rqa -e "Familie de Boer" -e "Familie Jansen" "$dir/hub"; then
	echo "demo: the hub's files hold plaintext" >&2
	exit 1
fi
echo "(no file of the hub holds an entry in clear)"

echo
echo "demo: done. The laptop's entries reached the lead through a hub" \
    "that reads nothing, the concurrent edit is a visible conflict, the" \
    "cases were handed over, and once removed, the laptop got nothing" \
    "new and erased the circle."
