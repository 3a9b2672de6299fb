// protoot/detail/eigen_pop.hpp — restores the warnings detail/eigen_push.hpp silenced.
// No include guard on purpose.
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif
