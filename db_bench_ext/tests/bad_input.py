#!/usr/bin/env python3
"""bad_input.py: alex_db_bench refuses bad input with a clear message and exit status 1.

Every case runs the driver and requires: exit status exactly 1 (not 0, not a signal: a crash is
a negative status here, a sanitizer report is caught by its own exit code), stderr matching the
case's pattern, no result line on stdout, and nothing written where the case says nothing may be.

Usage: bad_input.py --driver PATH CASE      (CASE=all runs every case)
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile

STORES = ["rocksdb", "alex", "alex_capi", "hybrid", "lmdb", "sqlite"]


def cases(tmp):
    a_file = os.path.join(tmp, "a_file")
    with open(a_file, "w") as f:
        f.write("not a database\n")
    empty = os.path.join(tmp, "empty")
    os.mkdir(empty)
    c = {
        "unknown_store": (["--store=leveldb"], r"unknown --store 'leveldb' \(known: rocksdb"),
        "unknown_benchmark": (["--benchmarks=fillseq,fillrandomx"],
                              r"unknown benchmark 'fillrandomx'"),
        "unknown_flag": (["--no_such_flag=1"], r"unknown command line flag 'no_such_flag'"),
        "stray_argument": (["fillseq"], r"unexpected argument 'fillseq'"),
        "num_zero": (["--num=0"], r"--num must be > 0"),
        "num_negative": (["--num=-5"], r"--num must be > 0"),
        "threads_zero": (["--threads=0"], r"--threads must be >= 1"),
        "value_size_negative": (["--value_size=-1"], r"--value_size must be >= 0"),
        "readwritepercent_101": (["--readwritepercent=101"], r"--readwritepercent must be in"),
        "compression_ratio_zero": (["--compression_ratio=0"], r"--compression_ratio must be"),
        "batch_size_zero": (["--batch_size=0"], r"--batch_size must be >= 1"),
        "num_not_a_number": (["--num=lots"], r"illegal value 'lots' specified for int64 flag"),
        "unknown_compression": (["--compression_type=brotli"],
                                r"unknown --compression_type 'brotli'"),
        "compression_not_supported_alex": (["--store=alex", "--compression_type=snappy"],
                                           r"--store=alex does not support "
                                           r"--compression_type=snappy"),
        "compression_not_supported_lmdb": (["--store=lmdb", "--compression_type=lz4"],
                                           r"--store=lmdb does not support"),
        "db_is_a_file": (["--db=" + a_file], r"--db=.*a_file exists and is not a directory"),
        "db_unwritable": (["--store=alex", "--db=/proc/alex_db_bench_test/db"],
                          r"open error: alex: open /proc/alex_db_bench_test/db: .*"),
        "value_too_large_alex": (["--store=alex", "--value_size=67108865"],
                                 r"--value_size=67108865 is larger than alex allows "
                                 r"\(67108864 bytes\)"),
        "value_too_large_alex_capi": (["--store=alex_capi", "--value_size=67108865"],
                                      r"is larger than alex_capi allows"),
        "key_too_large_lmdb": (["--store=lmdb", "--key_size=600"],
                               r"--key_size=600 is larger than lmdb allows \(511 bytes\)"),
        "unique_more_writes_than_keys": (["--benchmarks=filluniquerandom", "--num=10",
                                          "--writes=11"], r"--writes must be <= --num"),
        "rocksdb_lib_missing": (["--store=rocksdb", "--rocksdb_lib=/nonexistent/librocksdb.so"],
                                r"cannot load /nonexistent/librocksdb.so"),
        "alex_lib_is_not_plugin": (["--store=alex_capi",
                                    "--alex_capi_lib=librocksdb.so.7.8"],
                                   r"is not librocksdb_alex.so"),
    }
    for s in STORES:
        c["use_existing_db_empty_" + s] = (
            ["--store=" + s, "--db=" + empty, "--use_existing_db", "--benchmarks=readrandom"],
            r"open error: .*\n.*--use_existing_db needs an existing %s database" % s)
    return c, a_file


def run_case(driver, name, args, pattern, a_file):
    cmd = [driver, "--num=100", "--seed=1"] + args
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       timeout=120)
    problems = []
    if p.returncode != 1:
        problems.append("exit status %d, expected 1" % p.returncode)
    if not re.search(pattern, p.stderr):
        problems.append("stderr does not match /%s/" % pattern)
    if "micros/op" in p.stdout:
        problems.append("a benchmark ran")
    with open(a_file) as f:
        if f.read() != "not a database\n":
            problems.append("the file given as --db was changed")
    if problems:
        print("FAIL %s: %s\n  command: %s\n  stdout: %s\n  stderr: %s"
              % (name, "; ".join(problems), " ".join(cmd), p.stdout[-2000:], p.stderr[-2000:]))
        return False
    print("ok   %-36s %s" % (name, p.stderr.strip().splitlines()[-1][:110]))
    return True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--driver", required=True)
    ap.add_argument("--list", action="store_true", help="print the case names")
    ap.add_argument("case", nargs="?", default="all")
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="axb_bad_input_")
    try:
        table, a_file = cases(tmp)
        if a.list:
            print("\n".join(sorted(table)))
            return
        names = sorted(table) if a.case == "all" else [a.case]
        ok = all([run_case(a.driver, n, *table[n], a_file) for n in names])
        sys.exit(0 if ok else 1)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
