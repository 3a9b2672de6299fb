# protoot-retrieve-mpi end to end: the generated pair on 1 and 4 ranks must give the same
# results.csv with the 8 'raw' rows (P@1, P@5, P@15, mAP in both directions).
# Inputs: MPIEXEC, NUMPROC_FLAG, EXTRA_FLAGS (e.g. --oversubscribe), PROGRAM, WORK_DIR.
file(REMOVE_RECURSE ${WORK_DIR})
foreach(ranks 1 4)
  execute_process(COMMAND ${MPIEXEC} ${NUMPROC_FLAG} ${ranks} ${EXTRA_FLAGS} ${PROGRAM} --out ${WORK_DIR}/n${ranks}
                  RESULT_VARIABLE status OUTPUT_VARIABLE output ERROR_VARIABLE output)
  if(NOT status EQUAL 0)
    message(FATAL_ERROR "protoot-retrieve-mpi on ${ranks} ranks failed (${status}):\n${output}")
  endif()
  file(STRINGS ${WORK_DIR}/n${ranks}/results.csv rows_${ranks})
endforeach()
list(LENGTH rows_1 count)
if(NOT count EQUAL 11 OR NOT "${rows_1}" MATCHES "raw,B->A,mAP,[0-9]")
  message(FATAL_ERROR "unexpected results.csv on 1 rank:\n${rows_1}")
endif()
if(NOT "${rows_1}" STREQUAL "${rows_4}")
  message(FATAL_ERROR "results.csv differs between 1 and 4 ranks:\n${rows_1}\n---\n${rows_4}")
endif()
