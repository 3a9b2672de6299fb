// Compiled (not run) by the `warnings` tests under strict flags with -Werror: every CPU entry
// point, instantiated for float and double through the umbrella header, must compile without a
// warning. Eigen's own false positives are silenced inside protoot's headers (push/pop), never
// in the includer's code.
#include <protoot/protoot.hpp>

namespace {

template <class S>
S use_everything() {
  using protoot::Index;
  using protoot::Matrix;
  using protoot::Vector;
  const Matrix<S> X = Matrix<S>::Random(64, 8), Y = Matrix<S>::Random(48, 8);
  const Vector<S> a = Vector<S>::Constant(64, S(1) / S(64)), b = Vector<S>::Constant(48, S(1) / S(48));
  const Eigen::Map<const Matrix<S>> mapped(X.data(), X.rows(), X.cols());

  protoot::SinkhornOptions<S> options;
  options.epsilon = S(0.1);
  const Matrix<S> C = protoot::sqeuclidean_cost(X, Y);
  S total = protoot::sinkhorn(C, a, b, options).transport_cost;
  total += protoot::sinkhorn_unbalanced(protoot::cosine_cost(X, Y), a, b, S(1), S(1), options).transport_cost;
  total += protoot::sinkhorn_cost(C, a, b, options).transport_cost;
  total += protoot::sinkhorn_batch(std::vector<Matrix<S>>{C}, {a}, {b}, options).front().transport_cost;
  total += protoot::sinkhorn_unbalanced_batch(std::vector<Eigen::Map<const Matrix<S>>>{Eigen::Map<const Matrix<S>>(C.data(), C.rows(), C.cols())},
                                              {a}, {b}, S(1), S(1), options).front().transport_cost;

  const auto clusters = protoot::kmeans(mapped, 4);
  const auto targets = protoot::prototype_sinkhorn(X, clusters.centroids, clusters.proportions, options);
  total += protoot::prototype_sinkhorn_released(X, clusters.centroids, clusters.proportions).transport_cost;
  protoot::PrototypeTargetsOptions<S> target_options;
  target_options.k = 4;
  total += protoot::prototype_targets(X, Y, target_options).aa.transport_cost;
  total += protoot::plan_weighted_prototypes(targets.plan, X, clusters.centroids).sum();

  const auto top = protoot::cosine_topk(X, Y, 3);
  total += top.scores.sum() + protoot::inner_product_topk(mapped, Y, 2).scores.sum();
  const protoot::IndexVector labels_x = protoot::IndexVector::Zero(64), labels_y = protoot::IndexVector::Zero(48);
  total += S(protoot::evaluate_retrieval(X, labels_x, Y, labels_y, {1, 5}).mean_average_precision);
  total += S(protoot::cross_domain_scores(X, labels_x, Y, labels_y, {1}).size());
  total += S(protoot::precision_at_k(top.indices, labels_x, labels_y, 3));

  protoot::InfoNceGradients<S> info_grad;
  protoot::InfoNceLogitGradients<S> logit_grad;
  protoot::PrototypeGradients<S> proto_grad;
  protoot::TwoViewGradients<S> two_view_grad;
  const Matrix<S> Z = protoot::l2_normalise_rows(X);
  total += protoot::info_nce(Z, Z, Y, S(0.1), nullptr, &info_grad);
  total += protoot::info_nce_logits(Vector<S>(Z.col(0)), Y, S(0.1), nullptr, &logit_grad);
  total += protoot::info_nce_two_views(Z, Z, S(0.1), &two_view_grad);
  total += protoot::prototype_contrast(Z, clusters.centroids, clusters.labels, S(0.1), &proto_grad);
  total += protoot::prototype_contrast_soft(Z, clusters.centroids, targets.assignments, S(0.1), &proto_grad);
  total += protoot::ot_target_loss(Z, clusters.centroids, targets.plan, S(0.1), &proto_grad);
  total += protoot::neighbour_contrast(Z, Y, 2, S(0.1), nullptr, &proto_grad);
  Vector<S> norms;
  const Matrix<S> unit = protoot::l2_normalise_rows(X, &norms);
  total += protoot::l2_normalise_rows_backward(unit, norms, X).sum();

  total += protoot::apply_affine(protoot::coral(X, Y), X).sum();
  protoot::SinkhornTransportOptions<S> transport;
  transport.sinkhorn.epsilon = S(0.1);
  total += protoot::sinkhorn_transport(X, Y, transport).transport_cost;
  total += S(protoot::assign_to_nearest_prototype(X, clusters.centroids).sum());
  total += protoot::match_prototypes(clusters.centroids, clusters.proportions, clusters.centroids, clusters.proportions).cost;

  protoot::TwoDomainOptions data;
  total += protoot::make_two_domain<S>(data).a.sum();
  protoot::io::write_npy("unused.npy", X);
  total += protoot::io::read_npy<S>("unused.npy").sum();
  total += S(protoot::io::read_npy_labels("unused.npy").size());
  return total;
}

}  // namespace

int main() { return use_everything<float>() + use_everything<double>() > 0 ? 0 : 1; }
