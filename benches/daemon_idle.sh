#!/bin/bash
# Usage: cargo build --release && benches/daemon_idle.sh   (EXTRA="--flags" to vary)
# idle CPU of logmill following 500 idle files, over 30 s
BIN=${BIN:-$(dirname "$0")/../target/release/logmill}
D=$(mktemp -d)
mkdir $D/logs $D/progs
for i in $(seq 1 500); do echo "start $i" > $D/logs/f$i.log; done
cp $(dirname "$0")/../programs/examples/http.mtail $D/progs/
$BIN --progs $D/progs --logs "$D/logs/*.log" $EXTRA 2>$D/err &
PID=$!
sleep 3
read -r a b < <(awk '{print $14, $15}' /proc/$PID/stat)
T0=$(date +%s.%N)
sleep 30
read -r c d < <(awk '{print $14, $15}' /proc/$PID/stat)
T1=$(date +%s.%N)
TCK=$(getconf CLK_TCK)
python3 -c "t=($c+$d-$a-$b)/$TCK; w=$T1-$T0; print(f'cpu {t:.2f}s over {w:.1f}s wall = {100*t/w:.2f}% of one core; rss', open('/proc/$PID/status').read().split('VmRSS:')[1].split()[0], 'kB')"
kill -TERM $PID; wait $PID; echo "exit $?"
rm -rf $D
