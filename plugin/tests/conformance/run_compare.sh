#!/bin/sh
# run_compare.sh: runs a transcript program twice with the same seed, once as the reference
# (real RocksDB) and once as the candidate (the plugin), and compares the transcripts byte for
# byte. Used by CTest (plugin/tests/conformance/CMakeLists.txt and plugin/tests/api/).
#
# usage: run_compare.sh WORKDIR 'REF_CMD' 'CAND_CMD' [CAND_ENV...]
#   WORKDIR   scratch directory for this test (emptied first)
#   REF_CMD   reference command; "@DIR@" is replaced by a scratch path and "@SEED@" by the seed
#   CAND_CMD  candidate command, same substitutions
#   CAND_ENV  VAR=VALUE settings for the candidate only (LD_PRELOAD=..., ALEXSTORAGE_MODE=...)
#
# The seed is $ALEXSTORAGE_SEED if set, otherwise random; it is printed first so that a failure
# can be replayed with ALEXSTORAGE_SEED=<seed> ctest -R <test>. ALEXSTORAGE_CONFORMANCE_STEPS
# lengthens the run (read by the programs themselves).
set -u
[ $# -ge 3 ] || { echo "usage: $0 WORKDIR REF_CMD CAND_CMD [VAR=VALUE...]" >&2; exit 2; }
work=$1
ref_cmd=$2
cand_cmd=$3
shift 3

if [ -n "${ALEXSTORAGE_SEED:-}" ]; then
    seed=$ALEXSTORAGE_SEED
else
    seed=$(od -An -N6 -tu8 /dev/urandom | tr -d ' ')
fi
echo "seed=$seed (replay: ALEXSTORAGE_SEED=$seed)"

rm -rf -- "$work"
mkdir -p -- "$work/ref" "$work/cand" || exit 2

subst() { # subst CMD DIR
    printf '%s\n' "$1" | sed -e "s|@DIR@|$2|g" -e "s|@SEED@|$seed|g"
}

# The reference runs without the candidate's environment; the programs take the seed from the
# command line (@SEED@) or from ALEXSTORAGE_SEED.
ALEXSTORAGE_SEED=$seed
export ALEXSTORAGE_SEED
unset LD_PRELOAD ALEXSTORAGE_MODE 2>/dev/null

start=$(date +%s)
eval "$(subst "$ref_cmd" "$work/ref")" >"$work/ref.txt" 2>"$work/ref.err"
ref_rc=$?
mid=$(date +%s)
eval "env $* $(subst "$cand_cmd" "$work/cand")" >"$work/cand.txt" 2>"$work/cand.err"
cand_rc=$?
end=$(date +%s)
echo "reference: exit $ref_rc, $(wc -l <"$work/ref.txt") lines, $((mid - start)) s"
echo "candidate: exit $cand_rc, $(wc -l <"$work/cand.txt") lines, $((end - mid)) s ($*)"

if [ $ref_rc -ne 0 ]; then
    echo "FAIL: the reference run itself failed (exit $ref_rc); stderr:"
    tail -n 20 "$work/ref.err"
    exit 1
fi
status=0
if cmp -s "$work/ref.txt" "$work/cand.txt"; then
    echo "transcripts identical"
else
    status=1
    # First differing line, with context from both sides.
    n=$(cmp "$work/ref.txt" "$work/cand.txt" 2>/dev/null | sed -n 's/.* line \([0-9]*\).*/\1/p')
    if [ -z "$n" ]; then # one is a prefix of the other
        n=$(( $(wc -l <"$work/cand.txt") + 1 ))
    fi
    from=$((n > 8 ? n - 8 : 1))
    to=$((n + 4))
    echo "FAIL: transcripts differ first at line $n (seed=$seed)"
    echo "--- reference (real RocksDB), lines $from-$to:"
    sed -n "${from},${to}p" "$work/ref.txt" | awk -v n="$n" -v f="$from" '{ printf "%s %s\n", (NR + f - 1 == n ? ">>" : "  "), $0 }'
    echo "--- candidate, lines $from-$to:"
    sed -n "${from},${to}p" "$work/cand.txt" | awk -v n="$n" -v f="$from" '{ printf "%s %s\n", (NR + f - 1 == n ? ">>" : "  "), $0 }'
    echo "(full transcripts: $work/ref.txt $work/cand.txt)"
fi
if [ $cand_rc -ne 0 ]; then
    status=1
    echo "FAIL: the candidate exited with status $cand_rc; last lines of its stderr:"
    tail -n 30 "$work/cand.err"
fi
exit $status
