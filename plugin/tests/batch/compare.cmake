# compare.cmake: runs wb_transcript against the real librocksdb and against ours with one seed
# and fails on the first line where the transcripts differ.
#
#   cmake -DREAL=<exe> -DOURS=<exe> -DSEED=<n|random> -DSTEPS=<n> -DOUTDIR=<dir> -P compare.cmake
#
# ALEXSTORAGE_SEED in the environment overrides SEED (replay of a printed seed). Both
# transcripts are kept in OUTDIR as transcript-<seed>-{real,ours}.txt.
if(DEFINED ENV{ALEXSTORAGE_SEED})
  set(SEED "$ENV{ALEXSTORAGE_SEED}")
elseif(SEED STREQUAL "random")
  string(RANDOM LENGTH 9 ALPHABET 0123456789 SEED)
  string(REGEX REPLACE "^0+" "" SEED "${SEED}")
  if(SEED STREQUAL "")
    set(SEED 1)
  endif()
endif()
message(STATUS "seed=${SEED} steps=${STEPS} (replay: ALEXSTORAGE_SEED=${SEED} ctest -R <test>)")

foreach(side real ours)
  if(side STREQUAL "real")
    set(exe "${REAL}")
  else()
    set(exe "${OURS}")
  endif()
  execute_process(COMMAND "${exe}" "${SEED}" "${STEPS}"
                  OUTPUT_FILE "${OUTDIR}/transcript-${SEED}-${side}.txt"
                  RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${side} transcript failed (${rc}), seed=${SEED}")
  endif()
endforeach()

execute_process(COMMAND ${CMAKE_COMMAND} -E compare_files
                        "${OUTDIR}/transcript-${SEED}-real.txt" "${OUTDIR}/transcript-${SEED}-ours.txt"
                RESULT_VARIABLE same)
file(STRINGS "${OUTDIR}/transcript-${SEED}-real.txt" real_tail REGEX "^done$")
if(same EQUAL 0 AND real_tail)
  message(STATUS "transcripts identical")
  return()
endif()

# They differ (or the real one is incomplete): find the first differing line.
file(STRINGS "${OUTDIR}/transcript-${SEED}-real.txt" real_lines)
file(STRINGS "${OUTDIR}/transcript-${SEED}-ours.txt" ours_lines)
list(LENGTH real_lines nreal)
list(LENGTH ours_lines nours)
if(nreal LESS 3 OR NOT real_lines MATCHES "done")
  message(FATAL_ERROR "real transcript incomplete (${nreal} lines), seed=${SEED}")
endif()
set(n ${nreal})
if(nours LESS n)
  set(n ${nours})
endif()
math(EXPR last "${n} - 1")
set(context "")
foreach(i RANGE ${last})
  list(GET real_lines ${i} a)
  list(GET ours_lines ${i} b)
  if(NOT a STREQUAL b)
    message(FATAL_ERROR "transcripts differ at line ${i}, seed=${SEED}\n"
            "context: ${context}\nreal: ${a}\nours: ${b}\n"
            "files: ${OUTDIR}/transcript-${SEED}-{real,ours}.txt")
  endif()
  if(NOT a MATCHES "^  ")
    set(context "${a}")
  endif()
endforeach()
if(NOT nreal EQUAL nours)
  message(FATAL_ERROR "transcripts differ in length (real ${nreal}, ours ${nours}), seed=${SEED}")
endif()
message(STATUS "${nreal} lines identical")
