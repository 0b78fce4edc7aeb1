#!/bin/bash
# Usage: cargo build --release && N=2000000 benches/daemon_follow.sh
# lines/s of a live follow: logmill follows an empty file; N lines are appended at once; time
# until logmill has run them all (read through the metrics file on SIGUSR1).
BIN=${BIN:-$(dirname "$0")/../target/release/logmill}
N=${N:-2000000}
D=$(mktemp -d)
mkdir $D/progs
cp $(dirname "$0")/../programs/examples/http.mtail $D/progs/
python3 - "$D/big" "$N" "$(dirname "$0")/../programs/examples/access.log" <<'P'
import sys
src=open(sys.argv[3]).read().splitlines()
n=int(sys.argv[2])
with open(sys.argv[1],'w') as f:
    for i in range(n):
        f.write(src[i%len(src)]+'\n')
P
: > $D/app.log
$BIN --progs $D/progs --logs $D/app.log --metrics_file $D/m.prom --metrics_file_format=prometheus 2>$D/err &
PID=$!
sleep 1
T0=$(date +%s.%N)
cat $D/big >> $D/app.log
while :; do
  rm -f $D/m.prom; kill -USR1 $PID
  while [ ! -f $D/m.prom ]; do sleep 0.01; done
  got=$(grep '^logmill_lines_total ' $D/m.prom | awk '{print $2}')
  [ "$got" = "$N" ] && break
  sleep 0.05
done
T1=$(date +%s.%N)
python3 -c "w=$T1-$T0; print(f'{$N} lines in {w:.2f}s = {$N/w:,.0f} lines/s; bytes', __import__('os').path.getsize('$D/big'))"
kill -TERM $PID; wait $PID; echo "exit $?"
rm -rf $D
