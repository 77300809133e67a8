#!/bin/sh
# Runs each unit-test binary given as an argument; fails if any fails.
# Prints a closing "N passed, N failed" line over the binaries.
passed=0
failed=0
for t in "$@"; do
	if "$t"; then
		passed=$((passed + 1))
	else
		echo "FAILED: $t" >&2
		failed=$((failed + 1))
	fi
done
echo "unit: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
