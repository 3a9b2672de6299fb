# Tests that are more than one Catch2 source file. Included by tests/CMakeLists.txt.

# find_package(protoot) against an installed copy, as a user's project would.
add_test(NAME install_consumer
  COMMAND ${CMAKE_COMMAND} -DSOURCE_DIR=${PROJECT_SOURCE_DIR} -DBINARY_DIR=${PROJECT_BINARY_DIR}
          -DWORK_DIR=${CMAKE_CURRENT_BINARY_DIR}/install_consumer -P ${CMAKE_CURRENT_SOURCE_DIR}/install_consumer.cmake)
set_tests_properties(install_consumer PROPERTIES LABELS slow)

# Every ```cpp block of README.md and docs/*.md compiles and runs, so the docs cannot rot.
include(${CMAKE_CURRENT_LIST_DIR}/docs_snippets.cmake)
include(${CMAKE_CURRENT_LIST_DIR}/compare_harness.cmake)  # benchmarks/compare.py --quick
include(${CMAKE_CURRENT_LIST_DIR}/warnings/warnings.cmake)  # headers compile warning-free, -Werror

# protoot-retrieve and protoot-train-head end to end: need the example programs.
if(PROTOOT_BUILD_EXAMPLES)
  target_compile_definitions(test_retrieve_pipeline PRIVATE PROTOOT_RETRIEVE_PROGRAM="$<TARGET_FILE:retrieve>"
                                                            PROTOOT_TRAIN_HEAD_PROGRAM="$<TARGET_FILE:train_head>")
  add_dependencies(test_retrieve_pipeline retrieve train_head)
endif()
set_tests_properties(test_retrieve_pipeline PROPERTIES LABELS slow)
