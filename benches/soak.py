#!/usr/bin/env python3
"""Soak test of the daemon: a steady write rate, rename rotations and scrapes for minutes.

Usage:
    cargo build --release && python3 benches/soak.py                 # 10 minutes (600 s)
    cargo build --release && python3 benches/soak.py --duration 60   # a short run
    python3 benches/soak.py --rate 200000 --json soak.json           # other rates; JSON report
    python3 benches/soak.py --help                                   # every option

What it does. The release binary runs as a daemon with two programs, a copy of
programs/examples/http.mtail and `soak.mtail`, which counts every line (`soak_lines`), follows
the glob DIR/*.log (`--plain-path`: the path DIR/app.log itself) and serves HTTP on a free port
of 127.0.0.1. A writer appends the lines of programs/examples/access.log, cycled, to
DIR/app.log at `--rate` lines/s, in batches every `--batch-every` s, each batch one write() of
whole lines. Every `--rotate-every` s it rotates like logrotate's create mode: app.log is renamed
to app.log.1 (replacing the previous one), one more batch goes to the renamed file (the
application has not reopened its log yet: these lines must be counted too), then a new app.log
is created and written. Every `--scrape-every` s, /metrics is scraped over HTTP: each scrape
must answer 200 and parse; the count, the daemon's RSS (/proc/PID/status VmRSS and the scraped
process_resident_memory_bytes), its CPU time and open files are recorded.

After `--duration` s the writer stops; the script waits until the count has not changed for
`--settle` s (more than the 5 s logmill keeps reading a renamed file after its last data), at
most `--settle-timeout` s, then stops the daemon with SIGTERM. It passes (exit 0) when:
- counted == written exactly: `soak_lines` from the last scrape, and in the metrics file the
  daemon writes at exit (fewer is loss, more is doubling, reported apart), and every series of
  http.mtail equals what the written lines give (a torn or merged line would show there);
- the writer kept up: written lines / writing time >= the asked rate less `--rate-tolerance`;
- every rotation was seen (logmill_log_rotations_total == rotations done);
- no scrape failed and the daemon never died, and it exits 0 on SIGTERM;
- RSS is flat: the mean VmRSS of the last third of the writing time exceeds the mean of the
  second third by at most max(`--rss-tolerance` x the second-third mean, `--rss-slack-mb` MiB).
  The first third is left out: buffers and the allocator's pools grow to their working size
  there. A drop is not a failure;
- open files are flat: the most of the last third is at most 2 above the most of the second
  third (the renamed files must be closed once drained).
The report is printed; `--json PATH` writes it as JSON too, with every sample.
"""

import argparse
import http.client
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ACCESS_LOG = os.path.join(REPO, "programs", "examples", "access.log")
HTTP_PROG = os.path.join(REPO, "programs", "examples", "http.mtail")
SOAK_PROG = """# Counts every line: the number of lines logmill ran, to compare with the lines written.
counter soak_lines

/$/ {
  soak_lines++
}
"""
MIB = 1024 * 1024
CLK_TCK = os.sysconf("SC_CLK_TCK")


def parse_args():
    p = argparse.ArgumentParser(
        description="Soak test: steady writes, rename rotations, scrapes; nothing lost or doubled, RSS flat.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--bin", default="target/release/logmill", help="the logmill binary (relative to the repository)")
    p.add_argument("--duration", type=float, default=600, help="seconds of writing")
    p.add_argument("--rate", type=float, default=50000, help="lines written per second")
    p.add_argument("--batch-every", type=float, default=0.01, help="seconds between two writes")
    p.add_argument("--rotate-every", type=float, default=2, help="seconds between two rename rotations")
    p.add_argument("--late-batch", action=argparse.BooleanOptionalAction, default=True,
                   help="after each rename, write one more batch to the renamed file before creating the new one")
    p.add_argument("--scrape-every", type=float, default=1, help="seconds between two scrapes of /metrics")
    p.add_argument("--plain-path", action="store_true", help="follow DIR/app.log rather than the glob DIR/*.log")
    p.add_argument("--settle", type=float, default=7, help="after writing, the count must stay unchanged this long")
    p.add_argument("--settle-timeout", type=float, default=30, help="longest wait for the count to settle")
    p.add_argument("--rate-tolerance", type=float, default=0.03, help="fraction of --rate the writer may fall short")
    p.add_argument("--rss-tolerance", type=float, default=0.10, help="RSS growth allowed, fraction of the second-third mean")
    p.add_argument("--rss-slack-mb", type=float, default=5, help="RSS growth allowed in MiB (the larger of the two applies)")
    p.add_argument("--daemon-args", default="", help="more flags for logmill (one string, split like a shell)")
    p.add_argument("--json", metavar="PATH", help="also write the report as JSON here")
    p.add_argument("--keep", action="store_true", help="keep the temporary directory (logs, programs, daemon stderr)")
    a = p.parse_args()
    if a.duration <= 0 or a.rate <= 0 or a.batch_every <= 0 or a.rotate_every <= 0 or a.scrape_every <= 0:
        p.error("durations and the rate must be positive")
    return a


# --- the expected metrics -------------------------------------------------------------------

ACCESS_RE = re.compile(r'^(\S+) \S+ \S+ \[([^\]]+)\] .*?"([A-Z]+) \S+ HTTP/[0-9.]+" (\d{3}) (\S+)')


def expected_http(lines, written):
    """What http.mtail computes from the first `written` lines of `lines` cycled."""
    k = len(lines)
    requests, resp_bytes, unparsed, sized = {}, {}, 0, 0
    for i, line in enumerate(lines):
        times = written // k + (1 if i < written % k else 0)
        m = ACCESS_RE.search(line)
        if not m:
            unparsed += times
            continue
        key = (m.group(3), m.group(4))
        requests[key] = requests.get(key, 0) + times
        if m.group(5).isdigit():
            resp_bytes[key] = resp_bytes.get(key, 0) + times * int(m.group(5))
            sized += times
    return {"requests": requests, "bytes": resp_bytes, "unparsed": unparsed, "sized": sized}


# --- Prometheus text ------------------------------------------------------------------------

NAME_RE = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*$")
ESCAPES = {"n": "\n", "\\": "\\", '"': '"'}


def parse_number(s):
    """An int when the value is a whole number (counters print as 1.5e+06 too), else a float."""
    try:
        return int(s)
    except ValueError:
        v = float(s)  # 1.5e+06, NaN, +Inf; raises on anything else
        return int(v) if v.is_integer() else v


def same(got, want):
    """`got` (as exported, a float64) is the integer `want`: exactly, or as float64 rounds it."""
    return got == want or (got is not None and abs(want) > 2**53 and got == int(float(want)))


def same_series(got, want):
    return got.keys() == want.keys() and all(same(got[k], want[k]) for k in want)


def parse_prom(text):
    """Samples of a Prometheus text exposition as (name, labels, value); raises ValueError."""
    samples = []
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        try:
            n = len(line)
            j = 0
            while j < n and line[j] not in "{ ":
                j += 1
            name, labels = line[:j], {}
            if not NAME_RE.match(name):
                raise ValueError(f"bad name {name!r}")
            if j < n and line[j] == "{":
                j += 1
                while True:
                    while line[j] == " ":
                        j += 1
                    if line[j] == "}":
                        j += 1
                        break
                    eq = line.index("=", j)
                    lname = line[j:eq].strip()
                    j = eq + 1
                    if line[j] != '"':
                        raise ValueError("label value not quoted")
                    j += 1
                    val = []
                    while line[j] != '"':
                        if line[j] == "\\":
                            j += 1
                            val.append(ESCAPES.get(line[j], "\\" + line[j]))
                        else:
                            val.append(line[j])
                        j += 1
                    j += 1
                    labels[lname] = "".join(val)
                    while line[j] == " ":
                        j += 1
                    if line[j] == ",":
                        j += 1
            rest = line[j:].split()
            if not 1 <= len(rest) <= 2:
                raise ValueError("expected a value and maybe a timestamp")
            samples.append((name, labels, parse_number(rest[0])))
        except (ValueError, IndexError) as e:
            raise ValueError(f"line {lineno}: {e}: {line[:200]!r}") from None
    return samples


def total(samples, name, **match):
    """Sum of the samples named `name` whose labels include `match`; None if there are none."""
    vals = [v for n, l, v in samples if n == name and all(l.get(k) == x for k, x in match.items())]
    return sum(vals) if vals else None


def by_method_status(samples, name):
    out = {}
    for n, l, v in samples:
        if n == name:
            key = (l.get("method"), l.get("status"))
            out[key] = out.get(key, 0) + v
    return out


# --- the daemon's process -------------------------------------------------------------------


def proc_status(pid):
    """VmRSS, VmHWM (bytes) and Threads from /proc/PID/status."""
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmRSS", "VmHWM"):
                out[k] = int(v.split()[0]) * 1024
            elif k == "Threads":
                out[k] = int(v)
    return out


def proc_cpu(pid):
    """User + system CPU seconds of the process (all its threads)."""
    with open(f"/proc/{pid}/stat") as f:
        s = f.read()
    fields = s[s.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def proc_fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(port, path, timeout=10):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request("GET", path)
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


# --- the writer -----------------------------------------------------------------------------


class Writer(threading.Thread):
    """Appends lines at a steady rate to DIR/app.log, rotating it by rename + create."""

    def __init__(self, logdir, lines, a):
        super().__init__(name="writer", daemon=True)
        self.path = os.path.join(logdir, "app.log")
        self.rotated_path = self.path + ".1"
        self.a = a
        self.k = len(lines)
        encoded = [line.encode() + b"\n" for line in lines]
        # One write at most this many lines (the writer catches up in several writes).
        self.max_batch = max(int(a.rate * 0.1), 100)
        reps = self.max_batch // self.k + 2
        self.buf = memoryview(b"".join(encoded * reps))
        self.offs = [0]
        for line in encoded * reps:
            self.offs.append(self.offs[-1] + len(line))
        self.written = 0  # lines
        self.bytes = 0
        self.rotations = 0
        self.late_lines = 0
        self.max_lag = 0.0  # seconds behind the schedule, at worst
        self.t0 = self.t_end = None
        self.error = None
        self.stop = threading.Event()

    def write(self, fd, n):
        a = self.written % self.k
        chunk = self.buf[self.offs[a]:self.offs[a + n]]
        while chunk:
            w = os.write(fd, chunk)
            chunk = chunk[w:]
        self.written += n
        self.bytes += self.offs[a + n] - self.offs[a]

    def run(self):
        try:
            self.loop()
        except Exception as e:  # reported as a failure
            self.error = f"{type(e).__name__}: {e}"
            self.t_end = time.monotonic()

    def loop(self):
        a = self.a
        flags = os.O_WRONLY | os.O_APPEND
        fd = os.open(self.path, flags)
        self.t0 = t0 = time.monotonic()
        end = t0 + a.duration
        next_rotate = t0 + a.rotate_every
        tick = 0
        late = max(1, int(a.rate * a.batch_every))
        while not self.stop.is_set():
            now = time.monotonic()
            if now >= end:
                break
            if now >= next_rotate:
                os.rename(self.path, self.rotated_path)
                if a.late_batch:
                    self.write(fd, late)
                    self.late_lines += late
                os.close(fd)
                fd = os.open(self.path, flags | os.O_CREAT | os.O_EXCL, 0o644)
                self.rotations += 1
                next_rotate += a.rotate_every
                if next_rotate <= now:
                    next_rotate = now + a.rotate_every
            due = int(a.rate * (now - t0)) - self.written
            self.max_lag = max(self.max_lag, due / a.rate)
            if due > 0:
                self.write(fd, min(due, self.max_batch))
                if due > self.max_batch:
                    continue  # behind the schedule: write on (rotations and the end still apply)
            tick += 1
            wake = t0 + tick * a.batch_every
            if wake > now:
                time.sleep(wake - now)
            else:
                tick = int((now - t0) / a.batch_every)
        # The lines due by the end (a part of one batch when the writer keeps up).
        due = int(a.rate * a.duration) - self.written
        if not self.stop.is_set() and 0 < due <= self.max_batch:
            self.write(fd, due)
        self.t_end = time.monotonic()
        os.close(fd)


# --- the run --------------------------------------------------------------------------------


def mean(xs):
    return sum(xs) / len(xs) if xs else None


def num(x):
    return "unknown" if x is None else format(x, ",")


def mb(x):
    return None if x is None else round(x / MIB, 2)


def main():
    a = parse_args()
    binary = a.bin if os.path.isabs(a.bin) else os.path.join(REPO, a.bin)
    if not os.access(binary, os.X_OK):
        print(f"no logmill binary at {binary}: cargo build --release", file=sys.stderr)
        return 2
    with open(ACCESS_LOG) as f:
        lines = [line for line in f.read().splitlines() if line]

    tmp = tempfile.mkdtemp(prefix="logmill-soak-")
    daemon = None
    writers = []  # the writer, once started (stopped if anything goes wrong)
    try:
        progs = os.path.join(tmp, "progs")
        logdir = os.path.join(tmp, "logs")
        os.mkdir(progs)
        os.mkdir(logdir)
        shutil.copy(HTTP_PROG, progs)
        with open(os.path.join(progs, "soak.mtail"), "w") as f:
            f.write(SOAK_PROG)
        log = os.path.join(logdir, "app.log")
        open(log, "w").close()
        final_file = os.path.join(tmp, "final.prom")
        port = free_port()
        pattern = log if a.plain_path else os.path.join(logdir, "*.log")
        cmd = [binary, "--progs", progs, "--logs", pattern, "--address", "127.0.0.1", "--port", str(port),
               "--metrics_file", final_file, "--metrics_file_format=prometheus"] + shlex.split(a.daemon_args)
        err_path = os.path.join(tmp, "daemon.err")
        err = open(err_path, "w")
        daemon = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err)
        err.close()
        # /healthz answers once the server runs, which is after the followed files are open.
        deadline = time.monotonic() + 20
        while True:
            if daemon.poll() is not None:
                raise SystemExit(f"logmill exited at startup ({daemon.returncode}):\n{open(err_path).read()}")
            try:
                if get(port, "/healthz", timeout=2)[0] == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("logmill did not answer /healthz within 20 s")
            time.sleep(0.1)
        return run(a, daemon, port, writers, lines, logdir, final_file, err_path, cmd)
    finally:
        for w in writers:
            w.stop.set()
        if daemon is not None and daemon.poll() is None:
            daemon.kill()
            daemon.wait()
        if a.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def run(a, daemon, port, writers, lines, logdir, final_file, err_path, cmd):
    pid = daemon.pid
    load_start = os.getloadavg()
    cpu_start = proc_cpu(pid)
    own_start = os.times()
    writer = Writer(logdir, lines, a)
    writers.append(writer)
    samples = []  # one per scrape, during and after writing
    failures = []  # (t, reason)
    scrapes = 0
    died = None
    parsed = None  # the last scrape that answered

    def scrape(phase):
        nonlocal scrapes, died, parsed
        if daemon.poll() is not None:
            died = daemon.returncode
            return None
        scrapes += 1
        t = time.monotonic() - writer.t0
        written = writer.written
        s = {"t": round(t, 3), "phase": phase, "written": written}
        try:
            st = proc_status(pid)
            s.update(rss=st.get("VmRSS"), hwm=st.get("VmHWM"), threads=st.get("Threads"),
                     cpu=round(proc_cpu(pid) - cpu_start, 3), fds=proc_fds(pid))
        except OSError:
            pass
        t1 = time.monotonic()
        try:
            status, body = get(port, "/metrics")
            s["latency"] = round(time.monotonic() - t1, 4)
            if status != 200:
                raise ValueError(f"status {status}")
            metrics = parse_prom(body.decode())
            count = total(metrics, "soak_lines")
            if count is None:
                raise ValueError("no soak_lines in the scrape")
        except (OSError, ValueError, UnicodeDecodeError, http.client.HTTPException) as e:
            failures.append((round(t, 3), f"{type(e).__name__}: {e}"))
            samples.append(s)
            return None
        s.update(count=count, lines_total=total(metrics, "logmill_lines_total"),
                 rss_scraped=total(metrics, "process_resident_memory_bytes"),
                 cpu_scraped=total(metrics, "process_cpu_seconds_total"), bytes=len(body))
        samples.append(s)
        parsed = metrics
        return count

    writer.start()
    while writer.t0 is None and writer.is_alive():
        time.sleep(0.001)
    t0 = writer.t0
    if t0 is None:
        raise SystemExit(f"the writer could not start: {writer.error}")
    tick = 0
    while writer.is_alive() and writer.t0 is not None:
        tick += 1
        wake = t0 + tick * a.scrape_every
        while writer.is_alive() and time.monotonic() < wake:
            time.sleep(min(0.05, max(0.0, wake - time.monotonic())))
        if not writer.is_alive():
            break
        scrape("write")
        if died is not None:
            writer.stop.set()
            break
        now = time.monotonic()
        if now > t0 + (tick + 1) * a.scrape_every:
            tick = int((now - t0) / a.scrape_every)
    writer.join()
    t_write_end = writer.t_end or time.monotonic()
    write_secs = t_write_end - t0
    own_write = os.times()

    # Wait for the count to settle.
    last, last_change = None, time.monotonic()
    settle_start = time.monotonic()
    while died is None:
        c = scrape("settle")
        if c is not None:
            if c != last:
                last, last_change = c, time.monotonic()
        now = time.monotonic()
        if now - last_change >= a.settle or now - settle_start >= a.settle_timeout:
            break
        time.sleep(0.5)
    settle_secs = time.monotonic() - settle_start
    settled = died is None and time.monotonic() - last_change >= a.settle
    cpu_end = proc_cpu(pid) if died is None else None
    status_end = proc_status(pid) if died is None else {}

    # Stop the daemon.
    exit_status = died
    stop_secs = None
    if died is None:
        t1 = time.monotonic()
        daemon.send_signal(signal.SIGTERM)
        try:
            exit_status = daemon.wait(timeout=30)
        except subprocess.TimeoutExpired:
            daemon.kill()
            daemon.wait()
            exit_status = "did not stop within 30 s of SIGTERM (killed)"
        stop_secs = time.monotonic() - t1
    final_count = None
    try:
        with open(final_file) as f:
            final_count = total(parse_prom(f.read()), "soak_lines")
    except (OSError, ValueError):
        pass
    with open(err_path) as f:
        err_lines = f.read().splitlines()
    warnings = [line for line in err_lines if " WARN " in line or " ERROR " in line]

    return report(a, locals())


def report(a, v):
    writer, samples, failures = v["writer"], v["samples"], v["failures"]
    written, write_secs = writer.written, v["write_secs"]
    parsed = v["parsed"]
    counted = total(parsed, "soak_lines") if parsed else None
    rate = written / write_secs if write_secs > 0 else 0.0
    checks = []

    def check(name, ok, detail):
        checks.append({"check": name, "ok": bool(ok), "detail": detail})

    # Lines.
    lost = written - counted if counted is not None and counted < written else 0
    doubled = counted - written if counted is not None and counted > written else 0
    check("exact count", counted == written,
          f"written {written:,}, counted {num(counted)}: lost {lost:,}, doubled {doubled:,}"
          + ("" if v["died"] is None else " (the last scrape before logmill died)")
          + ("" if v["settled"] or v["died"] is not None else
             " (still counting when the wait ended: logmill was behind, the difference is not all loss)"))
    fc = v["final_count"]
    check("metrics file at exit", fc == written, f"soak_lines in the file written at exit: {num(fc)}")
    lines_total = total(parsed, "logmill_lines_total") if parsed else None
    check("logmill_lines_total", lines_total == written, f"{lines_total}")
    exp = expected_http(v["lines"], written)
    http_ok = parsed is not None and (
        same_series(by_method_status(parsed, "http_requests_total"), exp["requests"])
        and same_series(by_method_status(parsed, "http_response_bytes_total"), exp["bytes"])
        and same(total(parsed, "http_unparsed_lines_total"), exp["unparsed"])
        and same(total(parsed, "http_response_size_bytes_count"), exp["sized"]))
    got_req = by_method_status(parsed, "http_requests_total") if parsed else {}
    check("http.mtail series", http_ok,
          f"{len(exp['requests'])} request series, {len(exp['bytes'])} byte series, unparsed and histogram count"
          + ("" if http_ok else f"; expected requests {sorted(exp['requests'].items())}, got {sorted(got_req.items())}"))
    check("settled", v["settled"], f"count unchanged for {a.settle} s, after {v['settle_secs']:.1f} s")

    # Writer.
    floor = a.rate * (1 - a.rate_tolerance)
    check("write rate", writer.error is None and rate >= floor,
          f"{rate:,.0f} lines/s over {write_secs:.1f} s (asked {a.rate:,.0f}, floor {floor:,.0f}); "
          f"writer at worst {writer.max_lag:.3f} s behind"
          + (f"; writer failed: {writer.error}" if writer.error else "")
          + ("" if rate >= floor else "; the writer could not keep up: the run does not show the asked rate"))
    rot_seen = total(parsed, "logmill_log_rotations_total") if parsed else None
    check("rotations seen", rot_seen == writer.rotations,
          f"{writer.rotations} done ({writer.late_lines:,} lines written to renamed files), {rot_seen} seen by logmill")

    # Scrapes and the daemon.
    lat = [s["latency"] for s in samples if "latency" in s]
    check("scrapes", not failures and v["scrapes"] > 0,
          f"{v['scrapes']} scrapes, {len(failures)} failed"
          + (f" (first: {failures[0]})" if failures else "")
          + (f"; latency mean {mean(lat) * 1000:.1f} ms, max {max(lat) * 1000:.1f} ms" if lat else ""))
    died = v["died"]
    check("daemon alive", died is None, "ran to the end" if died is None
          else f"died with status {died}; its last words: {v['err_lines'][-5:]}")
    if died is None:
        check("clean stop", v["exit_status"] == 0,
              f"exit status {v['exit_status']} after SIGTERM" + (f" in {v['stop_secs']:.2f} s" if v["stop_secs"] else ""))

    # Memory and files, over the writing time.
    D = write_secs
    w = [s for s in samples if s["phase"] == "write" and s.get("rss")]
    second = [s["rss"] for s in w if D / 3 <= s["t"] < 2 * D / 3]
    third = [s["rss"] for s in w if s["t"] >= 2 * D / 3]
    m2, m3 = mean(second), mean(third)
    allowed = max(a.rss_tolerance * m2, a.rss_slack_mb * MIB) if m2 else None
    rss_flat = m2 is not None and m3 is not None and m3 - m2 <= allowed
    at10 = min(w, key=lambda s: abs(s["t"] - 0.1 * D))["rss"] if w else None
    rss_end = w[-1]["rss"] if w else None
    rss_max = max(s["rss"] for s in w) if w else None
    sw = [s for s in w if s.get("rss_scraped")]
    check("RSS flat", rss_flat,
          f"VmRSS at 10 %: {mb(at10)} MiB, end: {mb(rss_end)} MiB, max: {mb(rss_max)} MiB; "
          f"mean of 2nd third {mb(m2)} MiB, of last third {mb(m3)} MiB (allowed growth {mb(allowed)} MiB)")
    f2 = [s["fds"] for s in w if D / 3 <= s["t"] < 2 * D / 3 and "fds" in s]
    f3 = [s["fds"] for s in w if s["t"] >= 2 * D / 3 and "fds" in s]
    check("open files flat", f2 and f3 and max(f3) <= max(f2) + 2,
          f"most in the 2nd third {max(f2) if f2 else None}, in the last third {max(f3) if f3 else None}")

    cpu_used = (v["cpu_end"] - v["cpu_start"]) if v["cpu_end"] is not None else None
    own = v["own_write"]
    own_cpu = own.user + own.system - v["own_start"].user - v["own_start"].system
    ok = all(c["ok"] for c in checks)
    result = {
        "ok": ok,
        "config": {
            "duration_s": a.duration, "rate": a.rate, "batch_every_s": a.batch_every,
            "rotate_every_s": a.rotate_every, "late_batch": a.late_batch, "scrape_every_s": a.scrape_every,
            "followed": "plain path" if a.plain_path else "glob",
            "command": " ".join(v["cmd"]),
        },
        "written_lines": written, "written_bytes": writer.bytes, "write_seconds": round(write_secs, 3),
        "write_rate": round(rate, 1), "writer_max_lag_s": round(writer.max_lag, 4),
        "writer_cpu_s": round(own_cpu, 2),
        "counted": counted, "lost": lost, "doubled": doubled, "final_file_count": fc,
        "rotations": writer.rotations, "rotations_seen": rot_seen, "late_lines": writer.late_lines,
        "scrapes": v["scrapes"], "failed_scrapes": len(failures), "scrape_failures": failures[:20],
        "scrape_latency_mean_s": round(mean(lat), 4) if lat else None,
        "scrape_latency_max_s": round(max(lat), 4) if lat else None,
        "max_backlog_lines": max((s["written"] - s["count"] for s in samples if "count" in s), default=None),
        "rss_at_10pct": at10, "rss_end": rss_end, "rss_max": rss_max, "rss_hwm": v["status_end"].get("VmHWM"),
        "rss_second_third_mean": m2, "rss_last_third_mean": m3, "rss_allowed_growth": allowed,
        "rss_scraped_at_10pct": min(sw, key=lambda s: abs(s["t"] - 0.1 * D))["rss_scraped"] if sw else None,
        "rss_scraped_end": sw[-1]["rss_scraped"] if sw else None,
        "rss_scraped_max": max(s["rss_scraped"] for s in sw) if sw else None,
        "threads_end": v["status_end"].get("Threads"),
        "daemon_cpu_s": round(cpu_used, 2) if cpu_used is not None else None,
        "lines_per_cpu_s": round(counted / cpu_used) if cpu_used and counted else None,
        "settle_s": round(v["settle_secs"], 2), "exit_status": v["exit_status"],
        "loadavg_start": v["load_start"], "loadavg_end": os.getloadavg(),
        "daemon_warnings": v["warnings"][:20], "daemon_warning_count": len(v["warnings"]),
        "checks": checks, "samples": samples,
    }

    print(f"logmill soak: {write_secs:.0f} s at {a.rate:,.0f} lines/s asked, rename rotation every "
          f"{a.rotate_every:g} s ({'late batch to the renamed file' if a.late_batch else 'no late batch'}), "
          f"scrape every {a.scrape_every:g} s, {'plain path' if a.plain_path else 'glob'}")
    print(f"  written  {written:,} lines ({writer.bytes / MIB:,.0f} MiB) = {rate:,.0f} lines/s; "
          f"writer CPU {own_cpu:.1f} s")
    print(f"  counted  {num(counted)}: lost {lost:,}, doubled {doubled:,}; at exit {num(fc)}; "
          f"max backlog {result['max_backlog_lines']} lines")
    if cpu_used is not None:
        per_cpu = result["lines_per_cpu_s"]
        print(f"  daemon   CPU {cpu_used:.1f} s ({100 * cpu_used / (write_secs + v['settle_secs']):.1f} % of a core), "
              f"{'-' if per_cpu is None else format(per_cpu, ',')} lines/CPU-s; {result['threads_end']} threads; "
              f"{len(v['warnings'])} warnings logged")
        print(f"  RSS      scraped at 10 %: {mb(result['rss_scraped_at_10pct'])} MiB, end: "
              f"{mb(result['rss_scraped_end'])} MiB, max: {mb(result['rss_scraped_max'])} MiB; "
              f"peak (VmHWM) {mb(result['rss_hwm'])} MiB")
    print(f"  load     {' '.join(f'{x:.2f}' for x in v['load_start'])} at start, "
          f"{' '.join(f'{x:.2f}' for x in result['loadavg_end'])} at end")
    for c in checks:
        print(f"  {'ok  ' if c['ok'] else 'FAIL'} {c['check']}: {c['detail']}")
    print("PASS" if ok else "FAIL: " + ", ".join(c["check"] for c in checks if not c["ok"]))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(result, f, indent=1)
            f.write("\n")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
