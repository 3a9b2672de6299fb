// protoot/detail/openmp.hpp — OpenMP directives that vanish cleanly without OpenMP.
//
// protoot's kernels are parallel when the user compiles with OpenMP (protoot::protoot links it
// by default) and serial otherwise. A bare `#pragma omp` in a header would warn in every
// -Wall build without -fopenmp; PROTOOT_OMP(directive) emits the pragma only under OpenMP.
#pragma once

#ifdef _OPENMP
#define PROTOOT_OMP(directive) _Pragma(PROTOOT_OMP_STRING(omp directive))
#define PROTOOT_OMP_STRING(text) #text
#else
#define PROTOOT_OMP(directive)
#endif
