// protoot/detail/eigen_push.hpp — include before an Eigen header, with eigen_pop.hpp after it
// (as Eigen's own DisableStupidWarnings.h): silences, for Eigen's lines only, the warnings its
// code raises under strict flags (-Wconversion, -Wsign-conversion, -Wunused-variable in its
// bfloat16 packets) and GCC 12's -Wmaybe-uninitialized false positives in its AVX-512 packet
// code, so the includer's own warnings stay on. No effect when Eigen was included before protoot.
// No include guard on purpose.
#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wconversion"
#pragma GCC diagnostic ignored "-Wsign-conversion"
#pragma GCC diagnostic ignored "-Wunused-variable"
#if !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif
#endif
