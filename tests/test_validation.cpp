#include <catch2/catch.hpp>

#include "protoot/detail/validation.hpp"
#include "protoot/types.hpp"

using namespace protoot;

TEST_CASE("distribution checks name the problem", "[validation]") {
  Vector<double> w(3);
  w << 0.2, 0.3, 0.5;
  REQUIRE_NOTHROW(detail::require_distribution(w, "f", "w"));
  w(0) = -0.2;
  REQUIRE_THROWS_WITH(detail::require_distribution(w, "f", "w"), "protoot::f: w has negative entries");
  w << 0.2, 0.3, 0.6;
  REQUIRE_THROWS_WITH(detail::require_distribution(w, "f", "w"), Catch::Contains("must sum to 1"));
  w(1) = std::numeric_limits<double>::quiet_NaN();
  REQUIRE_THROWS_WITH(detail::require_distribution(w, "f", "w"), Catch::Contains("NaN or Inf"));
  REQUIRE_THROWS_AS(detail::require_positive(0.0, "f", "epsilon"), std::invalid_argument);
  REQUIRE_THROWS_AS(detail::require_nonempty(Vector<double>(), "f", "w"), std::invalid_argument);
}
