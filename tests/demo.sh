#!/usr/bin/env bash
# demo: one device, a few entries of a neighbourhood team, shown step by step.
#
#   tests/demo.sh BUILD
#
# Makes a throw-away data directory, starts samend on it, and runs the
# commands a field worker would, printing each one before it runs.  Stops
# the daemon and removes the directory on the way out, whatever happens.

set -euo pipefail

[ $# -eq 1 ] || { echo "usage: $0 BUILD" >&2; exit 2; }
build=$(cd "$1" && pwd)
samen_bin=$build/samen
samend_bin=$build/samend
for b in "$samen_bin" "$samend_bin"; do
	[ -x "$b" ] || { echo "demo: $b is not built (make)" >&2; exit 1; }
done

dir=$(mktemp -d /tmp/samen-demo.XXXXXX)
export SAMEN_HOME=$dir/data
unset SAMEN_PASSPHRASE
pid=

cleanup() {
	local rc=$?
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	fi
	rm -rf "$dir"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say() {
	printf '\n# %s\n' "$*"
}

# Prints the command as a person would type it, then runs it.
run() {
	local a
	printf '$ samen'
	for a in "$@"; do
		case $a in
		*[!A-Za-z0-9_./=+:,-]*|'') printf " '%s'" "${a//\'/\'\\\'\'}" ;;
		*) printf ' %s' "$a" ;;
		esac
	done
	printf '\n'
	"$samen_bin" "$@"
}

say "A new device: an identity (ed25519 key pair) and a storage key." \
    "For the demo without a passphrase; on a real laptop, leave" \
    "--no-passphrase out and samen asks for one."
run init --no-passphrase

say "Start the daemon. It keeps the encrypted replica; here it runs in" \
    "the background of this script and logs to $dir/samend.log."
printf '$ samend &\n'
"$samend_bin" -d "$SAMEN_HOME" 2>"$dir/samend.log" &
pid=$!
# Wait until it answers, for at most 30 seconds.
for _ in $(seq 300); do
	if "$samen_bin" status >/dev/null 2>&1; then
		break
	fi
	if ! kill -0 "$pid" 2>/dev/null; then
		echo "demo: samend did not start:" >&2
		cat "$dir/samend.log" >&2
		exit 1
	fi
	sleep 0.1
done
"$samen_bin" status >/dev/null 2>&1 || {
	echo "demo: samend does not answer:" >&2
	cat "$dir/samend.log" >&2
	exit 1
}

say "A district social worker opens a case for a family after a" \
    "signal from the housing association. samen prints the new id."
printf '$ samen put case name="Familie Jansen" ...\n'
case_id=$("$samen_bin" put case "name=Familie Jansen" \
    "adres=Lindenlaan 4, Noord" "status=open" "regie=wijkteam Noord" \
    "tags+=schulden" "tags+=huisvesting")
echo "$case_id"

say "Two notes from the home visit, quick entries between visits."
run note "$case_id" "Huisbezoek: post ligt ongeopend op tafel. Mevrouw wil hulp bij de administratie."
run note "$case_id" "Afspraak met de budgetcoach op dinsdag 10:00, buurvrouw gaat mee."

say "A contact and a task for the team, in other collections."
printf '$ samen put contact name="Budgetcoach Stichting Op Orde" ...\n'
"$samen_bin" put contact "name=Budgetcoach Stichting Op Orde" \
    "telefoon=020-555 0142" >/dev/null
printf '$ samen put task what="Schuldhulpaanvraag indienen" ...\n'
"$samen_bin" put task "what=Schuldhulpaanvraag indienen" \
    "case=$case_id" "status=open" >/dev/null

say "The experience expert takes over the lead and adds a tag."
run put case "$case_id" "regie=ervaringswerker Samira" "tags+=eenzaamheid" \
    >/dev/null
echo "(updated $case_id)"

say "The whole case, with its notes."
run get case "$case_id"

say "Every open case; add --json for scripts."
run ls case --where status=open

say "Search every field, ignoring case."
run find budgetcoach

say "Who changed what, and when: the history of the case."
run log case "$case_id"

say "The device, its lock state, and the digest of its replica (two" \
    "devices with the same records show the same digest)."
run status

say "Stop the daemon: SIGTERM shuts it down cleanly."
printf '$ kill %s\n' "$pid"
kill -TERM "$pid"
wait "$pid"
pid=
echo
echo "demo: done."
