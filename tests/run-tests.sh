#!/usr/bin/env bash
# run-tests: every unit test binary, then the system tests; one summary line.
#
#   tests/run-tests.sh BUILD [unit|system|fuzz|all]
#
# Unit tests are the cmocka binaries in BUILD/tests/unit/.  Each binary's
# "[  PASSED  ] N test(s)." and "[  FAILED  ] N test(s)" lines are added up;
# a binary that exits non-zero with no failure in its summary (a crash, a
# sanitizer report at exit) counts as one more failure.  System tests are
# tests/system, run by Debian's pytest with SAMEN_BUILD=BUILD, one file
# per worker process of pytest-xdist (SYSTEM_JOBS workers, the number of
# CPUs up to 4 unless set; 1, or no xdist, runs them in one process).  With
# FUZZ_BUILD and FUZZ_TARGETS set (make test), the fuzz targets' saved
# inputs are replayed last: each regression input and seed one test, each
# target's kept corpus (tests/fuzz/corpus/TARGET/) one test.  The last
# line is exactly "N passed, N failed"; the exit status is non-zero if
# anything failed or nothing ran.

set -u

usage() {
	echo "usage: $0 BUILD [unit|system|fuzz|all]" >&2
	exit 2
}

[ $# -ge 1 ] && [ $# -le 2 ] || usage
build=$1
what=${2:-all}
case $what in
unit|system|fuzz|all) ;;
*) usage ;;
esac

root=$(cd "$(dirname "$0")/.." && pwd)
[ -d "$build" ] || { echo "run-tests: no build directory $build" >&2; exit 1; }
build=$(cd "$build" && pwd)

# The sanitizers stop at the first report and fail the process.
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
# cmocka's default output, which is what we parse.
unset CMOCKA_MESSAGE_OUTPUT CMOCKA_XML_FILE

# Generous: a unit test binary should take seconds, the system suite minutes.
UNIT_TIMEOUT=${UNIT_TIMEOUT:-600}
SYSTEM_TIMEOUT=${SYSTEM_TIMEOUT:-1200}

passed=0
failed=0
failures=()

run_unit() {
	local bin name out rc p f
	local found=0
	for bin in "$build"/tests/unit/*; do
		[ -f "$bin" ] && [ -x "$bin" ] || continue
		found=1
		name=$(basename "$bin")
		out=$(cd "$root" && timeout -k 10 "$UNIT_TIMEOUT" "$bin" 2>&1)
		rc=$?
		printf '%s\n' "$out"
		p=$(printf '%s\n' "$out" |
		    sed -n 's/^\[  PASSED  \] \([0-9][0-9]*\) test(s)\..*/\1/p' |
		    awk '{ s += $1 } END { print s + 0 }')
		f=$(printf '%s\n' "$out" |
		    sed -n 's/^\[  FAILED  \] \([0-9][0-9]*\) test(s).*/\1/p' |
		    awk '{ s += $1 } END { print s + 0 }')
		if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
			# Crashed, timed out, or a report at exit: no summary
			# tells of it, so it is one failure of its own.
			f=1
			echo "run-tests: $name exited with status $rc" >&2
		elif [ "$rc" -eq 0 ] && [ "$p" -eq 0 ] && [ "$f" -eq 0 ]; then
			f=1
			echo "run-tests: $name printed no cmocka summary" >&2
		fi
		passed=$((passed + p))
		failed=$((failed + f))
		[ "$f" -eq 0 ] || failures+=("unit: $name ($f failed)")
		echo "run-tests: $name: $p passed, $f failed"
	done
	if [ "$found" -eq 0 ]; then
		echo "run-tests: no unit test binaries in $build/tests/unit" >&2
	fi
}

# Adds up one kind of count ("passed", "failed", "error", ...) from
# pytest's summary line, e.g. "== 3 failed, 40 passed, 1 error in 9.1s ==".
pytest_count() {
	printf '%s\n' "$2" | grep -oE "[0-9]+ $1s?( |,|$)" |
	    awk '{ s += $1 } END { print s + 0 }'
}

run_system() {
	local log rc summary p f e s
	local python=/usr/bin/python3
	if ! "$python" -c 'import pytest' 2>/dev/null; then
		echo "run-tests: $python has no pytest (apt-get install" \
		    "python3-pytest)" >&2
		failed=$((failed + 1))
		failures+=("system: pytest missing")
		return
	fi
	# Most of a system test is waiting (for a sync, a kill, a timer), so
	# two run side by side on two CPUs.  A file stays in one worker: its
	# module fixtures (one cluster, one deb) are built once.  At most 4
	# workers unless SYSTEM_JOBS says: each runs several ASan daemons, and
	# 4 is the most the suite has been tried with (on 2 CPUs).
	local jobs=${SYSTEM_JOBS:-$(nproc 2>/dev/null || echo 1)}
	case $jobs in
	'' | *[!0-9]*)
		echo "run-tests: SYSTEM_JOBS=$jobs: expected a number" >&2
		exit 2
		;;
	esac
	[ -n "${SYSTEM_JOBS:-}" ] || [ "$jobs" -le 4 ] || jobs=4
	local par=()
	if [ "$jobs" -gt 1 ]; then
		if "$python" -c 'import xdist' 2>/dev/null; then
			par=(-n "$jobs" --dist loadfile)
		else
			echo "run-tests: no pytest-xdist (apt-get install" \
			    "python3-pytest-xdist): system tests in one process" >&2
		fi
	fi
	log=$(mktemp /tmp/samen-pytest.XXXXXX)
	(cd "$root" && SAMEN_BUILD=$build timeout -k 10 "$SYSTEM_TIMEOUT" \
	    "$python" -m pytest -p no:cacheprovider -v -rfE --tb=short \
	    "${par[@]}" tests/system) 2>&1 | tee "$log"
	rc=${PIPESTATUS[0]}
	# The summary is the last line that says "in N.NNs".
	summary=$(grep -E '(passed|failed|error|skipped|no tests ran).* in [0-9.]+s' \
	    "$log" | tail -n 1)
	rm -f "$log"
	p=$(pytest_count passed "$summary")
	f=$(pytest_count failed "$summary")
	e=$(pytest_count error "$summary")
	s=$(pytest_count skipped "$summary")
	f=$((f + e))
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		# Interrupted, timed out, or nothing collected.
		f=1
		echo "run-tests: pytest exited with status $rc" >&2
	fi
	[ "$s" -eq 0 ] || echo "run-tests: $s system test(s) skipped"
	passed=$((passed + p))
	failed=$((failed + f))
	[ "$f" -eq 0 ] || failures+=("system: $f failed")
	echo "run-tests: system: $p passed, $f failed"
}

# The fuzz targets' saved inputs (tests/fuzz/regress/) and seeds, replayed
# by tests/fuzz/run.sh, when $FUZZ_BUILD holds the targets (make test).
run_fuzz() {
	local out rc line p=0 f=0
	if [ -z "${FUZZ_BUILD:-}" ] || [ -z "${FUZZ_TARGETS:-}" ]; then
		echo "run-tests: set FUZZ_BUILD and FUZZ_TARGETS (make test" \
		    "does)" >&2
		failed=$((failed + 1))
		failures+=("fuzz replay: not run")
		return
	fi
	out=$(cd "$root" && timeout -k 10 "$UNIT_TIMEOUT" tests/fuzz/run.sh \
	    regress "$FUZZ_BUILD" $FUZZ_TARGETS 2>&1)
	rc=$?
	printf '%s\n' "$out"
	line=$(printf '%s\n' "$out" |
	    grep -E '^[0-9]+ passed, [0-9]+ failed$' | tail -n 1)
	if [ -n "$line" ]; then
		p=${line%% passed*}
		f=${line#*passed, }
		f=${f%% failed}
	fi
	if { [ "$rc" -ne 0 ] || [ -z "$line" ]; } && [ "$f" -eq 0 ]; then
		f=1
		echo "run-tests: the fuzz replay exited with status $rc" >&2
	fi
	passed=$((passed + p))
	failed=$((failed + f))
	[ "$f" -eq 0 ] || failures+=("fuzz replay: $f failed")
	echo "run-tests: fuzz replay: $p passed, $f failed"
}

case $what in
unit) run_unit ;;
system) run_system ;;
fuzz) run_fuzz ;;
all) run_unit; run_system ;;
esac
if [ "$what" = all ] && [ -n "${FUZZ_BUILD:-}" ]; then
	run_fuzz
fi

for x in "${failures[@]+"${failures[@]}"}"; do
	echo "FAILED $x"
done
echo "$passed passed, $failed failed"
if [ "$failed" -ne 0 ] || [ "$passed" -eq 0 ]; then
	exit 1
fi
exit 0
