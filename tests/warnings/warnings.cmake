# Header hygiene, label `warnings`: tests/warnings/instantiate_all.cpp (every CPU entry point,
# float and double, through protoot/protoot.hpp) compiles with -Werror under clang's conversion
# warnings and under GCC with -march=native -O2 -Wall -Wextra (where GCC 12 reports
# -Wmaybe-uninitialized false positives inside Eigen's AVX-512 code). Eigen is passed as a plain
# -I directory, not -isystem, so only protoot's own push/pop pragmas (detail/eigen_push.hpp) can
# keep Eigen's warnings out: the claim that including protoot adds no warning is what is checked.
get_target_property(protoot_eigen_dirs Eigen3::Eigen INTERFACE_INCLUDE_DIRECTORIES)
set(protoot_warning_flags -std=c++17 -Wall -Wextra -Werror -I${PROJECT_SOURCE_DIR}/include)
foreach(dir IN LISTS protoot_eigen_dirs)
  list(APPEND protoot_warning_flags -I${dir})
endforeach()
if(PROTOOT_USE_OPENMP)
  list(APPEND protoot_warning_flags -fopenmp)
endif()
set(protoot_warning_source ${CMAKE_CURRENT_LIST_DIR}/instantiate_all.cpp)

find_program(PROTOOT_CLANGXX NAMES clang++ clang++-18 clang++-17 clang++-16 clang++-15 clang++-14)
if(PROTOOT_CLANGXX)
  add_test(NAME warnings_clang
           COMMAND ${PROTOOT_CLANGXX} ${protoot_warning_flags} -Wconversion -Wsign-conversion -fsyntax-only
                   ${protoot_warning_source})
else()
  add_test(NAME warnings_clang COMMAND sh -c "echo 'clang++ not found: header warnings not checked with clang'; exit 77")
endif()

if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  add_test(NAME warnings_gcc
           COMMAND ${CMAKE_CXX_COMPILER} ${protoot_warning_flags} -O2 -march=native -c ${protoot_warning_source}
                   -o ${CMAKE_CURRENT_BINARY_DIR}/warnings_gcc.o)
  # The longest test (about 2 minutes): started first, so ctest -j overlaps it with the rest.
  set_tests_properties(warnings_gcc PROPERTIES LABELS warnings TIMEOUT 600 COST 1000)
endif()
set_tests_properties(warnings_clang PROPERTIES LABELS warnings SKIP_RETURN_CODE 77 TIMEOUT 300)
