# CTest script: the README install, from a clean source configure with nothing built, then a
# user's project against the installed package. Arguments: -DSOURCE_DIR -DWORK_DIR, optional
# -DWITH_CUDA=ON (also build tests/consumer's CUDA program: compile and link only, no GPU needed)
# with -DCUDA_ARCHITECTURES (comma-separated) and -DCUDA_COMPILER.
file(REMOVE_RECURSE ${WORK_DIR})
function(run_step)
  string(TIMESTAMP start "%s")
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  string(TIMESTAMP stop "%s")
  math(EXPR seconds "${stop} - ${start}")
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "step failed (${rc}): ${ARGN}\n${out}")
  endif()
  message("${out}\n-- ${seconds} s: ${ARGN}\n")
endfunction()
# README: cmake -S . -B build && cmake --install build --prefix P
run_step(${CMAKE_COMMAND} -S ${SOURCE_DIR} -B ${WORK_DIR}/protoot-build)
run_step(${CMAKE_COMMAND} --install ${WORK_DIR}/protoot-build --prefix ${WORK_DIR}/prefix)
file(GLOB_RECURSE programs ${WORK_DIR}/prefix/bin/*)
if(programs)
  message(FATAL_ERROR "the default install copied programs: ${programs}")
endif()

set(consumer_options -DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix -DCMAKE_BUILD_TYPE=Release)
if(WITH_CUDA)  # the build's own architectures, through a cache file: a list cannot be one argument
  string(REPLACE "," ";" architectures "${CUDA_ARCHITECTURES}")
  file(WRITE ${WORK_DIR}/cuda.cmake "set(CMAKE_CUDA_ARCHITECTURES \"${architectures}\" CACHE STRING \"\")\n"
                                    "set(CMAKE_CUDA_COMPILER \"${CUDA_COMPILER}\" CACHE FILEPATH \"\")\n")
  list(APPEND consumer_options -DCONSUMER_CUDA=ON -C ${WORK_DIR}/cuda.cmake)
endif()
run_step(${CMAKE_COMMAND} -S ${SOURCE_DIR}/tests/consumer -B ${WORK_DIR}/consumer-build ${consumer_options})
run_step(${CMAKE_COMMAND} --build ${WORK_DIR}/consumer-build)
run_step(${WORK_DIR}/consumer-build/consumer)
