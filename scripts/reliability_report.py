#!/usr/bin/env python3
"""reliability_report.py: the reliability campaign's report, from the logs the tests wrote.

    scripts/reliability_report.py <run directory>

Reads <run>/logs/*.log, written by scripts/reliability.sh (the test binaries' stderr and the
libFuzzer logs), and writes <run>/report.md: one table per campaign with the figures each test
printed in its summary line, and a summary table. Nothing is typed in: a figure that is not in
a log is shown as "-", and a campaign whose log has no summary line is reported as missing.

The summary lines it understands (one per test case, printed by the tests themselves):
  [ CRASH    ] <case> seed=<n>: <n> iterations ..., <n> acknowledged operations ...; <n> failures; ...
  [ POWERLOSS] <case> seed=<n>: <n> power-loss points ..., <n> operations ...; <n> failures; ...
  [ FAULTS   ] <case> seed=<n>: ... fault "<f>" tried at <n> call sites ...; <n> failures; ...
  [ FIGURES  ] <case>: <n> trials, ... <n> writes ...; <n> failures          (test_group_faults)
  [ POSITIONS] <case> ...: ... = <n> positions, <n> opens ..., <n> failures, ...   (test_corruption)
  [ SOAK     ] ...                                                              (test_soak)
and libFuzzer's final statistics (stat::number_of_executed_units, stat::average_exec_per_sec,
the last "cov:" line).
"""

import os
import re
import sys

# tag -> (campaign title, log name, regex of the main count, its column name, regex of the
# operations count, its column name)
CAMPAIGNS = [
    ("CRASH", "Process crashes (SIGKILL of a writing child, reopen, check)", "crash",
     r"(\d+) iterations", "kills", r"(\d+) acknowledged operations", "acknowledged ops"),
    ("POWERLOSS", "Power loss (unsynced data dropped or torn last page)", "powerloss",
     r"(\d+) power-loss points", "power-loss points", r"(\d+) operations", "operations"),
    ("FAULTS", "I/O faults at every call site of a workload", "faults",
     r"tried at (\d+) call sites", "fault sites", r"makes (\d+) I/O calls", "I/O calls of the workload"),
    ("FIGURES", "An I/O fault inside a commit group of several writers", "group_faults",
     r"(\d+) trials", "trials", r"(\d+) writes in", "writes"),
    ("POSITIONS", "Corruption of every region of every file", "corruption",
     r"= (\d+) positions", "corrupted positions", r"(\d+) opens", "opens"),
]

LINE = re.compile(r"^(?:\d+: )?\[ ?([A-Z]+) *\] (.*)$")


def read(path):
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read().splitlines()
    except OSError:
        return None


def num(pattern, text):
    m = re.search(pattern, text)
    return int(m.group(1)) if m else None


def verdict(lines, failures):
    """"FAILED" if cmocka or ctest reported a failed test or a summary counted a failure."""
    text = "\n".join(lines)
    if failures or re.search(r"\[  FAILED  \]|\*\*\*Failed|tests failed", text):
        return "FAILED"
    return "passed"


def fmt(n):
    return "-" if n is None else f"{n:,}"


def campaign_rows(lines, tag, count_re, ops_re):
    rows = []
    for line in lines:
        m = LINE.match(line)
        if not m or m.group(1) != tag:
            continue
        text = m.group(2)
        case = text.split(" ", 1)[0].rstrip(":")
        failures = num(r"(\d+) failures", text)
        rows.append({"case": case, "count": num(count_re, text), "ops": num(ops_re, text),
                     "failures": failures, "text": text})
    return rows


def fuzz_rows(logdir):
    rows = []
    for name in sorted(os.listdir(logdir)):
        if not (name.startswith("fuzz_") and name.endswith(".log")):
            continue
        lines = read(os.path.join(logdir, name)) or []
        text = "\n".join(lines)
        cov = None
        for line in lines:
            if re.match(r"#\d+\s+(DONE|pulse|NEW|REDUCE|INITED)", line) and "cov:" in line:
                cov = line
        crashes = len(re.findall(r"ERROR: (AddressSanitizer|UndefinedBehaviorSanitizer|libFuzzer)",
                                 text))
        crashes += len(re.findall(r"runtime error:", text))
        rows.append({
            "target": name[:-4],
            "execs": num(r"stat::number_of_executed_units: (\d+)", text),
            "per_s": num(r"stat::average_exec_per_sec: +(\d+)", text),
            "rss": num(r"stat::peak_rss_mb: +(\d+)", text),
            "cov": num(r"cov: (\d+)", cov or ""),
            "ft": num(r"ft: (\d+)", cov or ""),
            "corpus": num(r"corp: (\d+)", cov or ""),
            "crashes": crashes,
        })
    return rows


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    run = sys.argv[1]
    logdir = os.path.join(run, "logs")
    out = []
    summary = []
    out.append("# Reliability campaign\n")
    out.append("Written by `scripts/reliability_report.py` from the logs in `logs/` (the tests' own "
               "summary lines); the commands are in `commands.txt`, the machine in `env.txt`. "
               "A failure is any check that did not hold: a lost acknowledged write, a partial "
               "batch, a value never written, a wrong error, a crash, a leak or a hang.\n")

    for tag, title, log, count_re, count_name, ops_re, ops_name in CAMPAIGNS:
        lines = read(os.path.join(logdir, log + ".log"))
        out.append(f"## {title}\n")
        if lines is None:
            out.append(f"Not run (no `logs/{log}.log`).\n")
            summary.append((title, None, None, None, "not run"))
            continue
        rows = campaign_rows(lines, tag, count_re, ops_re)
        if not rows:
            out.append(f"`logs/{log}.log` has no summary line: the run did not finish.\n")
            summary.append((title, None, None, None, "no summary"))
            continue
        out.append(f"| case | {count_name} | {ops_name} | failures |")
        out.append("|---|---:|---:|---:|")
        for r in rows:
            out.append(f"| {r['case']} | {fmt(r['count'])} | {fmt(r['ops'])} | {fmt(r['failures'])} |")
        out.append("")
        out.append("<details><summary>summary lines</summary>\n")
        for r in rows:
            out.append(f"- `{r['text']}`")
        out.append("\n</details>\n")
        total = sum(r["count"] or 0 for r in rows)
        # test_faults's cases share one workload: its I/O calls are counted once.
        ops = (max(r["ops"] or 0 for r in rows) if tag == "FAULTS"
               else sum(r["ops"] or 0 for r in rows))
        fails = sum(r["failures"] or 0 for r in rows)
        passed = verdict(lines, fails)
        if any(r["failures"] is None for r in rows):
            passed = "?"
        summary.append((title, f"{total:,} {count_name}", f"{ops:,}", fails, passed))

    fz = fuzz_rows(logdir) if os.path.isdir(logdir) else []
    out.append("## Fuzzing (libFuzzer with ASan+UBSan)\n")
    if fz:
        out.append("| target | executions | per second | coverage (cov / ft) | corpus | peak RSS MiB | crashes |")
        out.append("|---|---:|---:|---:|---:|---:|---:|")
        for r in fz:
            out.append(f"| {r['target']} | {fmt(r['execs'])} | {fmt(r['per_s'])} | "
                       f"{fmt(r['cov'])} / {fmt(r['ft'])} | {fmt(r['corpus'])} | {fmt(r['rss'])} | "
                       f"{r['crashes']} |")
        out.append("")
        crashes = sum(r["crashes"] for r in fz)
        runner = read(os.path.join(logdir, "fuzz.txt")) or []
        result = "FAILED" if crashes or any("FAILED" in l for l in runner) else "passed"
        summary.append(("Fuzzing", f"{sum(r['execs'] or 0 for r in fz):,} executions "
                        f"({len(fz)} targets)", "-", crashes, result))
    else:
        out.append("Not run.\n")
        summary.append(("Fuzzing", None, None, None, "not run"))

    soak = read(os.path.join(logdir, "soak.log"))
    out.append("## Soak\n")
    if soak is None:
        out.append("Not run.\n")
        summary.append(("Soak", None, None, None, "not run"))
    else:
        lines = [l for l in soak if LINE.match(l) and LINE.match(l).group(1) == "SOAK"]
        if lines:
            out.append("The soak's own report, with RSS and fds over time, is `soak/README.md`.\n")
            out.append("```")
            out.extend(LINE.match(l).group(2) for l in lines if "child " not in l[:30]
                       or "RSS" in l and "parent" in l)
            out.append("```\n")
            text = "\n".join(LINE.match(l).group(2) for l in lines)
            ops_line = next((LINE.match(l).group(2) for l in lines if ": ops " in l), "")
            # Operations as the soak report counts them: steps, entries, held pins and re-reads apart.
            ops = sum(int(v) for k, v in re.findall(r"(\w+)=(\d+)", ops_line.split(": ops ", 1)[-1])
                      if k not in ("iter_step", "batch_entries", "pin_held", "snap_recheck")) if ops_line else None
            kills = num(r"kills=(\d+)", text)
            reopens = num(r"reopens=(\d+)", text)
            lost = num(r"lost=(\d+)", text)
            explored = f"{fmt(kills)} kills, {fmt(reopens)} reopens"
            summary.append(("Soak", explored, fmt(ops), lost, verdict(soak, lost or 0)))
        else:
            out.append("`logs/soak.log` has no summary line.\n")
            summary.append(("Soak", None, None, None, "no summary"))

    head = ["## Summary\n", "| campaign | explored | operations | failures | result |",
            "|---|---:|---:|---:|---|"]
    for title, explored, ops, fails, result in summary:
        head.append(f"| {title} | {explored or '-'} | {ops or '-'} | {fmt(fails)} | {result} |")
    head.append("")
    out[2:2] = head

    with open(os.path.join(run, "report.md"), "w", encoding="utf-8") as f:
        f.write("\n".join(out) + "\n")
    print(os.path.join(run, "report.md"))


if __name__ == "__main__":
    main()
