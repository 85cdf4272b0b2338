#!/usr/bin/env bash
# run: replays and runs the libFuzzer targets that `make fuzz-build` built.
#
#   tests/fuzz/run.sh regress FUZZ_BUILD TARGET...
#       runs each target once over every file in tests/fuzz/regress/TARGET/
#       and its seeds (FUZZ_BUILD/corpus/TARGET/seed-*), each file one test,
#       then once over the kept corpus tests/fuzz/corpus/TARGET/, the whole
#       of it one test; seconds, no fuzzing.
#   tests/fuzz/run.sh fuzz FUZZ_BUILD SECONDS PARALLEL TARGET...
#       fuzzes each target SECONDS seconds, PARALLEL targets at a time, one
#       process each (under nice -n FUZZ_NICE, 0 unless set), on
#       FUZZ_BUILD/corpus/TARGET (where new inputs go) and the kept corpus
#       (read, never written); logs in FUZZ_BUILD/log/TARGET.log, the CPU
#       time each got in FUZZ_BUILD/log/TARGET.time; a crash input is
#       written to tests/fuzz/regress/TARGET/ and fails the run.
#   tests/fuzz/run.sh keep FUZZ_BUILD TARGET...
#       minimises the kept corpus and FUZZ_BUILD/corpus/TARGET together
#       (libFuzzer's -merge=1) into a new tests/fuzz/corpus/TARGET/: the
#       fewest, smallest files that reach every feature either reached.
#
# The last line is "N passed, N failed": inputs replayed (a kept corpus
# counts as one), targets fuzzed, or corpora kept.

set -u

usage() {
	echo "usage: $0 regress FUZZ_BUILD TARGET..." >&2
	echo "       $0 fuzz FUZZ_BUILD SECONDS PARALLEL TARGET..." >&2
	echo "       $0 keep FUZZ_BUILD TARGET..." >&2
	exit 2
}

root=$(cd "$(dirname "$0")/../.." && pwd)
regress=$root/tests/fuzz/regress
kept=$root/tests/fuzz/corpus

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

# Runs BIN once on each FILE, output to LOG; on failure says why, as WHAT.
run_files() {
	local what=$1 bin=$2 log=$3 rc
	shift 3
	"$bin" "$@" >"$log" 2>&1
	rc=$?
	[ $rc -eq 0 ] && return 0
	tail -n 40 "$log"
	echo "fuzz-regress: $what: FAILED (status $rc, log $log)"
	return 1
}

replay() {
	local build=$1 t bin files
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
		if run_files "$t" "$bin" "$build/log/regress-$t.log" \
		    "${files[@]}"; then
			passed=$((passed + ${#files[@]}))
			echo "fuzz-regress: $t: ${#files[@]} inputs ok"
		else
			failed=$((failed + 1))
		fi
		# The kept corpus: thousands of files in all, one test each
		# target, so that it does not swamp the count.
		files=()
		while IFS= read -r -d '' f; do
			files+=("$f")
		done < <(find "$kept/$t" -type f ! -name '.*' -print0 \
		    2>/dev/null | sort -z)
		[ ${#files[@]} -gt 0 ] || continue
		if run_files "$t: kept corpus" "$bin" \
		    "$build/log/regress-$t-kept.log" "${files[@]}"; then
			passed=$((passed + 1))
			echo "fuzz-regress: $t: kept corpus," \
			    "${#files[@]} inputs ok"
		else
			failed=$((failed + 1))
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
	    "new units ${units:-?} | $(cat "${log%.log}.time" 2>/dev/null)"
}

fuzz_one() {
	local build=$1 secs=$2 t=$3 log TIMEFORMAT
	log=$build/log/$t.log
	mkdir -p "$build/corpus/$t" "$regress/$t" "$kept/$t"
	# Wall and CPU seconds: under nice, or beside other work, the CPU
	# time is what the target really got.
	TIMEFORMAT='wall %0R s, cpu %0U s user + %0S s sys'
	{ time nice -n "${FUZZ_NICE:-0}" "$build/fuzz_$t" \
	    -max_total_time="$secs" -max_len="$(max_len "$t")" \
	    -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
	    -artifact_prefix="$regress/$t/" "$build/corpus/$t" "$kept/$t" \
	    >"$log" 2>&1
	  echo $? >"$build/log/$t.rc"; } 2>"$build/log/$t.time"
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
	    "nice -n ${FUZZ_NICE:-0} fuzz_T -max_total_time=$secs -max_len=L" \
	    "-timeout=10 -rss_limit_mb=2048 -print_final_stats=1" \
	    "corpus/T tests/fuzz/corpus/T"
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

# The bytes of the files in a directory.
bytes() {
	find "$1" -type f -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }'
}

# Minimises the kept corpus and the build's into a new kept corpus.
keep() {
	local build=$1 t new n0 n1 b0 b1
	local passed=0 failed=0
	shift
	for t in "$@"; do
		[ -x "$build/fuzz_$t" ] ||
		    { echo "fuzz-keep: no $build/fuzz_$t" >&2; exit 1; }
		new=$build/keep/$t
		rm -rf "$new"
		mkdir -p "$new" "$kept/$t" "$build/corpus/$t"
		n0=$(find "$kept/$t" -type f | wc -l)
		b0=$(bytes "$kept/$t")
		# An input that crashes is left out, not kept: fuzz-regress
		# and fuzz report crashes.
		if ! "$build/fuzz_$t" -merge=1 -max_len="$(max_len "$t")" \
		    -timeout=10 -rss_limit_mb=2048 "$new" "$kept/$t" \
		    "$build/corpus/$t" >"$build/log/keep-$t.log" 2>&1; then
			tail -n 20 "$build/log/keep-$t.log"
			echo "fuzz-keep: $t: FAILED (log" \
			    "$build/log/keep-$t.log), kept corpus unchanged"
			failed=$((failed + 1))
			continue
		fi
		find "$kept/$t" -type f -delete
		mv "$new"/* "$kept/$t"/ 2>/dev/null
		n1=$(find "$kept/$t" -type f | wc -l)
		b1=$(bytes "$kept/$t")
		echo "fuzz-keep: $t: $n0 files ($b0 bytes) ->" \
		    "$n1 files ($b1 bytes); $(grep -E '^MERGE-OUTER: [0-9]+ new' \
		    "$build/log/keep-$t.log")"
		passed=$((passed + 1))
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
keep)
	[ $# -ge 1 ] || usage
	keep "$build" "$@"
	;;
*)
	usage
	;;
esac
