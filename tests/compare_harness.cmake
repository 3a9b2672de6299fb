# benchmarks/compare.py --quick on the benchmark executables of this build: the comparison
# harness runs end to end (inputs, protoot benchmarks, POT/sklearn/faiss peers, table, SVG) and
# every benchmark it selects still exists. Included by tests/extra.cmake.
if(PROTOOT_BUILD_BENCHMARKS AND NOT PROTOOT_PEERS_FOUND)
  add_test(NAME compare_harness_quick COMMAND sh -c
           "echo 'SKIPPED: ${PROTOOT_REFERENCE_PYTHON} lacks numpy, POT, scikit-learn or faiss (-DPROTOOT_REFERENCE_PYTHON=...)'; exit 77")
  set_tests_properties(compare_harness_quick PROPERTIES SKIP_RETURN_CODE 77 LABELS "slow;peers")
elseif(PROTOOT_BUILD_BENCHMARKS)
  add_test(NAME compare_harness_quick
    COMMAND ${PROTOOT_REFERENCE_PYTHON} ${PROJECT_SOURCE_DIR}/benchmarks/compare.py --quick --no-build --strict
            --build-dir ${PROJECT_BINARY_DIR} --min-time 0.02 --out ${CMAKE_CURRENT_BINARY_DIR}/compare_quick)
  set_tests_properties(compare_harness_quick PROPERTIES LABELS "slow;peers" TIMEOUT 120)
  add_test(NAME compare_harness_out_of_core_quick
    COMMAND ${PROTOOT_REFERENCE_PYTHON} ${PROJECT_SOURCE_DIR}/benchmarks/compare.py --out-of-core --quick --no-build
            --build-dir ${PROJECT_BINARY_DIR} --min-time 0.02 --out ${CMAKE_CURRENT_BINARY_DIR}/compare_quick)
  set_tests_properties(compare_harness_out_of_core_quick PROPERTIES LABELS "slow;peers" TIMEOUT 120
                       FAIL_REGULAR_EXPRESSION "\\*\\*no\\*\\*")
endif()
