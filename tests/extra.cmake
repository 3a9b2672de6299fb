# Tests that are more than one Catch2 source file. Included by tests/CMakeLists.txt.

# The README install (configure, install, nothing built) into a fresh prefix, then
# find_package(protoot) from a user's project: protoot::protoot, and protoot::cuda where the
# CUDA toolkit is found (compiled and linked; it runs only on a GPU).
set(protoot_consumer_options -DSOURCE_DIR=${PROJECT_SOURCE_DIR} -DWORK_DIR=${CMAKE_CURRENT_BINARY_DIR}/install_consumer)
if(PROTOOT_WITH_CUDA)
  string(REPLACE ";" "," protoot_cuda_archs "${CMAKE_CUDA_ARCHITECTURES}")  # a list cannot cross add_test
  list(APPEND protoot_consumer_options -DWITH_CUDA=ON -DCUDA_ARCHITECTURES=${protoot_cuda_archs}
       -DCUDA_COMPILER=${CMAKE_CUDA_COMPILER})
endif()
add_test(NAME install_consumer
  COMMAND ${CMAKE_COMMAND} ${protoot_consumer_options} -P ${CMAKE_CURRENT_SOURCE_DIR}/install_consumer.cmake)
set_tests_properties(install_consumer PROPERTIES LABELS "slow;install" TIMEOUT 600)

# Every ```cpp block of README.md and docs/*.md compiles and runs, so the docs cannot rot; and
# the headers compile warning-free under -Werror. Both are checks of the sources, not of the
# build type: a sanitizer build (scripts/test.sh's second stage) skips them.
if(NOT PROTOOT_SANITIZE)
  include(${CMAKE_CURRENT_LIST_DIR}/docs_snippets.cmake)
  include(${CMAKE_CURRENT_LIST_DIR}/warnings/warnings.cmake)
endif()
include(${CMAKE_CURRENT_LIST_DIR}/compare_harness.cmake)  # benchmarks/compare.py --quick

# protoot-retrieve and protoot-train-head end to end: need the example programs.
if(PROTOOT_BUILD_EXAMPLES)
  target_compile_definitions(test_retrieve_pipeline PRIVATE PROTOOT_RETRIEVE_PROGRAM="$<TARGET_FILE:retrieve>"
                                                            PROTOOT_TRAIN_HEAD_PROGRAM="$<TARGET_FILE:train_head>")
  add_dependencies(test_retrieve_pipeline retrieve train_head)
endif()
set_tests_properties(test_retrieve_pipeline PROPERTIES LABELS slow)
