#!/bin/sh
# run_example.sh PROGRAM [VAR=VALUE...]: runs Debian's c_simple_example (a program with fixed
# /tmp paths) from a clean state with the given environment (LD_PRELOAD, ALEXSTORAGE_MODE) set
# for PROGRAM only, and prints its exit status after its output so that run_compare.sh compares
# both.
prog=$1
shift
rm -rf /tmp/rocksdb_c_simple_example /tmp/rocksdb_c_simple_example_backup
env "$@" "$prog" 2>&1
echo "exit status $?"
