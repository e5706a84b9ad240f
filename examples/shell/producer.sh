#!/bin/sh
# The producer: every file name on stdin goes into the queue `jobs` (made
# here, on first use), then one STOP for each of the three consumers.
set -e
echo 0 > total
while IFS= read -r f; do mp queue put jobs "$f"; done
mp queue put jobs STOP STOP STOP
