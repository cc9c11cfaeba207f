#!/usr/bin/env python3
"""gen_matrix.py: the bad-input matrix of test_api_matrix.c, one thunk per c.h function.

Reads <rocksdb/c.h> with gen_capi.py's parser (imported, so both see the same 783 prototypes)
and writes a C file that test_api_matrix.c includes: for every declared function a static thunk
`axm_<name>(axm_ctx *c)` that calls it once with arguments chosen by the running variant, and
the table `axm_table[]` of all thunks with what the checks need to know about each function.

Every argument comes from a helper of test_api_matrix.c, which decides by variant (the
readonly variant uses negative's values on a read-only database):

  parameter                                     helper          nulls  huge        negative
  rocksdb_X_t* / const rocksdb_X_t* (a handle)  axm_obj         NULL   live object live object
  char** errptr                                 &c->err (always a valid char*, pre-set)
  const pointers, void*, fn pointers, INPUTS    NULL            NULL   NULL        NULL
  ARRAY_OUTPUTS (one element per key)           NULL            NULL   NULL        NULL
  other pointers (outputs: size_t*, char**...)  axm_out         NULL   NULL        zeroed buffer
  size_t                                        axm_size        0      SIZE_MAX    2^32+1
  int / int32_t / int64_t                       axm_int...      0      max         -1 / min / -1
  unsigned int, uint32_t / uint64_t             axm_u32, u64    0      max         2^31 / 2^32+1
  unsigned char / char / bool                   axm_uchar...    0      0xff/0x7f/1 2 / -1 / 1
  double                                        axm_double      0      +inf        NaN

Live objects come from factories in test_api_matrix.c, fresh for every call (a destroy or
close function gets its own), and are dropped after the call unless the call took them:
CONSUMES below says which parameter a function takes ownership of. A stub (capi_stubs.txt,
written by gen_capi.py) takes nothing. Returned objects and strings are freed by return type.

Usage (plugin/tests/api/CMakeLists.txt runs it at build time):
  gen_matrix.py --c-h /usr/include/rocksdb/c.h --stubs <build>/plugin/gen/capi_stubs.txt \
                --out <build>/plugin/tests/api/capi_matrix.c
"""

import argparse
import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "gen"))
import gen_capi  # noqa: E402  (the parser of c.h; plugin/gen/gen_capi.py)

HANDLE_RE = re.compile(r"^(?:const )?(rocksdb(?:_\w+)?_t)\*$")

# Non-const pointer parameters that c.h uses as inputs (arrays or strings the function reads
# or frees): always NULL, never a scratch buffer, whose contents would be garbage to them.
INPUTS = {
    ("rocksdb_open_and_trim_history", "trim_ts"),
    ("rocksdb_compactoptions_set_full_history_ts_low", "ts"),
    ("rocksdb_options_set_max_bytes_for_level_multiplier_additional", "level_values"),
    ("rocksdb_create_iterators", "column_families"),
    ("rocksdb_list_column_families_destroy", "list"),
    ("rocksdb_load_latest_options_destroy", "list_column_family_names"),
    ("rocksdb_load_latest_options_destroy", "list_column_family_options"),
}

# Output arrays with one element per key, range or column family of a count parameter: NULL,
# because a valid buffer would have to be as long as the huge counts claim (the function may
# fill every element it was promised, as multi_get does with an error per key).
ARRAY_OUTPUTS = {
    "errs", "values_list", "values_list_sizes", "timestamp_list", "timestamps_list",
    "timestamp_list_sizes", "timestamps_list_sizes", "column_family_handles", "iterators",
    "values", "sizes",
}

# Parameters whose object the function takes over, as in RocksDB's db/c.cc, besides the first
# parameter of every *_destroy / *_close function: released, adopted by a shared_ptr, or
# reused. Such an object is not dropped after the call.
CONSUMES_EXTRA = {
    "rocksdb_release_snapshot": "snapshot",
    "rocksdb_transactiondb_release_snapshot": "snapshot",
    "rocksdb_options_set_merge_operator": "a1",
    "rocksdb_writebatch_wi_create_iterator_with_base": "base_iterator",
    "rocksdb_writebatch_wi_create_iterator_with_base_cf": "base_iterator",
    "rocksdb_transaction_begin": "old_txn",
    "rocksdb_optimistictransaction_begin": "old_txn",
    "rocksdb_optimistictransactiondb_close_base_db": "base_db",
}
for _name, _how in gen_capi.OWNERSHIP.items():
    if _how == "adopt":
        CONSUMES_EXTRA[_name] = None  # the setter's value: its second parameter

SCALARS = {
    "size_t": "axm_size(c)", "int": "axm_int(c)", "int32_t": "axm_i32(c)",
    "int64_t": "axm_i64(c)", "unsigned int": "axm_u32(c)", "uint32_t": "axm_u32(c)",
    "uint64_t": "axm_u64(c)", "unsigned char": "axm_uchar(c)", "char": "axm_char(c)",
    "bool": "axm_bool(c)", "double": "axm_double(c)",
}


def consumed_param(f, stubs):
    """Index of the parameter f takes ownership of, or -1."""
    if f.name in stubs or not f.params:
        return -1
    if f.name in CONSUMES_EXTRA:
        want = CONSUMES_EXTRA[f.name]
        if want is None:
            return 1
        for i, p in enumerate(f.params):
            if p.name == want:
                return i
        sys.exit("gen_matrix.py: %s has no parameter %s" % (f.name, want))
    if re.search(r"_(destroy|close)$", f.name) and HANDLE_RE.match(f.params[0].type):
        return 0
    return -1


def arg_expr(f, i, p, consumed):
    t = p.type[len("const "):] if p.type.startswith("const ") and not p.type.endswith("*") \
        else p.type
    if p.is_fp:
        return "NULL"
    if p.name == "errptr" and t == "char**":
        return "&c->err"
    m = HANDLE_RE.match(t)
    if m:
        return "axm_obj(c, \"%s\", %d)" % (m.group(1), 1 if i == consumed else 0)
    if t.endswith("*"):
        if (t.startswith("const ") or t == "void*" or (f.name, p.name) in INPUTS
                or p.name in ARRAY_OUTPUTS):
            return "NULL"
        return "axm_out(c, %d)" % i
    if t in SCALARS:
        return SCALARS[t]
    sys.exit("gen_matrix.py: %s: no bad value for parameter type %s" % (f.name, p.type))


def ret_kind(f):
    if f.ret == "void":
        return None
    if f.ret.endswith("*"):
        return "pointer"
    return "scalar"


def emit(funcs, stubs, c_h):
    out = []
    w = out.append
    w("/* GENERATED by plugin/tests/api/gen_matrix.py from %s: do not edit. */\n" % c_h)
    w("/* %d functions; test_api_matrix.c includes this file. */\n\n" % len(funcs))
    for f in funcs:
        consumed = consumed_param(f, stubs)
        args = [arg_expr(f, i, p, consumed) for i, p in enumerate(f.params)]
        call = "%s(%s)" % (f.name, ", ".join(args))
        w("static void axm_%s(axm_ctx *c)\n{\n" % f.name)
        kind = ret_kind(f)
        if kind is None:
            w("    %s;\n" % call)
        elif kind == "scalar":
            w("    (void)%s;\n" % call)
        else:
            w("    axm_ret(c, \"%s\", (const void *)%s);\n" % (f.ret, call))
        if "(c" not in call:
            w("    (void)c;\n")
        w("}\n\n")
    w("static const axm_fn axm_table[] = {\n")
    for f in funcs:
        handles = sum(1 for p in f.params if HANDLE_RE.match(p.type))
        nulldata = sum(1 for i, p in enumerate(f.params)
                       if arg_expr(f, i, p, -1) == "NULL" and not p.is_fp and p.type != "void*"
                       and p.name not in ARRAY_OUTPUTS)
        flags = []
        if f.has_errptr():
            flags.append("AXM_ERRPTR")
        if ret_kind(f) == "pointer":
            flags.append("AXM_RET_PTR")
        if f.name in stubs:
            flags.append("AXM_STUB")
        m = HANDLE_RE.match(f.params[0].type) if f.params else None
        self_type = '"%s"' % m.group(1) if m else "NULL"
        w("    {\"%s\", axm_%s, %d, %d, %s, %s},\n"
          % (f.name, f.name, handles, nulldata, self_type, " | ".join(flags) or "0"))
    w("};\n")
    return "".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--c-h", required=True, help="path of rocksdb/c.h")
    ap.add_argument("--stubs", help="capi_stubs.txt from gen_capi.py (stubs consume nothing)")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    funcs, _ = gen_capi.parse_c_h(args.c_h)
    stubs = set()
    if args.stubs:
        stubs = {line.strip() for line in open(args.stubs) if line.strip()}
    with open(args.out, "w") as f:  # always: the build's dependency needs a newer output
        f.write(emit(funcs, stubs, args.c_h))


if __name__ == "__main__":
    main()
