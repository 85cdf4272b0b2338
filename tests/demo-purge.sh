#!/usr/bin/env bash
# demo-purge: a resident's file erased everywhere, on a device that syncs afterwards too.
#
#   tests/demo-purge.sh BUILD
#
# The district team's laptop (admin of the circle), the community centre's
# hub (a relay: it carries the circle and reads nothing) and a volunteer's
# tablet hold a case and its note.  The resident asks to be forgotten: the
# laptop purges the case.  Each device that hears of it erases it from its
# disk, and a colleague's new device that joins afterwards, through the hub,
# never gets it.  Every daemon and directory is removed on the way out,
# whatever happens.

. "$(dirname "$0")/demo-lib.sh"
demo_init purge "$@"
hub_port=$(free_port)
hub_addr=tcp://127.0.0.1:$hub_port

# The first 16 bytes (hex) of the ciphertext of every sealed chunk a
# device holds, from a copy of its database taken while samend runs.
sealed() {
	/usr/bin/python3 - "$dir/$1/samen.db" <<-'PY' | sort
	import msgpack, sqlite3, sys
	src, dst = sqlite3.connect(sys.argv[1]), sqlite3.connect(":memory:")
	src.backup(dst)
	for (payload,) in dst.execute("SELECT payload FROM cs"):
	    for chunk in msgpack.unpackb(payload):
	        if len(chunk) == 3:
	            print(chunk[2][:16].hex())
	PY
}

# Succeeds once no file of a device's data directory, nor its daemon's
# log, holds any of the words or of the ciphertexts (hex) in $erased: each
# erase truncates the WAL on the loop, soon after it.
clean() {
	local who=$1
	shift
	for _ in $(seq 100); do
		/usr/bin/python3 - "$dir/$who" "$dir/$who.log" "$erased" "$@" \
		    <<-'PY' && return 0
		import pathlib, sys
		root, log, hexes, words = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
		needles = [bytes.fromhex(h) for h in hexes.split()]
		needles += [w.encode() for w in words]
		files = [p for p in pathlib.Path(root).rglob("*") if p.is_file()]
		for f in files + [pathlib.Path(log)]:
		    try:
		        data = f.read_bytes()
		    except OSError:
		        continue
		    if any(n in data for n in needles):
		        sys.exit(1)
		PY
		sleep 0.1
	done
	return 1
}

say "The district team's laptop, the community centre's hub (a relay)" \
    "and a volunteer's tablet, each with its own identity."
for who in laptop hub volunteer; do
	init "$who"
done
start hub "$hub_addr"
start laptop
start volunteer

say "The laptop creates the team's circle: the hub carries it and cannot" \
    "read it, the volunteer is a member."
on laptop circle new wijkteam-noord
on laptop circle add wijkteam-noord "$hub_id" --role relay
on laptop circle add wijkteam-noord "$volunteer_id"
on laptop circle use wijkteam-noord
on hub peer add "$laptop_id"
on hub peer add "$volunteer_id"
on laptop peer add "$hub_id" "$hub_addr"
on volunteer peer add "$hub_id" "$hub_addr"
on laptop sync --wait
on volunteer sync --wait
on volunteer circle use wijkteam-noord

say "A case and a note from the home visit, on the laptop; through the" \
    "hub they reach the volunteer."
printf 'laptop$ samen put case name="Familie Jansen" ...\n'
case_id=$(quiet laptop put case "name=Familie Jansen" "status=open" \
    "adres=Lindenlaan 4, Noord" "tags+=schulden")
echo "$case_id"
on laptop note "$case_id" "Huisbezoek: post ongeopend, afspraak budgetcoach."
on laptop sync --wait
on volunteer sync --wait
on volunteer get case "$case_id"

say "Mevrouw Jansen asks the municipality to erase her file (AVG art." \
    "17). The team lead, an admin of the circle, purges the case and" \
    "everything that links to it, and says why."
before=$(sealed laptop)
on laptop purge case "$case_id" --cascade \
    --reason "Verzoek mw. Jansen 7-12, kenmerk 2026-113"
erased=$(comm -23 <(echo "$before") <(sealed laptop))
[ "$(echo "$erased" | wc -w)" -eq 2 ] || {
	echo "demo: the purge did not erase the case and the note" >&2
	exit 1
}
echo "(the purge took 2 chunks of ciphertext out of the laptop's change" \
    "sets: the case's, and the note's)"
on laptop sync --wait
on volunteer sync --wait

say "On every device the case is gone, from the disk too: a byte search" \
    "of each data directory finds none of those ciphertexts (values are" \
    "encrypted at rest: the name was never there in clear). The log keeps" \
    "who purged it, when and why, and nothing of what it was."
! on volunteer get case "$case_id" || {
	echo "demo: the volunteer still shows the case" >&2
	exit 1
}
on volunteer log case "$case_id"
for who in laptop hub volunteer; do
	if ! clean "$who" "Familie Jansen" "Lindenlaan" "budgetcoach"; then
		echo "demo: $who still holds the erased file" >&2
		exit 1
	fi
	echo "$who: nothing of the case on disk"
done

say "Months later a new colleague joins. Its device syncs with the hub" \
    "alone, which still carries the circle's history: the purge comes" \
    "with it, the case never does."
init newcomer
start newcomer
on laptop circle add wijkteam-noord "$newcomer_id"
on laptop sync --wait
on hub peer add "$newcomer_id"
on newcomer peer add "$hub_id" "$hub_addr"
on newcomer sync --wait
on newcomer sync --wait
on newcomer circle ls
! on newcomer get case "$case_id" || {
	echo "demo: the newcomer shows the case" >&2
	exit 1
}
on newcomer log case "$case_id"
if ! clean newcomer "Familie Jansen" "Lindenlaan" "budgetcoach"; then
	echo "demo: the newcomer holds the erased file" >&2
	exit 1
fi
echo "newcomer: nothing of the case on disk"

say "The chains still verify: every device took every change set, and" \
    "the replicas that read the circle agree (the volunteer syncs once" \
    "more, to hear of the new colleague)."
on volunteer sync --wait
for who in laptop volunteer newcomer; do
	d=$(quiet "$who" status --json 2>/dev/null | json 'd["replica_digest"]')
	r=$(quiet "$who" status --json 2>/dev/null | json 'd["rejected"]')
	printf '%-10s %s  rejected %s\n' "$who" "$d" "$r"
	[ "$r" = 0 ] || { echo "demo: $who rejected change sets" >&2; exit 1; }
	eval "digest_$who=$d"
done
# shellcheck disable=SC2154
if [ "$digest_laptop" != "$digest_volunteer" ] ||
    [ "$digest_volunteer" != "$digest_newcomer" ]; then
	echo "demo: the replicas differ" >&2
	exit 1
fi

echo
echo "demo: done. The case and its note were erased on the laptop, the" \
    "hub and the tablet, and a device that joined afterwards never got" \
    "them; the log says who purged them, when and why."
