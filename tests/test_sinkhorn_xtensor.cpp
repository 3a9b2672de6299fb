// protoot/xtensor.hpp: xtensor arrays in, xtensor plan out, same answer as the Eigen path.
#include <catch2/catch.hpp>

#include <xtensor/xarray.hpp>
#include <xtensor/xtensor.hpp>
#include <xtensor/xview.hpp>
#include <xtensor/xbuilder.hpp>

#include "protoot/sinkhorn.hpp"
#include "protoot/xtensor.hpp"
#include "support/sinkhorn_problems.hpp"

using namespace protoot;

TEST_CASE("xtensor arrays solve the same problem as Eigen matrices", "[sinkhorn][xtensor]") {
  const auto p = test::random_ot_problem(7, 5, 3);
  auto C = xt::xtensor<double, 2>::from_shape({7, 5});
  xt::xarray<double> a = xt::zeros<double>({7});
  auto b = xt::xtensor<double, 1>::from_shape({5});
  for (Index i = 0; i < 7; ++i) {
    a(i) = p.a[i];
    for (Index j = 0; j < 5; ++j) C(i, j) = p.C(i, j);
  }
  for (Index j = 0; j < 5; ++j) b(j) = p.b[j];

  SinkhornOptions<double> options;
  options.epsilon = 0.05;
  const auto from_xtensor = sinkhorn(as_matrix(C), as_vector(a), as_vector(b), options);
  const auto from_eigen = sinkhorn(p.C, p.a, p.b, options);
  CHECK(from_xtensor.plan == from_eigen.plan);

  const xt::xtensor<double, 2> plan = to_xtensor(from_xtensor.plan);
  REQUIRE(plan.shape()[0] == 7);
  REQUIRE(plan.shape()[1] == 5);
  CHECK(plan(6, 4) == from_eigen.plan(6, 4));
  CHECK(plan(2, 1) == from_eigen.plan(2, 1));

  CHECK_THROWS_WITH(as_matrix(a), Catch::Contains("protoot::as_matrix: expects a 2-D array"));
  CHECK_THROWS_WITH(as_vector(C), Catch::Contains("protoot::as_vector: expects a 1-D array"));
  const xt::xarray<double, xt::layout_type::column_major> column_major = xt::zeros<double>({2, 2});
  CHECK_THROWS_WITH(as_matrix(column_major), Catch::Contains("row-major"));
}

TEST_CASE("as_matrix and as_vector take containers only, never views", "[xtensor][hostile]") {
  // A view's data() is its parent's buffer without offset or strides: mapping it returned rows
  // 0-1 for xt::view(A, range(2, 4), all()). Views must not compile; containers still do.
  xt::xtensor<double, 2> A = xt::zeros<double>({4, 3});
  xt::xtensor<double, 1> v = xt::zeros<double>({3});
  auto rows = xt::view(A, xt::range(2, 4), xt::all());
  auto column = xt::view(A, xt::all(), 1);
  STATIC_REQUIRE_FALSE(detail::is_xtensor_container_v<decltype(rows)>);
  STATIC_REQUIRE_FALSE(detail::is_xtensor_container_v<decltype(column)>);
  STATIC_REQUIRE_FALSE(detail::is_xtensor_container_v<decltype(A + A)>);
  STATIC_REQUIRE(detail::is_xtensor_container_v<decltype(A)>);
  STATIC_REQUIRE(detail::is_xtensor_container_v<xt::xarray<float>>);
  STATIC_REQUIRE(detail::is_xtensor_container_v<decltype(v)>);
  // The documented route for a view: evaluate it, then map the copy.
  A(2, 0) = 7;
  const xt::xtensor<double, 2> evaluated = xt::eval(rows);
  CHECK(as_matrix(evaluated)(0, 0) == 7);
}
