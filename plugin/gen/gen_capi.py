#!/usr/bin/env python3
"""gen_capi.py: generates the parts of librocksdb_alex.so that follow mechanically from c.h.

The plugin must export every function declared in Debian's <rocksdb/c.h> (RocksDB 7.8.3), so
that any program linking against RocksDB's C API links against the plugin too. Most of them are
either plain option objects (create, setters, getters, destroy) or things the AlexStorage core
does not do (transactions, column families, SST files, ...). Writing those 700-odd functions
by hand would be long and error-prone, so this script derives them from c.h itself.

Three generated files, in two stages (docs/plugin-gen.md has the overview):

  stage 1 ("header", needs only c.h)
    capi_objects.h  the complete structs of the "stored" objects (rocksdb_options_t, ...):
                    generated fields in member `f`, hand-managed parts in member `x`.
                    Hand-written plugin/src/*.c files include it to read the fields.
    capi_probe.c    a C program calling the API: fresh objects' getters ("defaults"),
                    set-then-get of every scalar field ("roundtrip") and a few option
                    "methods" ("methods"). Built against the real librocksdb at build time
                    its "defaults" output gives RocksDB's defaults to stage 2; built against
                    the plugin, the tests compare every output with the real library's.
    capi_names.txt  every function name declared in c.h, one a line (for the export test).

  stage 2 ("source", needs the defaults and the hand-written objects)
    capi_gen.c      every c.h function that no hand-written file defines: stored-object
                    functions, and "Not implemented" stubs for the rest.
    capi_stubs.txt  the names that became stubs (for the tests and for review).

Hand-written functions are found by running `nm --defined-only` on the object files of
plugin/src/*.c (CMake compiles them first, as an object library): a defined, global
rocksdb_* symbol there is never generated. This sees exactly what the linker will see (no
parsing of hand-written C, macros and #ifs included), and adding a file needs no change here.

Invariants the generated code keeps:
  * every stored object is calloc'd, so a field without an explicit default starts at 0/NULL;
  * fields that own memory (strings, byte strings, arrays, copies of other objects) are freed
    exactly once, by the object's release; references to shared objects are counted;
  * no generated function crashes on a NULL object pointer (RocksDB would; we return 0/NULL),
    nor on a NULL array with a length (ignored); plugin/tests/api/test_api_matrix.c checks.
"""

import argparse
import os
import re
import subprocess
import sys

# ---------------------------------------------------------------------------------------------
# Parsing c.h
# ---------------------------------------------------------------------------------------------

C_KEYWORDS = {
    "void", "char", "short", "int", "long", "float", "double", "signed", "unsigned", "const",
    "volatile", "struct", "union", "enum", "bool", "_Bool", "restrict",
}
STD_TYPES = {
    "size_t", "int8_t", "int16_t", "int32_t", "int64_t", "uint8_t", "uint16_t", "uint32_t",
    "uint64_t", "va_list",
}


class Param:
    """One parameter of a prototype. `decl` is C text declaring it with name `name`."""

    def __init__(self, text, typenames, index):
        self.text = " ".join(text.split())
        fp = re.search(r"\(\s*\*\s*(\w+)\s*\)", self.text)
        if fp:  # function pointer: `ret (*name)(args)`; the type is the text without the name
            self.name = fp.group(1)
            self.is_fp = True
            self.type = self.text[: fp.start()] + "(*)" + self.text[fp.end():]
            self.decl = self.text
            return
        self.is_fp = False
        m = re.match(r"^(.*?)(\w+)\s*((?:\[\s*\])*)$", self.text)
        last = m.group(2) if m else None
        named = (last is not None and last not in C_KEYWORDS and last not in typenames
                 and m.group(1).strip() != "")
        if named:
            self.name = last
            self.type = (m.group(1) + ("*" * m.group(3).count("["))).strip()
        else:
            self.name = "a%d" % index
            self.type = self.text
        self.type = normalize_type(self.type)
        self.decl = declare(self.type, self.name) if not (named and m.group(3)) else self.text

    def rename(self, new):
        """The declaration with another parameter name."""
        if self.is_fp:
            return re.sub(r"\(\s*\*\s*\w+\s*\)", "(*%s)" % new, self.decl, count=1)
        return declare(self.type, new)


class Func:
    def __init__(self, ret, name, params, text):
        self.ret = normalize_type(ret)
        self.name = name
        self.params = params  # [] for (void)
        self.text = text

    def has_errptr(self):
        return any(p.name == "errptr" and p.type == "char**" for p in self.params)


def normalize_type(t):
    """Canonical spelling of a type: single spaces, `*` glued to the left."""
    t = " ".join(t.replace("*", " * ").split())
    t = t.replace(" *", "*")
    return t


def declare(ctype, name):
    """`int* x`, `const char* const* x`."""
    return "%s %s" % (ctype, name)


def strip_comments(src):
    src = re.sub(r"/\*.*?\*/", " ", src, flags=re.S)
    src = re.sub(r"//[^\n]*", "", src)
    return src


def parse_c_h(path):
    """Returns ([Func], set of typedef names) for every function prototype in c.h.

    Robust to what c.h contains: prototypes over several lines, with or without `extern` and
    ROCKSDB_LIBRARY_API (two in 7.8.3 have neither), function-pointer parameters, arrays,
    `const char* const*`, and enums/typedefs between them. Preprocessor lines are dropped (the
    only conditionals in c.h select ROCKSDB_LIBRARY_API for Windows and extern "C").
    """
    src = strip_comments(open(path).read())
    src = re.sub(r"^\s*#[^\n]*", "", src, flags=re.M)
    src = src.replace('extern "C" {', "")
    typenames = set(STD_TYPES)
    for m in re.finditer(r"typedef\s+struct\s+\w+\s+(\w+)\s*;", src):
        typenames.add(m.group(1))
    statements, cur, depth = [], [], 0
    for ch in src:  # split at top-level semicolons (enum bodies hold none, but be safe)
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        if ch == ";" and depth == 0:
            statements.append(" ".join("".join(cur).split()))
            cur = []
        else:
            cur.append(ch)
    funcs = []
    for st in statements:
        st = re.sub(r"^\}\s*", "", st)  # the closing brace of extern "C"
        if "(" not in st or st.startswith(("typedef", "enum")):
            continue
        st = re.sub(r"\b(extern|ROCKSDB_LIBRARY_API)\b", "", st).strip()
        m = re.match(r"^(.*?)\b(rocksdb_\w+)\s*\((.*)\)$", st, flags=re.S)
        if not m:
            sys.exit("gen_capi.py: cannot parse declaration: %s" % st)
        ret, name, args = m.group(1), m.group(2), m.group(3).strip()
        params = []
        if args not in ("", "void"):
            for i, a in enumerate(split_top(args)):
                params.append(Param(a, typenames, i))
        funcs.append(Func(ret, name, params, st))
    names = [f.name for f in funcs]
    if len(names) != len(set(names)):
        sys.exit("gen_capi.py: duplicate declarations in c.h")
    return funcs, typenames


def split_top(args):
    """Splits a parameter list at commas outside parentheses."""
    out, cur, depth = [], [], 0
    for ch in args:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            out.append("".join(cur).strip())
            cur = []
        else:
            cur.append(ch)
    out.append("".join(cur).strip())
    return out


# ---------------------------------------------------------------------------------------------
# The stored objects
# ---------------------------------------------------------------------------------------------


class Obj:
    """An object the plugin stores: created, configured through setters, read by getters.

    type      the C type, e.g. rocksdb_options_t
    prefix    prefix of its setters/getters (after it: set_<field>, get_<field>, <field>)
    ctors     constructors; their named parameters become fields of the same name
    dtor      destroy function (for a reference-counted object: drops one reference)
    copy      copy constructor, if c.h has one
    extra     (struct name, has copy hook): hand-managed member `x` (capi_internal.h)
    refcounted  shared the way RocksDB shares it with std::shared_ptr (see OWNERSHIP)
    probe     C expression creating a fresh object in the probe (None: no getters to probe)
    """

    def __init__(self, type, prefix, ctors, dtor, copy=None, extra=None, refcounted=False,
                 probe=None):
        self.type, self.prefix, self.ctors, self.dtor, self.copy = type, prefix, ctors, dtor, copy
        self.extra, self.refcounted, self.probe = extra, refcounted, probe
        self.short = type[len("rocksdb_"):-len("_t")]
        self.fields = {}  # name -> Field, in order of first appearance in c.h
        self.getters, self.setters = {}, {}  # function name -> Field


OBJECTS = [
    Obj("rocksdb_options_t", "rocksdb_options_", ["rocksdb_options_create"],
        "rocksdb_options_destroy", copy="rocksdb_options_create_copy",
        extra=("axp_options_extra", True), probe="rocksdb_options_create()"),
    Obj("rocksdb_readoptions_t", "rocksdb_readoptions_", ["rocksdb_readoptions_create"],
        "rocksdb_readoptions_destroy", extra=("axp_readoptions_extra", False),
        probe="rocksdb_readoptions_create()"),
    Obj("rocksdb_writeoptions_t", "rocksdb_writeoptions_", ["rocksdb_writeoptions_create"],
        "rocksdb_writeoptions_destroy", probe="rocksdb_writeoptions_create()"),
    Obj("rocksdb_flushoptions_t", "rocksdb_flushoptions_", ["rocksdb_flushoptions_create"],
        "rocksdb_flushoptions_destroy", probe="rocksdb_flushoptions_create()"),
    Obj("rocksdb_compactoptions_t", "rocksdb_compactoptions_",
        ["rocksdb_compactoptions_create"], "rocksdb_compactoptions_destroy",
        probe="rocksdb_compactoptions_create()"),
    Obj("rocksdb_block_based_table_options_t", "rocksdb_block_based_options_",
        ["rocksdb_block_based_options_create"], "rocksdb_block_based_options_destroy"),
    Obj("rocksdb_cuckoo_table_options_t", "rocksdb_cuckoo_options_",
        ["rocksdb_cuckoo_options_create"], "rocksdb_cuckoo_options_destroy"),
    Obj("rocksdb_lru_cache_options_t", "rocksdb_lru_cache_options_",
        ["rocksdb_lru_cache_options_create"], "rocksdb_lru_cache_options_destroy"),
    Obj("rocksdb_cache_t", "rocksdb_cache_",
        ["rocksdb_cache_create_lru", "rocksdb_cache_create_lru_with_strict_capacity_limit",
         "rocksdb_cache_create_lru_opts"], "rocksdb_cache_destroy", refcounted=True,
        probe="rocksdb_cache_create_lru(1048576)"),
    Obj("rocksdb_filterpolicy_t", "rocksdb_filterpolicy_",
        ["rocksdb_filterpolicy_create_bloom", "rocksdb_filterpolicy_create_bloom_full",
         "rocksdb_filterpolicy_create_ribbon", "rocksdb_filterpolicy_create_ribbon_hybrid"],
        "rocksdb_filterpolicy_destroy", refcounted=True),
    Obj("rocksdb_env_t", "rocksdb_env_",
        ["rocksdb_create_default_env", "rocksdb_create_mem_env"], "rocksdb_env_destroy",
        probe="rocksdb_create_default_env()"),
    Obj("rocksdb_ratelimiter_t", "rocksdb_ratelimiter_", ["rocksdb_ratelimiter_create"],
        "rocksdb_ratelimiter_destroy", refcounted=True),
    Obj("rocksdb_envoptions_t", "rocksdb_envoptions_", ["rocksdb_envoptions_create"],
        "rocksdb_envoptions_destroy"),
    Obj("rocksdb_universal_compaction_options_t", "rocksdb_universal_compaction_options_",
        ["rocksdb_universal_compaction_options_create"],
        "rocksdb_universal_compaction_options_destroy",
        probe="rocksdb_universal_compaction_options_create()"),
    Obj("rocksdb_fifo_compaction_options_t", "rocksdb_fifo_compaction_options_",
        ["rocksdb_fifo_compaction_options_create"], "rocksdb_fifo_compaction_options_destroy",
        probe="rocksdb_fifo_compaction_options_create()"),
    Obj("rocksdb_dbpath_t", "rocksdb_dbpath_", ["rocksdb_dbpath_create"],
        "rocksdb_dbpath_destroy"),
    Obj("rocksdb_slicetransform_t", "rocksdb_slicetransform_",
        ["rocksdb_slicetransform_create", "rocksdb_slicetransform_create_fixed_prefix",
         "rocksdb_slicetransform_create_noop"], "rocksdb_slicetransform_destroy",
        refcounted=True),
    Obj("rocksdb_compactionfilter_t", "rocksdb_compactionfilter_",
        ["rocksdb_compactionfilter_create"], "rocksdb_compactionfilter_destroy"),
    Obj("rocksdb_compactionfilterfactory_t", "rocksdb_compactionfilterfactory_",
        ["rocksdb_compactionfilterfactory_create"], "rocksdb_compactionfilterfactory_destroy",
        refcounted=True),
    Obj("rocksdb_ingestexternalfileoptions_t", "rocksdb_ingestexternalfileoptions_",
        ["rocksdb_ingestexternalfileoptions_create"],
        "rocksdb_ingestexternalfileoptions_destroy"),
    Obj("rocksdb_transactiondb_options_t", "rocksdb_transactiondb_options_",
        ["rocksdb_transactiondb_options_create"], "rocksdb_transactiondb_options_destroy"),
    Obj("rocksdb_transaction_options_t", "rocksdb_transaction_options_",
        ["rocksdb_transaction_options_create"], "rocksdb_transaction_options_destroy"),
    Obj("rocksdb_optimistictransaction_options_t", "rocksdb_optimistictransaction_options_",
        ["rocksdb_optimistictransaction_options_create"],
        "rocksdb_optimistictransaction_options_destroy"),
]
OBJ_BY_TYPE = {o.type: o for o in OBJECTS}

# How a setter taking another stored object holds it, following db/c.cc of RocksDB 7.8.3:
#   adopt   RocksDB's shared_ptr takes the caller's object (`rep.x.reset(p)`): the caller must
#           not destroy it afterwards; we keep the caller's reference, dropped with the holder.
#   share   RocksDB copies a shared_ptr out of the caller's wrapper (`rep.x = p->rep`): the
#           caller still destroys its object; we take a reference of our own.
#   copy    RocksDB copies the value (`rep.x = *p->rep`): later changes to p are not seen.
#   borrow  RocksDB keeps a raw pointer (the default): the caller keeps it alive.
# A NULL argument clears the field, except where RocksDB ignores NULL (IGNORE_NULL).
OWNERSHIP = {
    "rocksdb_options_set_prefix_extractor": "adopt",
    "rocksdb_options_set_compaction_filter_factory": "adopt",
    "rocksdb_block_based_options_set_filter_policy": "adopt",
    "rocksdb_block_based_options_set_block_cache": "share",
    "rocksdb_block_based_options_set_block_cache_compressed": "share",
    "rocksdb_options_set_row_cache": "share",
    "rocksdb_options_set_blob_cache": "share",
    "rocksdb_options_set_ratelimiter": "share",
    "rocksdb_options_set_universal_compaction_options": "copy",
    "rocksdb_options_set_fifo_compaction_options": "copy",
}
IGNORE_NULL = {
    "rocksdb_block_based_options_set_block_cache",
    "rocksdb_block_based_options_set_block_cache_compressed",
    "rocksdb_options_set_row_cache", "rocksdb_options_set_ratelimiter",
    "rocksdb_options_set_info_log", "rocksdb_options_set_universal_compaction_options",
    "rocksdb_options_set_fifo_compaction_options",
}

# Functions the hand-written files are expected to define (they use the `x` members or the
# database). If one is missing it still gets a stub, and the generator says so.
HAND_EXPECTED = {
    "rocksdb_options_set_merge_operator", "rocksdb_options_set_comparator",
    "rocksdb_options_set_uint64add_merge_operator", "rocksdb_readoptions_set_snapshot",
    "rocksdb_readoptions_set_iterate_upper_bound", "rocksdb_readoptions_set_iterate_lower_bound",
}

# Getters/setters that reach a field under another name. RocksDB's env: the unqualified
# background-thread count is the LOW priority pool's.
FIELD_ALIAS = {
    "rocksdb_env_set_background_threads": "low_priority_background_threads",
    "rocksdb_env_get_background_threads": "low_priority_background_threads",
}

# unsigned char fields that hold an enum, not a bool (so set(2) stores 2, as in RocksDB).
RAW_UCHAR = {("compactoptions", "bottommost_level_compaction")}
# int fields that RocksDB stores as a bool (so set(7) reads back 1).
BOOL_INT = {("options", "use_fsync")}

# Names for unnamed constructor parameters (they become fields).
CTOR_PARAM_NAMES = {"rocksdb_slicetransform_create_fixed_prefix": ["prefix_len"]}

# Defaults of fields without a getter (so not observable through the C API and not probed),
# from RocksDB 7.8.3's headers (include/rocksdb/{options,advanced_options,table,cache,
# utilities/transaction_db}.h). Fields not listed start at 0/NULL.
HAND_DEFAULTS = {
    "options": {
        "compression_options_window_bits": "-14", "compression_options_level": "32767",
        "bottommost_compression_options_window_bits": "-14",
        "bottommost_compression_options_level": "32767",
        "plain_table_user_key_len": "0", "plain_table_bloom_bits_per_key": "10",
        "plain_table_hash_table_ratio": "0.75", "plain_table_index_sparseness": "16",
    },
    "block_based_table_options": {
        "checksum": "4" "/* kXXH3 */", "block_size": "4096", "block_size_deviation": "10",
        "block_restart_interval": "16", "index_block_restart_interval": "1",
        "metadata_block_size": "4096", "use_delta_encoding": "1", "whole_key_filtering": "1",
        "format_version": "5", "data_block_hash_ratio": "0.75",
        "cache_index_and_filter_blocks_with_high_priority": "1",
        "pin_top_level_index_and_filter": "1",
    },
    "cuckoo_table_options": {
        "hash_ratio": "0.9", "max_search_depth": "100", "cuckoo_block_size": "5",
        "use_module_hash": "1",
    },
    "lru_cache_options": {"num_shard_bits": "-1"},
    "compactionfilter": {"ignore_snapshots": "1"},
    "ingestexternalfileoptions": {
        "snapshot_consistency": "1", "allow_global_seqno": "1", "allow_blocking_flush": "1",
    },
    "transactiondb_options": {
        "max_num_locks": "-1", "num_stripes": "16", "transaction_lock_timeout": "1000",
        "default_lock_timeout": "1000",
    },
    "transaction_options": {
        "lock_timeout": "-1", "expiration": "-1", "deadlock_detect_depth": "50",
        "skip_prepare": "1",
    },
    "cache": {"num_shard_bits": "-1"},
}


class Field:
    """A generated member of `f`.

    kind: scalar | string (owned NUL-terminated copy) | bytes (owned copy + <name>_len)
          | array (owned copy of <ctype> elements + <name>_len) | ref (another stored object,
          held as OWNERSHIP says) | fp (a callback, as given)
    """

    def __init__(self, name, ctype, kind, ref=None, own=None, decl=None):
        self.name, self.ctype, self.kind, self.ref, self.own = name, ctype, kind, ref, own
        self.decl = decl  # exact declaration for kind fp
        self.default = None  # C literal, or None for 0/NULL

    def members(self):
        if self.kind == "fp":
            return [self.decl]
        if self.kind == "string":
            return ["char *%s" % self.name]
        if self.kind == "bytes":
            return ["char *%s" % self.name, "size_t %s_len" % self.name]
        if self.kind == "array":
            return ["%s *%s" % (self.ctype, self.name), "size_t %s_len" % self.name]
        if self.kind == "ref":
            return ["%s *%s" % (self.ref.type, self.name)]
        return ["%s %s" % (self.ctype, self.name)]


def add_field(obj, field):
    old = obj.fields.get(field.name)
    if old is None:
        obj.fields[field.name] = field
        return field
    if (old.kind, old.ctype, old.ref) != (field.kind, field.ctype, field.ref):
        sys.exit("gen_capi.py: field %s.%s declared twice differently" % (obj.short, field.name))
    return old


# ---------------------------------------------------------------------------------------------
# Functions with hand-chosen bodies
# ---------------------------------------------------------------------------------------------
#
# Each entry: the parameter names to use (the object is always `self`), the fields it needs
# (name, C type, kind[, referenced object type]) and the body. Bodies reproduce what RocksDB
# 7.8.3 stores, as far as it is observable (checked by the "methods" section of the probe).
# They may call any rocksdb_* function (generated or hand-written).

TABLE_FACTORY_DOC = "0 block-based (default), 1 cuckoo, 2 plain table"
MEMTABLE_REP_DOC = "0 skip list (default), 1 vector, 2 hash skip list, 3 hash linked list"

SPECIAL = {
    "rocksdb_options_set_compression_options": dict(
        params=["self", "w_bits", "level", "strategy", "max_dict_bytes"],
        fields=[("compression_options_window_bits", "int"), ("compression_options_level", "int"),
                ("compression_options_strategy", "int"),
                ("compression_options_max_dict_bytes", "int")],
        body="""self->f.compression_options_window_bits = w_bits;
self->f.compression_options_level = level;
self->f.compression_options_strategy = strategy;
self->f.compression_options_max_dict_bytes = max_dict_bytes;"""),
    "rocksdb_options_set_bottommost_compression_options": dict(
        params=["self", "w_bits", "level", "strategy", "max_dict_bytes", "enabled"],
        fields=[("bottommost_compression_options_window_bits", "int"),
                ("bottommost_compression_options_level", "int"),
                ("bottommost_compression_options_strategy", "int"),
                ("bottommost_compression_options_max_dict_bytes", "int"),
                ("bottommost_compression_options_enabled", "unsigned char")],
        body="""self->f.bottommost_compression_options_window_bits = w_bits;
self->f.bottommost_compression_options_level = level;
self->f.bottommost_compression_options_strategy = strategy;
self->f.bottommost_compression_options_max_dict_bytes = max_dict_bytes;
self->f.bottommost_compression_options_enabled = enabled != 0;"""),
    "rocksdb_options_set_bottommost_compression_options_zstd_max_train_bytes": dict(
        params=["self", "zstd_max_train_bytes", "enabled"],
        fields=[("bottommost_compression_options_zstd_max_train_bytes", "int"),
                ("bottommost_compression_options_enabled", "unsigned char")],
        body="""self->f.bottommost_compression_options_zstd_max_train_bytes = zstd_max_train_bytes;
self->f.bottommost_compression_options_enabled = enabled != 0;"""),
    "rocksdb_options_set_bottommost_compression_options_use_zstd_dict_trainer": dict(
        params=["self", "use_zstd_dict_trainer", "enabled"],
        fields=[("bottommost_compression_options_use_zstd_dict_trainer", "unsigned char"),
                ("bottommost_compression_options_enabled", "unsigned char")],
        body="""self->f.bottommost_compression_options_use_zstd_dict_trainer = use_zstd_dict_trainer != 0;
self->f.bottommost_compression_options_enabled = enabled != 0;"""),
    "rocksdb_options_set_bottommost_compression_options_max_dict_buffer_bytes": dict(
        params=["self", "max_dict_buffer_bytes", "enabled"],
        fields=[("bottommost_compression_options_max_dict_buffer_bytes", "uint64_t"),
                ("bottommost_compression_options_enabled", "unsigned char")],
        body="""self->f.bottommost_compression_options_max_dict_buffer_bytes = max_dict_buffer_bytes;
self->f.bottommost_compression_options_enabled = enabled != 0;"""),
    # RocksDB keeps only the values 0..3 (NONE, NORMAL, SEQUENTIAL, WILLNEED).
    "rocksdb_options_set_access_hint_on_compaction_start": dict(
        params=["self", "v"], fields=[],
        body="if (v >= 0 && v <= 3)\n    self->f.access_hint_on_compaction_start = v;"),
    "rocksdb_options_set_compression_per_level": dict(
        params=["self", "level_values", "num_levels"],
        fields=[("compression_per_level", "int", "array")],
        body="axp_gen_set_int_array(&self->f.compression_per_level, "
             "&self->f.compression_per_level_len, level_values, num_levels);"),
    "rocksdb_options_set_max_bytes_for_level_multiplier_additional": dict(
        params=["self", "level_values", "num_levels"],
        fields=[("max_bytes_for_level_multiplier_additional", "int", "array")],
        body="axp_gen_set_int_array(&self->f.max_bytes_for_level_multiplier_additional,\n"
             "                      &self->f.max_bytes_for_level_multiplier_additional_len,\n"
             "                      level_values, num_levels);"),
    # Levels below `level` uncompressed, the others with the current compression.
    "rocksdb_options_set_min_level_to_compress": dict(
        params=["self", "level"], fields=[("compression_per_level", "int", "array")],
        body="""if (level < 0 || self->f.num_levels < 0)
    return;
size_t n = (size_t)self->f.num_levels;
int *v = calloc(n ? n : 1, sizeof(int));
if (!v)
    return;
for (size_t i = 0; i < n; i++)
    v[i] = (int)i < level ? 0 /* kNoCompression */ : self->f.compression;
free(self->f.compression_per_level);
self->f.compression_per_level = v;
self->f.compression_per_level_len = n;"""),
    # RocksDB copies the DbPath values: keep copies of the dbpath objects.
    "rocksdb_options_set_db_paths": dict(
        params=["self", "path_values", "num_paths"],
        fields=[("db_paths", "rocksdb_dbpath_t*", "array")],
        body="""if (!path_values && num_paths)
    return; /* bad input: RocksDB would read through the NULL array */
rocksdb_dbpath_t **v = calloc(num_paths ? num_paths : 1, sizeof(*v));
if (!v)
    return;
for (size_t i = 0; i < num_paths; i++) {
    v[i] = axp_gen_dbpath_clone(path_values[i]);
    if (!v[i]) {
        while (i--)
            axp_gen_dbpath_free(v[i]);
        free(v);
        return;
    }
}
axp_gen_free_dbpath_array(self->f.db_paths, self->f.db_paths_len);
self->f.db_paths = v;
self->f.db_paths_len = num_paths;"""),
    "rocksdb_options_enable_statistics": dict(
        params=["self"], fields=[("statistics", "unsigned char")],
        body="self->f.statistics = 1;"),
    "rocksdb_options_add_compact_on_deletion_collector_factory": dict(
        params=["self", "window_size", "num_dels_trigger"],
        fields=[("compact_on_deletion_window_size", "size_t"),
                ("compact_on_deletion_num_dels_trigger", "size_t")],
        body="""self->f.compact_on_deletion_window_size = window_size;
self->f.compact_on_deletion_num_dels_trigger = num_dels_trigger;"""),
    "rocksdb_options_set_memtable_vector_rep": dict(
        params=["self"], fields=[("memtable_rep", "int")], body="self->f.memtable_rep = 1;"),
    "rocksdb_options_set_hash_skip_list_rep": dict(
        params=["self", "bucket_count", "skiplist_height", "skiplist_branching_factor"],
        fields=[("memtable_rep", "int"), ("memtable_rep_bucket_count", "size_t"),
                ("memtable_rep_skiplist_height", "int32_t"),
                ("memtable_rep_skiplist_branching_factor", "int32_t")],
        body="""self->f.memtable_rep = 2;
self->f.memtable_rep_bucket_count = bucket_count;
self->f.memtable_rep_skiplist_height = skiplist_height;
self->f.memtable_rep_skiplist_branching_factor = skiplist_branching_factor;"""),
    "rocksdb_options_set_hash_link_list_rep": dict(
        params=["self", "bucket_count"],
        fields=[("memtable_rep", "int"), ("memtable_rep_bucket_count", "size_t")],
        body="self->f.memtable_rep = 3;\nself->f.memtable_rep_bucket_count = bucket_count;"),
    "rocksdb_options_set_plain_table_factory": dict(
        params=["self", "user_key_len", "bloom_bits_per_key", "hash_table_ratio",
                "index_sparseness"],
        fields=[("table_factory", "int"), ("plain_table_user_key_len", "uint32_t"),
                ("plain_table_bloom_bits_per_key", "int"),
                ("plain_table_hash_table_ratio", "double"),
                ("plain_table_index_sparseness", "size_t")],
        body="""self->f.table_factory = 2;
self->f.plain_table_user_key_len = user_key_len;
self->f.plain_table_bloom_bits_per_key = bloom_bits_per_key;
self->f.plain_table_hash_table_ratio = hash_table_ratio;
self->f.plain_table_index_sparseness = index_sparseness;"""),
    # The table factory copies the table options (the filter policy and caches inside are
    # shared, as RocksDB's shared_ptrs are).
    "rocksdb_options_set_block_based_table_factory": dict(
        params=["self", "table_options"],
        fields=[("table_factory", "int"),
                ("block_based_table_factory", None, "ref",
                 "rocksdb_block_based_table_options_t")],
        body="""if (!table_options)
    return;
rocksdb_block_based_table_options_t *copy = axp_gen_block_based_table_options_clone(table_options);
if (!copy)
    return;
axp_gen_block_based_table_options_free(self->f.block_based_table_factory);
self->f.block_based_table_factory = copy;
self->f.table_factory = 0;"""),
    "rocksdb_options_set_cuckoo_table_factory": dict(
        params=["self", "table_options"],
        fields=[("table_factory", "int"),
                ("cuckoo_table_factory", None, "ref", "rocksdb_cuckoo_table_options_t")],
        body="""if (!table_options)
    return;
rocksdb_cuckoo_table_options_t *copy = axp_gen_cuckoo_table_options_clone(table_options);
if (!copy)
    return;
axp_gen_cuckoo_table_options_free(self->f.cuckoo_table_factory);
self->f.cuckoo_table_factory = copy;
self->f.table_factory = 1;"""),
    # DBOptions::IncreaseParallelism: also resizes the env's LOW pool to total_threads and
    # HIGH to 1 (RocksDB: the options' env, by default the process-wide default env).
    "rocksdb_options_increase_parallelism": dict(
        params=["self", "total_threads"], fields=[("env", None, "ref", "rocksdb_env_t")],
        body="""self->f.max_background_jobs = total_threads;
if (self->f.env) {
    self->f.env->f.low_priority_background_threads = total_threads;
    self->f.env->f.high_priority_background_threads = 1;
}"""),
    # ColumnFamilyOptions::OptimizeForPointLookup: a block-based table with a hash index in
    # data blocks, a 10-bit bloom filter and an LRU block cache of the given size.
    "rocksdb_options_optimize_for_point_lookup": dict(
        params=["self", "block_cache_size_mb"],
        fields=[("memtable_whole_key_filtering", "unsigned char")],
        body="""rocksdb_block_based_table_options_t *t = rocksdb_block_based_options_create();
if (!t)
    return;
rocksdb_block_based_options_set_data_block_index_type(t, 1 /* binary search and hash */);
rocksdb_block_based_options_set_data_block_hash_ratio(t, 0.75);
rocksdb_block_based_options_set_filter_policy(t, rocksdb_filterpolicy_create_bloom(10));
rocksdb_cache_t *c = rocksdb_cache_create_lru((size_t)(block_cache_size_mb * 1024 * 1024));
if (c) {
    rocksdb_block_based_options_set_block_cache(t, c);
    rocksdb_cache_destroy(c);
}
rocksdb_options_set_block_based_table_factory(self, t);
rocksdb_block_based_options_destroy(t);
self->f.memtable_prefix_bloom_size_ratio = 0.02;
self->f.memtable_whole_key_filtering = 1;"""),
    # ColumnFamilyOptions::OptimizeLevelStyleCompaction. Levels 0-1 uncompressed, the others
    # LZ4 (the Debian package is built with LZ4; RocksDB falls back to Snappy, then none).
    "rocksdb_options_optimize_level_style_compaction": dict(
        params=["self", "memtable_memory_budget"],
        fields=[("compression_per_level", "int", "array")],
        body="""self->f.write_buffer_size = (size_t)(memtable_memory_budget / 4);
self->f.min_write_buffer_number_to_merge = 2;
self->f.max_write_buffer_number = 6;
self->f.level0_file_num_compaction_trigger = 2;
self->f.target_file_size_base = memtable_memory_budget / 8;
self->f.max_bytes_for_level_base = memtable_memory_budget;
self->f.compaction_style = 0 /* level */;
size_t n = self->f.num_levels > 0 ? (size_t)self->f.num_levels : 0;
int *v = calloc(n ? n : 1, sizeof(int));
if (!v)
    return;
for (size_t i = 0; i < n; i++)
    v[i] = i < 2 ? 0 /* kNoCompression */ : 4 /* kLZ4Compression */;
free(self->f.compression_per_level);
self->f.compression_per_level = v;
self->f.compression_per_level_len = n;"""),
    # ColumnFamilyOptions::OptimizeUniversalStyleCompaction.
    "rocksdb_options_optimize_universal_style_compaction": dict(
        params=["self", "memtable_memory_budget"],
        fields=[("universal_compaction_options", None, "ref",
                 "rocksdb_universal_compaction_options_t")],
        body="""self->f.write_buffer_size = (size_t)(memtable_memory_budget / 4);
self->f.min_write_buffer_number_to_merge = 2;
self->f.max_write_buffer_number = 6;
self->f.compaction_style = 1 /* universal */;
if (!self->f.universal_compaction_options)
    self->f.universal_compaction_options = rocksdb_universal_compaction_options_create();
if (self->f.universal_compaction_options)
    self->f.universal_compaction_options->f.compression_size_percent = 80;"""),
    # Options::PrepareForBulkLoad.
    "rocksdb_options_prepare_for_bulk_load": dict(
        params=["self"], fields=[],
        body="""self->f.level0_file_num_compaction_trigger = 1 << 30;
self->f.level0_slowdown_writes_trigger = 1 << 30;
self->f.level0_stop_writes_trigger = 1 << 30;
self->f.soft_pending_compaction_bytes_limit = 0;
self->f.hard_pending_compaction_bytes_limit = 0;
self->f.disable_auto_compactions = 1;
self->f.max_compaction_bytes = UINT64_C(1) << 60;
self->f.num_levels = 2;
self->f.max_write_buffer_number = 6;
self->f.min_write_buffer_number_to_merge = 1;
self->f.max_background_flushes = 4;
self->f.max_background_compactions = 2;
self->f.target_file_size_base = 256 * 1024 * 1024;"""),
    # An LRU cache built from lru_cache_options takes its capacity and shard bits.
    "rocksdb_cache_create_lru_opts": dict(
        params=["lru_opts"], fields=[("num_shard_bits", "int")], ctor=True,
        body="""if (!lru_opts)
    return NULL;
rocksdb_cache_t *self = axp_gen_cache_new("rocksdb_cache_create_lru_opts");
if (!self)
    return NULL;
self->f.capacity = lru_opts->f.capacity;
self->f.num_shard_bits = lru_opts->f.num_shard_bits;
return self;"""),
    "rocksdb_cache_create_lru_with_strict_capacity_limit": dict(
        params=["capacity"], fields=[("strict_capacity_limit", "unsigned char")], ctor=True,
        body="""rocksdb_cache_t *self = axp_gen_cache_new("rocksdb_cache_create_lru_with_strict_capacity_limit");
if (!self)
    return NULL;
self->f.capacity = capacity;
self->f.strict_capacity_limit = 1;
return self;"""),
    # Everything the API returns with malloc is released with free (hand-written code may
    # define it instead).
    "rocksdb_free": dict(params=["ptr"], fields=[], plain=True, body="free(ptr);"),
    # Nothing to give up: our caches hold no data.
    "rocksdb_cache_disown_data": dict(params=["self"], fields=[], body="(void)self;"),
    # Our env objects own no threads: joining and priorities are no-ops.
    "rocksdb_env_join_all_threads": dict(params=["self"], fields=[], body="(void)self;"),
    "rocksdb_env_lower_thread_pool_io_priority": dict(params=["self"], fields=[],
                                                      body="(void)self;"),
    "rocksdb_env_lower_high_priority_thread_pool_io_priority": dict(
        params=["self"], fields=[], body="(void)self;"),
    "rocksdb_env_lower_thread_pool_cpu_priority": dict(params=["self"], fields=[],
                                                       body="(void)self;"),
    "rocksdb_env_lower_high_priority_thread_pool_cpu_priority": dict(
        params=["self"], fields=[], body="(void)self;"),
}

# Calls whose effect on getters the probe compares between the plugin and RocksDB: (label,
# object type, statements run on the fresh object `o` before its getters are printed).
PROBE_METHODS = [
    ("increase_parallelism", "rocksdb_options_t", "rocksdb_options_increase_parallelism(o, 7);"),
    ("optimize_for_point_lookup", "rocksdb_options_t",
     "rocksdb_options_optimize_for_point_lookup(o, 64);"),
    ("optimize_level_style_compaction", "rocksdb_options_t",
     "rocksdb_options_optimize_level_style_compaction(o, 256u << 20);"),
    ("optimize_universal_style_compaction", "rocksdb_options_t",
     "rocksdb_options_optimize_universal_style_compaction(o, 256u << 20);"),
    ("prepare_for_bulk_load", "rocksdb_options_t", "rocksdb_options_prepare_for_bulk_load(o);"),
    ("bottommost_use_zstd_dict_trainer", "rocksdb_options_t",
     "rocksdb_options_set_bottommost_compression_options_use_zstd_dict_trainer(o, 0, 1);"),
    # (An invalid value trips an assert in Debian's librocksdb, which keeps assertions on.)
    ("access_hint", "rocksdb_options_t",
     "rocksdb_options_set_access_hint_on_compaction_start(o, 2);"),
    ("copy", "rocksdb_options_t",
     "rocksdb_options_set_create_if_missing(o, 1);\n"
     "rocksdb_options_set_max_open_files(o, 77);\n"
     "rocksdb_options_t *c = rocksdb_options_create_copy(o);\n"
     "rocksdb_options_destroy(o);\no = c;"),
    ("lru_opts", "rocksdb_cache_t",
     "rocksdb_cache_destroy(o);\n"
     "rocksdb_lru_cache_options_t *lo = rocksdb_lru_cache_options_create();\n"
     "rocksdb_lru_cache_options_set_capacity(lo, 12345);\n"
     "o = rocksdb_cache_create_lru_opts(lo);\nrocksdb_lru_cache_options_destroy(lo);"),
    ("env_increase_parallelism", "rocksdb_env_t",
     "rocksdb_options_t *opt = rocksdb_options_create();\n"
     "rocksdb_options_set_env(opt, o);\n"
     "rocksdb_options_increase_parallelism(opt, 3);\n"
     "rocksdb_options_destroy(opt);"),
]

# Values the probe's round trip sets, by setter parameter type.
ROUNDTRIP_VALUES = {
    "unsigned char": ["0", "1", "2"], "char": ["0", "1", "3"], "bool": ["0", "1"],
    "int": ["0", "1", "3", "7"], "unsigned int": ["0", "1", "600"],
    "int32_t": ["0", "5"], "uint32_t": ["0", "1", "12"],
    "int64_t": ["0", "1", "INT64_C(5000000000)"], "uint64_t": ["0", "1", "UINT64_C(5000000000)"],
    "size_t": ["0", "1", "(size_t)5000000000u"], "double": ["0.0", "0.25", "3.5"],
}
SCALAR_TYPES = set(ROUNDTRIP_VALUES)


# ---------------------------------------------------------------------------------------------
# Classification
# ---------------------------------------------------------------------------------------------


def obj_of_param(p):
    """The stored object a parameter points to, if any."""
    t = p.type.replace("const ", "")
    if t.endswith("*") and not t.endswith("**"):
        return OBJ_BY_TYPE.get(t[:-1])
    return None


def classify(funcs):
    """Fills every object's fields/getters/setters; returns {function name: role}.

    role is one of ("ctor", obj), ("dtor", obj), ("copy", obj), ("get", obj, field),
    ("set", obj, field), ("special", obj or None), ("hand",) or ("stub",).
    """
    by_name = {f.name: f for f in funcs}
    roles = {}
    for name in HAND_EXPECTED:
        roles[name] = ("hand",)
    for o in OBJECTS:
        for c in o.ctors:
            roles[c] = ("ctor", o)
        roles[o.dtor] = ("dtor", o)
        if o.copy:
            roles[o.copy] = ("copy", o)
    for name in SPECIAL:
        roles[name] = ("special", None)

    for o in OBJECTS:
        for c in o.ctors:  # constructor parameters become fields
            f = by_name[c]
            names = CTOR_PARAM_NAMES.get(c)
            for i, p in enumerate(f.params):
                pname = names[i] if names else p.name
                if c in SPECIAL:
                    continue
                if p.is_fp:
                    add_field(o, Field(pname, p.type, "fp", decl=p.rename(pname)))
                elif p.type == "void*":
                    add_field(o, Field(pname, "void*", "scalar"))
                elif p.type == "const char*":
                    add_field(o, Field(pname, "char*", "string"))
                elif p.type in SCALAR_TYPES:
                    add_field(o, Field(pname, p.type, "scalar"))
                else:
                    sys.exit("gen_capi.py: constructor %s: unhandled parameter %s" % (c, p.text))

    # Getters first: a getter's type is the field's type.
    for f in funcs:
        if f.name in roles:
            continue
        for o in OBJECTS:
            rest = f.name[len(o.prefix):] if f.name.startswith(o.prefix) else None
            if (rest and rest.startswith("get_") and len(f.params) == 1
                    and obj_of_param(f.params[0]) is o and f.ret in SCALAR_TYPES):
                field = add_field(o, Field(FIELD_ALIAS.get(f.name, rest[4:]), f.ret, "scalar"))
                o.getters[f.name] = field
                roles[f.name] = ("get", o, field)
                break
    for f in funcs:
        if f.name in roles:
            continue
        for o in OBJECTS:
            if not f.name.startswith(o.prefix) or not f.params:
                continue
            if obj_of_param(f.params[0]) is not o or f.ret != "void":
                continue
            rest = f.name[len(o.prefix):]
            if rest.startswith("set_"):
                fname = rest[4:]
            elif (o.prefix + "get_" + rest) in by_name:  # e.g. options_compaction_readahead_size
                fname = rest
            else:
                continue
            fname = FIELD_ALIAS.get(f.name, fname)
            args = f.params[1:]
            types = [p.type for p in args]
            field = None
            if len(args) == 1 and types[0] in SCALAR_TYPES:
                old = o.fields.get(fname)
                field = old if old else add_field(o, Field(fname, types[0], "scalar"))
            elif len(args) == 1 and types[0] == "const char*":
                field = add_field(o, Field(fname, "char*", "string"))
            elif len(args) == 2 and types[0] in ("const char*", "char*") and types[1] == "size_t":
                field = add_field(o, Field(fname, "char", "bytes"))
            elif len(args) == 1 and obj_of_param(args[0]) is not None:
                target = obj_of_param(args[0])
                own = OWNERSHIP.get(f.name, "borrow")
                field = add_field(o, Field(fname, None, "ref", ref=target))
                field.own = own
            elif (len(args) == 1 and types[0].endswith("*") and "(*)" not in types[0]
                  and types[0].count("*") == 1):
                # a pointer to an object the plugin does not store (logger, comparator...)
                field = add_field(o, Field(fname, types[0], "scalar"))
                field.borrowed_foreign = True
            if field is None:
                continue
            o.setters[f.name] = field
            roles[f.name] = ("set", o, field)
            break

    # Fields named by SPECIAL entries.
    for name, spec in SPECIAL.items():
        if name not in by_name:
            sys.exit("gen_capi.py: SPECIAL entry %s is not in c.h" % name)
        o = special_obj(by_name[name], spec)
        roles[name] = ("special", o)
        for fd in spec["fields"]:
            fname, ctype = fd[0], fd[1]
            kind = fd[2] if len(fd) > 2 else "scalar"
            if kind == "ref":
                fld = add_field(o, Field(fname, None, "ref", ref=OBJ_BY_TYPE[fd[3]]))
                if fld.own is None:
                    fld.own = "copy" if fname.endswith(("_factory", "_compaction_options")) else "borrow"
            elif kind == "array" and ctype == "rocksdb_dbpath_t*":
                add_field(o, Field(fname, ctype, "array"))
            else:
                add_field(o, Field(fname, ctype, kind))

    for f in funcs:
        roles.setdefault(f.name, ("stub",))
    return roles


def special_obj(func, spec):
    if spec.get("plain"):  # not about a stored object
        return None
    if spec.get("ctor"):
        return OBJ_BY_TYPE[func.ret.rstrip("*")]
    o = obj_of_param(func.params[0])
    if o is None:
        sys.exit("gen_capi.py: SPECIAL %s: first parameter is no stored object" % func.name)
    return o


def apply_defaults(defaults):
    """Sets Field.default from the probe's output and HAND_DEFAULTS."""
    for o in OBJECTS:
        for getter, field in o.getters.items():
            if getter in defaults:
                field.default = c_literal(defaults[getter], field.ctype)
            elif o.probe:
                sys.exit("gen_capi.py: the probe printed no default for %s" % getter)
        for fname, lit in HAND_DEFAULTS.get(o.short, {}).items():
            if fname not in o.fields:
                sys.exit("gen_capi.py: HAND_DEFAULTS names unknown field %s.%s" % (o.short, fname))
            if o.fields[fname].default is None:
                o.fields[fname].default = lit


def c_literal(text, ctype):
    if ctype == "double":
        v = float(text)
        if v != v or v in (float("inf"), float("-inf")):
            return {"inf": "HUGE_VAL", "-inf": "-HUGE_VAL"}.get(text, "NAN")
        return repr(v)
    n = int(text)
    if ctype in ("uint64_t", "size_t"):
        return "UINT64_C(%d)" % n
    if ctype == "int64_t":
        return "INT64_C(%d)" % n if n != -(1 << 63) else "INT64_MIN"
    if ctype == "uint32_t" or ctype == "unsigned int":
        return "%du" % n
    return str(n)


# ---------------------------------------------------------------------------------------------
# Emitting C
# ---------------------------------------------------------------------------------------------

GENERATED_NOTE = "/* GENERATED by plugin/gen/gen_capi.py from <rocksdb/c.h>: do not edit. */\n"


def signature(func, names=None):
    """`ret name(params)` with the given parameter names (default: c.h's, or aN)."""
    if not func.params:
        return "%s %s(void)" % (func.ret, func.name)
    ps = []
    for i, p in enumerate(func.params):
        ps.append(p.rename(names[i]) if names else p.decl)
    return "%s %s(%s)" % (func.ret, func.name, ", ".join(ps))


def zero_of(ctype):
    return "NULL" if ctype.endswith("*") else "0"


def emit_header(out):
    w = out.append
    w(GENERATED_NOTE)
    w("""/*
 * capi_objects.h: the structs of the RocksDB C API objects the plugin stores.
 *
 * Each object has its generated fields in member `f` (struct axp_<name>_fields) and, for
 * rocksdb_options_t and rocksdb_readoptions_t, a hand-managed member `x` (capi_internal.h).
 *
 * Field naming rule: a field is named after its getter's suffix, rocksdb_<type>_get_<field>;
 * a field without a getter after its setter's suffix, rocksdb_<type>_set_<field> (or the
 * suffix after the type's prefix for setters without set_, e.g. rocksdb_writeoptions_disable_WAL
 * -> disable_WAL, consistent with its getter); constructor parameters keep their c.h names
 * (rocksdb_cache_create_lru(capacity) -> capacity). The type's prefix is the one of its
 * functions: rocksdb_block_based_options_ for rocksdb_block_based_table_options_t,
 * rocksdb_cuckoo_options_ for rocksdb_cuckoo_table_options_t. Exceptions (FIELD_ALIAS in
 * gen_capi.py): rocksdb_env_{get,set}_background_threads use low_priority_background_threads,
 * as RocksDB does. A field's type is its getter's return type (bools are unsigned char, 0/1).
 *
 * Field kinds: scalars as given; strings (`const char*` setters) are owned NUL-terminated
 * copies; byte strings (setters taking a pointer and a length) are owned copies with <name>_len
 * (NULL when cleared); arrays are owned copies with <name>_len; pointers to other stored objects
 * are held as RocksDB holds them (adopted, shared with a reference count, copied by value, or
 * borrowed: see OWNERSHIP in gen_capi.py and the comment at each field).
 *
 * A fresh object's fields hold RocksDB 7.8.3's defaults: those with a getter as probed from the
 * real librocksdb at build time, the others from RocksDB's headers (HAND_DEFAULTS).
 */
#ifndef ALEXSTORAGE_PLUGIN_CAPI_OBJECTS_H
#define ALEXSTORAGE_PLUGIN_CAPI_OBJECTS_H

#include <stdatomic.h>

#include "capi_internal.h"
""")
    for o in OBJECTS:
        w("\n/* ---- %s%s */\n" % (o.type, " (reference counted)" if o.refcounted else ""))
        w("struct axp_%s_fields {\n" % o.short)
        for fld in o.fields.values():
            note = ""
            if fld.kind == "ref":
                note = {"adopt": "adopted from the caller, released with this object",
                        "share": "one reference of ours", "copy": "our own copy",
                        "borrow": "borrowed: the caller keeps it alive"}[fld.own]
            elif fld.kind in ("string", "bytes", "array"):
                note = "owned"
            elif fld.name == "table_factory":
                note = TABLE_FACTORY_DOC
            elif fld.name == "memtable_rep":
                note = MEMTABLE_REP_DOC
            elif getattr(fld, "borrowed_foreign", False):
                note = "borrowed: the caller keeps it alive"
            members = fld.members()
            for i, m in enumerate(members):
                tail = "; /* %s */" % note if note and i == len(members) - 1 else ";"
                w("    %s%s\n" % (m, tail))
        if not o.fields:
            w("    char unused; /* no fields: C forbids empty structs */\n")
        w("};\n")
        w("struct %s {\n" % o.type)
        if o.refcounted:
            w("    atomic_int refs;        /* the creator's reference plus one per holder */\n")
        w("    const char *created_by; /* the constructor's name */\n")
        w("    struct axp_%s_fields f;\n" % o.short)
        if o.extra:
            w("    %s x;\n" % o.extra[0])
        w("};\n")
        w("/* Releases one reference (frees at the last) or frees; NULL is a no-op. */\n")
        w("void axp_gen_%s_free(%s *o);\n" % (o.short, o.type))
        if cloneable(o):
            w("/* A deep copy (shared parts take a reference); NULL on allocation failure. */\n")
            w("%s *axp_gen_%s_clone(const %s *o);\n" % (o.type, o.short, o.type))
        if o.refcounted:
            w("/* Takes one more reference; returns o. */\n")
            w("%s *axp_gen_%s_ref(%s *o);\n" % (o.type, o.short, o.type))
    w("\n#endif /* ALEXSTORAGE_PLUGIN_CAPI_OBJECTS_H */\n")


def cloneable(o):
    return not o.extra or o.extra[1]


def emit_release_field(w, o, fld, ind="    "):
    v = "o->f.%s" % fld.name
    if fld.kind in ("string", "bytes"):
        w("%sfree(%s);\n" % (ind, v))
    elif fld.kind == "array":
        if fld.ctype == "rocksdb_dbpath_t*":
            w("%saxp_gen_free_dbpath_array(%s, %s_len);\n" % (ind, v, v))
        else:
            w("%sfree(%s);\n" % (ind, v))
    elif fld.kind == "ref" and fld.own in ("adopt", "share", "copy"):
        w("%saxp_gen_%s_free(%s);\n" % (ind, fld.ref.short, v))


def emit_clone_field(w, o, fld):
    """After memcpy of the fields: make c's pointer fields its own."""
    v, s = "c->f.%s" % fld.name, "o->f.%s" % fld.name
    if fld.kind == "string":
        w("    if (%s && !(%s = strdup(%s)))\n        failed = 1;\n" % (s, v, s))
    elif fld.kind == "bytes":
        w("    if (%s && !(%s = axp_gen_memdup(%s, %s_len)))\n        failed = 1;\n" % (s, v, s, s))
    elif fld.kind == "array":
        if fld.ctype == "rocksdb_dbpath_t*":
            w("    if (%s && !(%s = axp_gen_clone_dbpath_array(%s, %s_len)))\n"
              "        failed = 1;\n" % (s, v, s, s))
        else:
            w("    if (%s && !(%s = axp_gen_memdup(%s, %s_len * sizeof(*%s))))\n"
              "        failed = 1;\n" % (s, v, s, s, s))
    elif fld.kind == "ref" and fld.own in ("adopt", "share"):
        w("    if (%s)\n        axp_gen_%s_ref(%s);\n" % (v, fld.ref.short, v))
    elif fld.kind == "ref" and fld.own == "copy":
        w("    if (%s && !(%s = axp_gen_%s_clone(%s)))\n        failed = 1;\n"
          % (s, v, fld.ref.short, s))


def owning_pointer(fld):
    return (fld.kind in ("string", "bytes", "array")
            or (fld.kind == "ref" and fld.own in ("adopt", "share", "copy")))


def emit_object_core(w, o):
    """new / free / clone / ref for one object."""
    T, s = o.type, o.short
    w("\n/* ---- %s ---- */\n\n" % T)
    w("static AXP_GEN_MAYBE_UNUSED %s *axp_gen_%s_new(const char *created_by)\n{\n" % (T, s))
    w("    %s *o = calloc(1, sizeof(*o));\n    if (!o)\n        return NULL;\n" % T)
    if o.refcounted:
        w("    atomic_init(&o->refs, 1);\n")
    w("    o->created_by = created_by;\n")
    for fld in o.fields.values():
        if fld.default is not None and fld.default not in ("0", "0.0", "UINT64_C(0)",
                                                            "INT64_C(0)", "0u"):
            w("    o->f.%s = %s;\n" % (fld.name, fld.default))
    if o.extra:
        w("    %s_init(&o->x);\n" % o.extra[0])
    w("    return o;\n}\n\n")

    if o.refcounted:
        w("%s *axp_gen_%s_ref(%s *o)\n{\n" % (T, s, T))
        w("    atomic_fetch_add_explicit(&o->refs, 1, memory_order_relaxed);\n    return o;\n}\n\n")
    w("void axp_gen_%s_free(%s *o)\n{\n    if (!o)\n        return;\n" % (s, T))
    if o.refcounted:
        w("    if (atomic_fetch_sub_explicit(&o->refs, 1, memory_order_acq_rel) != 1)\n"
          "        return;\n")
    for fld in o.fields.values():
        emit_release_field(w, o, fld)
    if "destructor" in o.fields and "state" in o.fields:
        w("    if (o->f.destructor) /* as RocksDB's wrapper destructor does */\n"
          "        o->f.destructor(o->f.state);\n")
    if o.extra:
        w("    %s_free(&o->x);\n" % o.extra[0])
    w("    free(o);\n}\n\n")

    if cloneable(o):
        w("%s *axp_gen_%s_clone(const %s *o)\n{\n" % (T, s, T))
        w("    %s *c = calloc(1, sizeof(*c));\n    if (!c)\n        return NULL;\n" % T)
        if o.refcounted:
            w("    atomic_init(&c->refs, 1);\n")
        w("    c->created_by = o->created_by;\n    c->f = o->f;\n")
        owning = [f for f in o.fields.values() if owning_pointer(f)]
        if owning:
            w("    int failed = 0;\n")
            for fld in owning:  # first detach c from o's memory, then copy
                if fld.kind == "ref" and fld.own in ("adopt", "share"):
                    continue
                w("    c->f.%s = NULL;\n" % fld.name)
            for fld in owning:
                emit_clone_field(w, o, fld)
        if o.extra:
            w("    %s_init(&c->x);\n    %s_copy(&c->x, &o->x);\n" % (o.extra[0], o.extra[0]))
        if owning:
            w("    if (failed) {\n        axp_gen_%s_free(c);\n        return NULL;\n    }\n" % s)
        w("    return c;\n}\n\n")


def emit_ctor(w, o, func):
    names = CTOR_PARAM_NAMES.get(func.name)
    w("%s\n{\n" % signature(func, names))
    w("    %s *o = axp_gen_%s_new(\"%s\");\n    if (!o)\n        return NULL;\n"
      % (o.type, o.short, func.name))
    for i, p in enumerate(func.params):
        pname = names[i] if names else p.name
        fld = o.fields[pname]
        if fld.kind == "string":
            w("    if (%s && !(o->f.%s = strdup(%s))) {\n        axp_gen_%s_free(o);\n"
              "        return NULL;\n    }\n" % (pname, pname, pname, o.short))
        else:
            w("    o->f.%s = %s;\n" % (pname, pname))
    w("    return o;\n}\n\n")


def emit_setter(w, o, func, fld):
    args = func.params[1:]
    # c.h leaves most setter values unnamed: call a lone one `v`
    names = ["self"] + [("v" if len(args) == 1 else p.name) if re.match(r"a\d+$", p.name)
                        else p.name for p in args]
    w("%s\n{\n    if (!self)\n        return;\n" % signature(func, names))
    v, dst = names[1], "self->f.%s" % fld.name
    if fld.kind == "scalar" and getattr(fld, "borrowed_foreign", False):
        w("    %s = %s;\n" % (dst, v))
    elif fld.kind == "scalar":
        if ((fld.ctype == "unsigned char" and (o.short, fld.name) not in RAW_UCHAR)
                or (o.short, fld.name) in BOOL_INT):
            w("    %s = %s != 0;\n" % (dst, v))  # RocksDB stores a bool
        elif fld.ctype != args[0].type:
            w("    %s = (%s)%s;\n" % (dst, fld.ctype, v))
        else:
            w("    %s = %s;\n" % (dst, v))
    elif fld.kind == "string":
        w("    char *copy = NULL;\n    if (%s && !(copy = strdup(%s)))\n        return;\n" % (v, v))
        w("    free(%s);\n    %s = copy;\n" % (dst, dst))
    elif fld.kind == "bytes":
        n = names[2]
        w("    char *copy = NULL;\n    if (%s && !(copy = axp_gen_memdup(%s, %s)))\n"
          "        return;\n" % (v, v, n))
        w("    free(%s);\n    %s = copy;\n    %s_len = copy ? %s : 0;\n" % (dst, dst, dst, n))
    elif fld.kind == "ref":
        if func.name in IGNORE_NULL:
            w("    if (!%s)\n        return;\n" % v)
        r = fld.ref.short
        if fld.own == "borrow":
            w("    %s = %s;\n" % (dst, v))
        elif fld.own == "adopt":
            w("    if (%s != %s)\n        axp_gen_%s_free(%s);\n    %s = %s;\n"
              % (dst, v, r, dst, dst, v))
        elif fld.own == "share":
            w("    %s *old = %s;\n    %s = %s ? axp_gen_%s_ref(%s) : NULL;\n"
              "    axp_gen_%s_free(old);\n" % (fld.ref.type, dst, dst, v, r, v, r))
        elif fld.own == "copy":
            w("    %s *copy = %s ? axp_gen_%s_clone(%s) : NULL;\n    if (%s && !copy)\n"
              "        return;\n    axp_gen_%s_free(%s);\n    %s = copy;\n"
              % (fld.ref.type, v, r, v, v, r, dst, dst))
    w("}\n\n")


def emit_getter(w, o, func, fld):
    w("%s\n{\n" % signature(func, ["self"]))
    w("    if (!self)\n        return 0;\n")
    if fld.ctype == func.ret:
        w("    return self->f.%s;\n}\n\n" % fld.name)
    else:
        w("    return (%s)self->f.%s;\n}\n\n" % (func.ret, fld.name))


def emit_stub(w, func):
    w("%s\n{\n" % signature(func))
    for p in func.params:
        if p.name != "errptr" or p.type != "char**":
            w("    (void)%s;\n" % p.name)
    if func.has_errptr():
        w("    axp_error(errptr, \"Not implemented: %%s\", \"%s\");\n" % func.name)
    if func.ret != "void":
        w("    return %s;\n" % zero_of(func.ret))
    w("}\n\n")


def emit_special(w, func, spec):
    w("%s\n{\n" % signature(func, spec["params"]))
    if not spec.get("ctor") and not spec.get("plain") and func.params:
        w("    if (!self)\n        return;\n")
    for line in spec["body"].split("\n"):
        w(("    " + line).rstrip() + "\n")
    w("}\n\n")


HELPERS = """
#define AXP_GEN_MAYBE_UNUSED __attribute__((unused))

static AXP_GEN_MAYBE_UNUSED void *axp_gen_memdup(const void *p, size_t n)
{
    void *c = malloc(n ? n : 1);
    if (c && n)
        memcpy(c, p, n);
    return c;
}

/* *dst = a copy of v[0..n), *len = n; unchanged if out of memory, or for a NULL array with a
 * length or a length past memory (bad input, where RocksDB would read through the pointer). */
static AXP_GEN_MAYBE_UNUSED void axp_gen_set_int_array(int **dst, size_t *len, const int *v, size_t n)
{
    if ((!v && n) || n > SIZE_MAX / sizeof(int))
        return;
    int *copy = axp_gen_memdup(v, n * sizeof(int));
    if (!copy)
        return;
    free(*dst);
    *dst = copy;
    *len = n;
}

static AXP_GEN_MAYBE_UNUSED void axp_gen_free_dbpath_array(rocksdb_dbpath_t **v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        axp_gen_dbpath_free(v[i]);
    free(v);
}

static AXP_GEN_MAYBE_UNUSED rocksdb_dbpath_t **axp_gen_clone_dbpath_array(rocksdb_dbpath_t *const *v, size_t n)
{
    rocksdb_dbpath_t **c = calloc(n ? n : 1, sizeof(*c));
    for (size_t i = 0; c && i < n; i++) {
        if (!(c[i] = axp_gen_dbpath_clone(v[i]))) {
            axp_gen_free_dbpath_array(c, i);
            return NULL;
        }
    }
    return c;
}
"""


def emit_source(out, funcs, roles, hand):
    w = out.append
    w(GENERATED_NOTE)
    w("""/*
 * capi_gen.c: the RocksDB C API functions no hand-written file of plugin/src defines:
 * the stored option objects (create, copy, destroy, setters, getters; fresh objects hold
 * RocksDB 7.8.3's defaults) and "Not implemented: " stubs for everything else. How each
 * function was decided is in docs/plugin-gen.md.
 */
#define _POSIX_C_SOURCE 200809L /* strdup */

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "capi_objects.h"
""")
    w(HELPERS)
    for o in OBJECTS:
        emit_object_core(w, o)
    w("\n/* ---- the c.h functions, in c.h's order ---- */\n\n")
    stubs = []
    for f in funcs:
        if f.name in hand:
            continue
        role = roles[f.name]
        kind = role[0]
        if kind == "ctor" and f.name not in SPECIAL:
            emit_ctor(w, role[1], f)
        elif kind == "dtor":
            w("%s\n{\n    axp_gen_%s_free(self);\n}\n\n" % (signature(f, ["self"]), role[1].short))
        elif kind == "copy":
            w("%s\n{\n    return self ? axp_gen_%s_clone(self) : NULL;\n}\n\n"
              % (signature(f, ["self"]), role[1].short))
        elif kind == "get":
            emit_getter(w, role[1], f, role[2])
        elif kind == "set":
            emit_setter(w, role[1], f, role[2])
        elif kind == "special":
            emit_special(w, f, SPECIAL[f.name])
        else:
            emit_stub(w, f)
            stubs.append(f.name)
    return stubs


# ---------------------------------------------------------------------------------------------
# The probe program
# ---------------------------------------------------------------------------------------------

PRINT_FORMAT = {
    "unsigned char": ('"%u"', "(unsigned)"), "char": ('"%d"', "(int)"), "bool": ('"%d"', "(int)"),
    "int": ('"%d"', ""), "unsigned int": ('"%u"', ""), "int32_t": ('"%d"', "(int)"),
    "uint32_t": ('"%u"', "(unsigned)"), "int64_t": ('"%lld"', "(long long)"),
    "uint64_t": ('"%llu"', "(unsigned long long)"), "size_t": ('"%zu"', ""),
    "double": ('"%.17g"', ""),
}


def print_getter(w, getter, ret, label, ind="    "):
    fmt, cast = PRINT_FORMAT[ret]
    w('%sprintf("%s%s=" %s "\\n", %s%s(o));\n' % (ind, label, getter, fmt, cast, getter))


def emit_probe(out, funcs, roles):
    w = out.append
    w(GENERATED_NOTE)
    w("""/*
 * capi_probe.c: calls RocksDB's C API and prints what the getters return, one name=value a
 * line. Built against the real librocksdb at build time, `defaults` gives the defaults the
 * plugin's fresh objects must have; the tests build it against the plugin too and compare
 * the output of every mode with the real library's.
 *
 *   capi_probe MODE [OUTPUT]  (stdout without OUTPUT)
 *   capi_probe defaults   getters of fresh objects
 *   capi_probe roundtrip  set-then-get for every scalar setter/getter pair
 *   capi_probe methods    getters after option "methods" (optimize_*, copy, ...)
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <rocksdb/c.h>
""")
    probed = [o for o in OBJECTS if o.probe and o.getters]
    # defaults
    w("\nstatic void probe_defaults(void)\n{\n")
    for o in probed:
        w("    {\n        %s *o = %s;\n" % (o.type, o.probe))
        for g in o.getters:
            print_getter(w, g, funcs_by_name[g].ret, "", "        ")
        w("        %s(o);\n    }\n" % o.dtor)
    w("}\n")
    # roundtrip
    w("\nstatic void probe_roundtrip(void)\n{\n")
    for o in probed:
        getter_of = {}
        for g, fld in o.getters.items():
            getter_of[fld.name] = g
        for sname, fld in o.setters.items():
            if fld.kind != "scalar" or fld.name not in getter_of or sname in HAND_EXPECTED:
                continue
            ptype = funcs_by_name[sname].params[1].type
            for v in ROUNDTRIP_VALUES[ptype]:
                g = getter_of[fld.name]
                w("    {\n        %s *o = %s;\n        %s(o, %s);\n" % (o.type, o.probe, sname, v))
                print_getter(w, g, funcs_by_name[g].ret, "%s(%s):" % (sname, v.replace('"', "")),
                             "        ")
                w("        %s(o);\n    }\n" % o.dtor)
    w("}\n")
    # methods
    w("\nstatic void probe_methods(void)\n{\n")
    for label, T, stmts in PROBE_METHODS:
        o = OBJ_BY_TYPE[T]
        w("    {\n        %s *o = %s;\n" % (T, o.probe))
        for line in stmts.split("\n"):
            w("        %s\n" % line)
        for g in o.getters:
            print_getter(w, g, funcs_by_name[g].ret, label + ":", "        ")
        w("        %s(o);\n    }\n" % o.dtor)
    w("}\n")
    w("""
int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "defaults";
    /* An optional output file, so that a build step needs no shell redirection. */
    if (argc > 2 && !freopen(argv[2], "w", stdout)) {
        perror(argv[2]);
        return 1;
    }
    if (!strcmp(mode, "defaults"))
        probe_defaults();
    else if (!strcmp(mode, "roundtrip"))
        probe_roundtrip();
    else if (!strcmp(mode, "methods"))
        probe_methods();
    else {
        fprintf(stderr, "usage: %s defaults|roundtrip|methods [OUTPUT]\\n", argv[0]);
        return 2;
    }
    return fflush(stdout) == 0 ? 0 : 1;
}
""")


funcs_by_name = {}


# ---------------------------------------------------------------------------------------------
# Hand-written functions
# ---------------------------------------------------------------------------------------------


def hand_defined(nm, objects):
    """Global rocksdb_* symbols defined by the hand-written object files (nm -P format)."""
    names = set()
    if not objects:
        return names
    res = subprocess.run([nm, "--defined-only", "-P"] + objects, capture_output=True, text=True)
    if res.returncode != 0:
        sys.exit("gen_capi.py: %s failed: %s" % (nm, res.stderr))
    for line in res.stdout.splitlines():
        parts = line.split()
        # "name type value size"; file headers ("x.o:") have one field
        if len(parts) >= 2 and parts[1] in "TDBRVWGS" and parts[0].startswith("rocksdb_"):
            names.add(parts[0])
    return names


def read_defaults(path):
    d = {}
    for line in open(path):
        line = line.strip()
        if line:
            k, _, v = line.partition("=")
            d[k] = v
    return d


def write_if_changed(path, text):
    """Leaves an unchanged file alone, so that what depends on it is not rebuilt."""
    if os.path.exists(path) and open(path).read() == text:
        return
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("stage", choices=["header", "source"])
    ap.add_argument("--c-h", required=True, help="path of rocksdb/c.h")
    ap.add_argument("--outdir", required=True)
    ap.add_argument("--defaults", help="source: output of `capi_probe defaults` (real RocksDB)")
    ap.add_argument("--nm", default="nm")
    ap.add_argument("--hand-objects", nargs="*", default=[],
                    help="source: object files of the hand-written plugin/src/*.c")
    args = ap.parse_args()

    funcs, _ = parse_c_h(args.c_h)
    funcs_by_name.update({f.name: f for f in funcs})
    roles = classify(funcs)
    os.makedirs(args.outdir, exist_ok=True)

    if args.stage == "header":
        out = []
        emit_header(out)
        write_if_changed(os.path.join(args.outdir, "capi_objects.h"), "".join(out))
        out = []
        emit_probe(out, funcs, roles)
        write_if_changed(os.path.join(args.outdir, "capi_probe.c"), "".join(out))
        write_if_changed(os.path.join(args.outdir, "capi_names.txt"),
                         "".join(f.name + "\n" for f in funcs))
        return

    apply_defaults(read_defaults(args.defaults))
    hand = hand_defined(args.nm, args.hand_objects)
    for name in sorted(HAND_EXPECTED - hand):
        print("gen_capi.py: note: %s is not hand-written yet: generating a stub" % name)
    for name in sorted(hand - set(funcs_by_name)):
        print("gen_capi.py: note: hand-written %s is not declared in c.h" % name)
    out = []
    stubs = emit_source(out, funcs, roles, hand)
    # Always rewritten (not write_if_changed): the build's dependency on the hand objects
    # needs the outputs to be newer than them.
    with open(os.path.join(args.outdir, "capi_gen.c"), "w") as f:
        f.write("".join(out))
    with open(os.path.join(args.outdir, "capi_stubs.txt"), "w") as f:
        f.write("".join(n + "\n" for n in stubs))


if __name__ == "__main__":
    main()
