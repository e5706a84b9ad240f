#!/bin/sh
# A shell consumer: file names from `jobs` until STOP; each file's lines
# are added to the file `total` under the lock `tally`.
while f=$(mp queue get jobs) && [ "$f" != STOP ]; do
  n=$(wc -l < "$f")
  mp lock tally -- sh -c 'echo $(( $(cat total) + $1 )) > total' sh "$n"
  mp dict incr done shell > /dev/null
done
