#!/usr/bin/env bash
# run: replays and runs the libFuzzer targets that `make fuzz-build` built.
#
#   tests/fuzz/run.sh regress FUZZ_BUILD TARGET...
#       runs each target once over every file in tests/fuzz/regress/TARGET/
#       and its seeds (FUZZ_BUILD/corpus/TARGET/seed-*); seconds, no fuzzing.
#   tests/fuzz/run.sh fuzz FUZZ_BUILD SECONDS PARALLEL TARGET...
#       fuzzes each target SECONDS seconds, PARALLEL targets at a time, one
#       process each, on FUZZ_BUILD/corpus/TARGET (where new inputs go);
#       logs in FUZZ_BUILD/log/TARGET.log; a crash input is written to
#       tests/fuzz/regress/TARGET/ and fails the run.
#
# The last line is "N passed, N failed": inputs replayed, or targets fuzzed.

set -u

usage() {
	echo "usage: $0 regress FUZZ_BUILD TARGET..." >&2
	echo "       $0 fuzz FUZZ_BUILD SECONDS PARALLEL TARGET..." >&2
	exit 2
}

root=$(cd "$(dirname "$0")/../.." && pwd)
regress=$root/tests/fuzz/regress

# The sanitizers stop at the first report; libFuzzer saves the input.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

# Longest input per target: a header has at most CS_MAX_HEADER (512) bytes;
# payloads, chunk plaintexts and change sets are held to 64 KiB so that
# the fuzzer stays fast (the caps past that are counts, checked before any
# byte is read, and mutations of the length headers reach them).
max_len() {
	case $1 in
	header) echo 1024 ;;
	wire) echo 16384 ;;
	conf) echo 8192 ;;
	*) echo 65536 ;;
	esac
}

replay() {
	local build=$1 t bin files rc
	local passed=0 failed=0
	shift
	for t in "$@"; do
		bin=$build/fuzz_$t
		[ -x "$bin" ] || { echo "fuzz-regress: no $bin" >&2; exit 1; }
		files=()
		while IFS= read -r -d '' f; do
			files+=("$f")
		done < <(find "$regress/$t" "$build/corpus/$t" -type f \
		    \( -path "$regress/*" ! -name '.*' -o -name 'seed-*' \) \
		    -print0 2>/dev/null | sort -z)
		if [ ${#files[@]} -eq 0 ]; then
			echo "fuzz-regress: $t: no inputs" >&2
			failed=$((failed + 1))
			continue
		fi
		# Given files, not directories, libFuzzer runs each once.
		"$bin" "${files[@]}" >"$build/log/regress-$t.log" 2>&1
		rc=$?
		if [ $rc -eq 0 ]; then
			passed=$((passed + ${#files[@]}))
			echo "fuzz-regress: $t: ${#files[@]} inputs ok"
		else
			failed=$((failed + 1))
			tail -n 40 "$build/log/regress-$t.log"
			echo "fuzz-regress: $t: FAILED (status $rc," \
			    "log $build/log/regress-$t.log)"
		fi
	done
	echo "$passed passed, $failed failed"
	[ $failed -eq 0 ] && [ $passed -gt 0 ]
}

# One line of figures from a finished log.
summary() {
	local log=$1 done_line execs rate units
	done_line=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -n 1)
	[ -n "$done_line" ] ||
	    done_line=$(grep -E '^#[0-9]+[[:space:]]' "$log" | tail -n 1)
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
	units=$(sed -n 's/^stat::new_units_added: *//p' "$log")
	echo "$done_line | execs ${execs:-?} avg exec/s ${rate:-?}" \
	    "new units ${units:-?}"
}

fuzz_one() {
	local build=$1 secs=$2 t=$3 log
	log=$build/log/$t.log
	mkdir -p "$build/corpus/$t" "$regress/$t"
	"$build/fuzz_$t" -max_total_time="$secs" -max_len="$(max_len "$t")" \
	    -timeout=10 -print_final_stats=1 \
	    -artifact_prefix="$regress/$t/" "$build/corpus/$t" >"$log" 2>&1
	echo $? >"$build/log/$t.rc"
}

fuzz() {
	local build=$1 secs=$2 par=$3 t rc
	local passed=0 failed=0
	shift 3
	for t in "$@"; do
		[ -x "$build/fuzz_$t" ] ||
		    { echo "fuzz: no $build/fuzz_$t" >&2; exit 1; }
	done
	echo "fuzz: $# targets, ${secs}s each, $par at a time:" \
	    "fuzz_T -max_total_time=$secs -max_len=L -timeout=10" \
	    "-print_final_stats=1 corpus/T"
	for t in "$@"; do
		while [ "$(jobs -rp | wc -l)" -ge "$par" ]; do
			wait -n
		done
		echo "fuzz: $t: started"
		rm -f "$build/log/$t.rc"
		fuzz_one "$build" "$secs" "$t" &
	done
	wait
	for t in "$@"; do
		rc=$(cat "$build/log/$t.rc" 2>/dev/null || echo 1)
		echo "fuzz: $t: $(summary "$build/log/$t.log")"
		echo "fuzz: $t: corpus" \
		    "$(find "$build/corpus/$t" -type f | wc -l) files"
		if [ $rc -eq 0 ]; then
			passed=$((passed + 1))
		else
			failed=$((failed + 1))
			grep -E '^(==[0-9]+==ERROR|SUMMARY|artifact_prefix)' \
			    "$build/log/$t.log"
			echo "fuzz: $t: FAILED (status $rc," \
			    "log $build/log/$t.log)"
		fi
	done
	echo "$passed passed, $failed failed"
	[ $failed -eq 0 ]
}

[ $# -ge 2 ] || usage
mode=$1
build=$2
shift 2
mkdir -p "$build/log"
case $mode in
regress)
	[ $# -ge 1 ] || usage
	replay "$build" "$@"
	;;
fuzz)
	[ $# -ge 3 ] || usage
	secs=$1 par=$2
	shift 2
	fuzz "$build" "$secs" "$par" "$@"
	;;
*)
	usage
	;;
esac
