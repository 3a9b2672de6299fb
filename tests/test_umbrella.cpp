// protoot/protoot.hpp alone must give the whole CPU API: one call of each family through the
// umbrella header, with no other protoot include in this file.
#include <protoot/protoot.hpp>

#include <limits>

#include <catch2/catch.hpp>

TEST_CASE("the umbrella header exposes every CPU entry point", "[umbrella]") {
  protoot::TwoDomainOptions data_options;
  data_options.classes = 3;
  data_options.dim = 4;
  data_options.samples_a = data_options.samples_b = 30;
  const auto data = protoot::make_two_domain<double>(data_options);

  protoot::SinkhornOptions<double> sinkhorn_options;
  sinkhorn_options.epsilon = 0.1;
  const Eigen::VectorXd a = Eigen::VectorXd::Constant(30, 1.0 / 30);
  const protoot::Matrix<double> C = protoot::prototype_cost(data.a, data.b);
  const auto plan = protoot::sinkhorn(C, a, a, sinkhorn_options);
  CHECK(plan.status == protoot::SolverStatus::converged);
  CHECK(protoot::sinkhorn_batch(C, {a}, {a}, sinkhorn_options).size() == 1);

  const auto clusters = protoot::kmeans(data.a, 3);
  CHECK(clusters.centroids.rows() == 3);
  const auto targets = protoot::prototype_sinkhorn(data.a, clusters.centroids, clusters.proportions, sinkhorn_options);
  CHECK(targets.labels.size() == 30);

  const auto top = protoot::cosine_topk(data.a, data.b, 2);
  CHECK(top.indices.cols() == 2);
  const auto scores = protoot::evaluate_retrieval(data.a, data.labels_a, data.b, data.labels_b, {1});
  CHECK(scores.precision.size() == 1);
  CHECK(std::isfinite(protoot::info_nce_two_views(data.a, data.b, 0.5)));
  CHECK(protoot::assign_to_nearest_prototype(data.b, clusters.centroids).size() == 30);
  CHECK(protoot::l2_normalise_rows(data.a).rows() == 30);
  CHECK(protoot::io::NpyDtype::float64 != protoot::io::NpyDtype::float32);
}
