# benchmarks/compare.py --quick on the benchmark executables of this build: the comparison
# harness runs end to end (inputs, protoot benchmarks, POT/sklearn/faiss peers, table, SVG) and
# every benchmark it selects still exists. Included by tests/extra.cmake.
if(PROTOOT_BUILD_BENCHMARKS AND EXISTS ${PROTOOT_REFERENCE_PYTHON})
  add_test(NAME compare_harness_quick
    COMMAND ${PROTOOT_REFERENCE_PYTHON} ${PROJECT_SOURCE_DIR}/benchmarks/compare.py --quick --no-build --strict
            --build-dir ${PROJECT_BINARY_DIR} --min-time 0.02 --out ${CMAKE_CURRENT_BINARY_DIR}/compare_quick)
  set_tests_properties(compare_harness_quick PROPERTIES LABELS slow TIMEOUT 120)
endif()
