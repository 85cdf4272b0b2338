#!/usr/bin/env bash
# demo-clock: a laptop comes back from the field with its clock two days ahead.
#
#   tests/demo-clock.sh BUILD
#
# The team lead's tablet and a worker's laptop share a circle.  The
# laptop's clock runs two days ahead (here samend's clock is shifted by
# its test hook, SAMEND_TEST_CLOCK_OFFSET_MS): the lead stores what it
# writes but holds it back until its own clock gets there, and the laptop
# is told.  Once the laptop's clock is right, what it writes reaches the
# lead at once; the early entry shows when its time has come.  Every
# daemon and directory is removed on the way out, whatever happens.

. "$(dirname "$0")/demo-lib.sh"
demo_init clock "$@"
lead_port=$(free_port)
lead_addr=tcp://127.0.0.1:$lead_port
two_days=$((2 * 24 * 3600 * 1000))

say "The team lead's tablet and a worker's laptop, in one circle."
init lead
init laptop
start lead "$lead_addr"
SAMEND_TEST_CLOCK_OFFSET_MS=$two_days start laptop
on lead circle new wijkteam-zuid
on lead circle add wijkteam-zuid "$laptop_id"
on lead circle use wijkteam-zuid
on lead peer add "$laptop_id"
on laptop peer add "$lead_id" "$lead_addr"
on laptop sync --wait
on laptop circle use wijkteam-zuid

say "The laptop's clock runs two days ahead. A case written on it is" \
    "dated two days from now: the lead stores it but holds it back, so" \
    "that a wrong clock cannot take over what everyone sees, and says" \
    "so. sync exits 1."
printf 'laptop$ samen put case name="Familie Bakker" ...\n'
early=$(quiet laptop put case "name=Familie Bakker" "status=open")
echo "$early"
if on laptop sync --wait; then
	echo "demo: sync said nothing of the held change set" >&2
	exit 1
fi
on lead status | grep -E '^held'
on lead get case "$early" || true

say "The laptop's clock is set right and samend restarted. New entries" \
    "take the real time again and reach the lead at once; the early one" \
    "still waits for its time."
stop laptop
start laptop
printf 'laptop$ samen put case name="Familie Visser" ...\n'
late=$(quiet laptop put case "name=Familie Visser" "status=open")
echo "$late"
on laptop sync --wait
on lead get case "$late"
on lead get case "$early" || true

say "Two days later (the lead's clock moved on), the early case comes due" \
    "and shows on the lead too: nothing was lost."
stop lead
SAMEND_TEST_CLOCK_OFFSET_MS=$((two_days + 60000)) start lead "$lead_addr"
on lead get case "$early"
on lead status | grep -E '^held'

echo
echo "demo: done. The laptop with a wrong clock was told its entry was" \
    "held back, its entries after the clock was set right arrived at" \
    "once, and the early one showed when its time came."
