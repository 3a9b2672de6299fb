// examples/head/protoot_trainer.hpp — ProtoOT training of the MLP head on precomputed features
// of two unlabeled domains (../shared/docs/METHOD.md, "protoot's feature-level adaptation").
//
// One step, for each domain D: two feature-space views of a batch (input dropout + Gaussian
// noise), the query view through the head, the key view through its momentum (EMA) copy; the
// nearest other sample of D's memory bank; the OT-matched prototypes of D (in-domain) and of the
// other domain (cross-domain); InfoNCE losses with the unmatched prototypes as negatives; the keys
// then replace the batch's bank rows. Prototypes come from K-means on each bank once per epoch,
// warm-started from the previous epoch's prototypes so that prototype j stays prototype j and its
// proportion pi_j (the OT marginal) is its own cluster's share, never another cluster's.
// Opt-in, as the released code: the prototypes also follow the in-domain OT plan after every batch
// (PrototypeUpdate::ot_per_batch), and the cross-domain negatives are row-normalised similarities.
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <limits>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include <Eigen/Core>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "mlp.hpp"
#include "optimizer.hpp"
#include "protoot/contrastive.hpp"
#include "protoot/kmeans.hpp"
#include "protoot/l2_normalize.hpp"
#include "protoot/prototype_sinkhorn.hpp"
#include "protoot/types.hpp"
#include "protoot/validation.hpp"

namespace protoot::examples {

/// The two in-domain loss forms of the released code (METHOD.md section 3).
enum class LossForm {
  separate_terms,  ///< newest snapshot: three InfoNCE terms (augmentation, neighbour, prototype)
  folded_positive, ///< one commit: one InfoNCE with positive q.(k + 0.5 nn + 0.05 c_match)
};

/// How the prototypes move during training (METHOD.md sections 2 and 4).
enum class PrototypeUpdate {
  kmeans_per_epoch,  ///< warm-started K-means on each bank once per epoch only
  ot_per_batch,      ///< released code: that, plus C = L2-normalise(Q^T bank) after every batch
};

struct TrainConfig {
  int epochs = 30;
  unsigned seed = 0;
  /// K, prototypes per domain (METHOD.md: the number of categories).
  int num_prototypes = 10;
  /// Prototype-side OT marginal: the K-means proportions pi^D (true) or uniform 1/K (false,
  /// SwAV's equipartition). Only the marginal changes.
  bool kmeans_marginals = true;
  /// In-domain OT: each sample's in-domain prototype is the argmax of the OT plan and the loss
  /// pulls it there. false: no in-domain OT and no pull term; the in-domain negatives (the
  /// unmatched prototypes) exclude the nearest prototype instead. The instance and neighbour terms
  /// are unchanged.
  bool intra_domain = true;
  /// Cross-domain OT: the cross-domain InfoNCE towards the other domain's OT-matched prototype.
  /// false: no cross-domain OT and no cross-domain term; nothing else changes.
  bool cross_domain = true;
  /// ot_per_batch also refreshes a domain's prototypes after each batch from its in-domain OT plan
  /// Q over the bank (solved even when intra_domain is false), and re-derives their proportions
  /// from their own assignment of the bank, so the OT marginal always belongs to these prototypes.
  PrototypeUpdate prototype_update = PrototypeUpdate::kmeans_per_epoch;
  /// Cross-domain negatives from the L2-normalised row of similarities q.C'^T (released code);
  /// the positive stays the raw q.c'.
  bool normalise_cross_similarities = false;
  bool verbose = false;  ///< print format_epoch() of every epoch to stdout

  // Head: in -> hidden -> out, L2-normalised.
  int hidden_dim = 512;
  int output_dim = 128;
  Activation activation = Activation::relu;

  // Optimisation (METHOD.md: Adam with AMSGrad, lr 2.5e-4 to 1e-3, weight decay 5e-4, batch 64).
  int batch_size = 64;
  double learning_rate = 1e-3;
  bool cosine_schedule = true;
  OptimizerConfig optimizer = {};
  /// EMA rate of the momentum encoder (0.999 in the released image runs, which take far more
  /// steps than a feature-level run).
  double ema_momentum = 0.99;

  // Feature-space augmentation of each view.
  double input_dropout = 0.1;  ///< probability of zeroing an input feature (survivors scaled by 1/(1-p))
  double noise_std = 0.1;      ///< Gaussian noise, in units of each input feature's standard deviation

  // Losses (METHOD.md sections 3 and "feature-level adaptation").
  LossForm loss_form = LossForm::separate_terms;
  double temperature = 0.2;
  double weight_instance = 1.0;
  double weight_neighbour = 0.5;
  double weight_prototype = 0.1;         ///< separate_terms form
  double weight_prototype_folded = 0.05; ///< folded_positive form
  double cross_weight = 0.01;
  double cross_start = 0.5;  ///< fraction of the epochs after which the cross-domain term is on

  // OT (prototype_sinkhorn.hpp). Default: the released code's recipe, 3 scaling iterations
  // on row-normalised similarities; ot_iterations = 0 solves to convergence (log domain) instead.
  double ot_epsilon = 0.05;
  int ot_iterations = 3;
  /// KL weight of the prototype marginal in the cross-domain problems (the other domain's
  /// proportions are only an estimate for this one); +infinity = hard, as the released code.
  double cross_rho = std::numeric_limits<double>::infinity();

  // K-means on the memory banks.
  int kmeans_iterations = 50;
  int kmeans_restarts = 20;  ///< first epoch only; later epochs are warm-started
};

/// One line of the training log, averaged over the epoch's steps.
struct EpochLog {
  int epoch = 0;                        ///< 0-based
  double loss = 0;                      ///< total weighted loss
  double intra_a = 0, intra_b = 0;      ///< in-domain loss of each domain (all its terms, weighted)
  double cross_a = 0, cross_b = 0;      ///< cross-domain InfoNCE of each domain (unweighted)
  double cross_weight = 0;              ///< weight the cross terms had this epoch
  double marginal_error = 0;            ///< mean L1 marginal violation of the OT plans solved
  double seconds = 0;
};

/// The progress line train_protoot_head prints per epoch when TrainConfig::verbose is set.
inline std::string format_epoch(const EpochLog& e, int epochs) {
  char line[256];
  std::snprintf(line, sizeof line,
                "epoch %3d/%d  loss %.4f  in-domain A %.4f B %.4f  cross A %.4f B %.4f (weight %.2f)"
                "  OT marginal error %.2e  %.2f s",
                e.epoch + 1, epochs, e.loss, e.intra_a, e.intra_b, e.cross_a, e.cross_b, e.cross_weight,
                e.marginal_error, e.seconds);
  return line;
}

template <class S>
struct TrainResult {
  Matrix<S> features_a, features_b;  ///< projected, L2-normalised (n_a x output_dim, n_b x output_dim)
  std::vector<EpochLog> log;
};

namespace detail {

/// Per-domain training state: inputs, their feature scales, the memory bank and the prototypes.
template <class S>
struct DomainState {
  const Matrix<S>* inputs;
  Vector<S> feature_std;
  Matrix<S> bank;             // n x out, momentum features
  Matrix<S> prototypes;       // K x out, unit rows
  Vector<S> proportions;      // K, K-means shares of the current prototypes
  std::vector<Index> order;   // epoch permutation
  std::size_t cursor = 0;
};

/// The next `batch` indices of the domain's permutation, reshuffled when exhausted.
template <class S>
IndexVector next_batch(DomainState<S>& d, Index batch, std::mt19937& rng) {
  IndexVector idx(batch);
  for (Index i = 0; i < batch; ++i) {
    if (d.cursor == d.order.size()) {
      std::shuffle(d.order.begin(), d.order.end(), rng);
      d.cursor = 0;
    }
    idx(i) = d.order[d.cursor++];
  }
  return idx;
}

/// A feature-space view: dropout on the inputs plus Gaussian noise scaled per feature.
template <class S>
Matrix<S> augment(const Matrix<S>& x, const Vector<S>& feature_std, const TrainConfig& c, std::mt19937& rng) {
  std::bernoulli_distribution keep(1.0 - c.input_dropout);
  std::normal_distribution<double> normal(0.0, c.noise_std);
  const S scale = S(1.0 / (1.0 - c.input_dropout));
  Matrix<S> v(x.rows(), x.cols());
  for (Index i = 0; i < x.rows(); ++i)
    for (Index j = 0; j < x.cols(); ++j)
      v(i, j) = (keep(rng) ? x(i, j) * scale : S(0)) + S(normal(rng)) * feature_std(j);
  return v;
}

/// K-means on a bank: seeded restarts the first time, then warm-started from the prototypes.
template <class S>
void refresh_prototypes(DomainState<S>& d, const TrainConfig& c) {
  KMeansOptions<S> o;
  o.spherical = true;  // banks are unit rows and every similarity here is a cosine
  o.seed = c.seed;
  o.max_iterations = c.kmeans_iterations;
  o.n_init = c.kmeans_restarts;
  o.initial_centroids = d.prototypes;  // empty on the first epoch
  KMeansResult<S> km = kmeans(d.bank, c.num_prototypes, o);
  d.prototypes = std::move(km.centroids);
  d.proportions = std::move(km.proportions);
}

/// The released code's per-batch prototype step: prototypes <- L2-normalise(plan^T bank) (plan:
/// n x K over the n x o bank; a prototype the plan gives no mass keeps its direction), then
/// proportions <- each prototype's share of the bank under nearest-prototype assignment (kmeans
/// with max_iterations = 0), so they stay a distribution matched to these prototypes. O(n K o).
template <class S>
void update_prototypes_from_plan(DomainState<S>& d, const Matrix<S>& plan) {
  Matrix<S> means = plan.transpose() * d.bank;
  for (Index j = 0; j < means.rows(); ++j)
    if (!(means.row(j).norm() > S(0))) means.row(j) = d.prototypes.row(j);
  d.prototypes = l2_normalize_rows(means);
  KMeansOptions<S> o;
  o.spherical = true;
  o.max_iterations = 0;
  o.initial_centroids = d.prototypes;
  d.proportions = kmeans(d.bank, d.prototypes.rows(), o).proportions;
}

/// The OT plan of a bank (n x o) onto prototypes (K x o) with prototype marginal `marginal` (K):
/// the released fixed-iteration recipe, or a converged log-domain solve (ot_iterations = 0).
template <class S>
PrototypeSinkhornResult<S> solve_ot(const Matrix<S>& bank, const Matrix<S>& prototypes, const Vector<S>& marginal,
                                    S rho, const TrainConfig& c) {
  if (c.ot_iterations > 0) {
    SinkhornOptions<S> o = released_prototype_sinkhorn_options<S>();
    o.epsilon = S(c.ot_epsilon);
    o.max_iterations = c.ot_iterations;
    return prototype_sinkhorn_cost(prototype_cost(bank, prototypes, true), marginal, o, rho);
  }
  SinkhornOptions<S> o;
  o.epsilon = S(c.ot_epsilon);
  o.tolerance = S(1e-6);
  return prototype_sinkhorn(bank, prototypes, marginal, o, rho);
}

/// Each row of x (n x o) assigned to its most similar prototype (K x o). O(n K o).
template <class S>
IndexVector nearest_prototype(const Matrix<S>& x, const Matrix<S>& prototypes) {
  const Matrix<S> similarity = x * prototypes.transpose();
  IndexVector labels(x.rows());
  for (Index i = 0; i < x.rows(); ++i) similarity.row(i).maxCoeff(&labels(i));
  return labels;
}

/// Cross-domain InfoNCE with the released code's negatives: positive q_i.c'_match(i), negatives
/// the unmatched entries of the L2-normalised row q_i C'^T (q: n x o, prototypes: K x o).
/// Accumulates the gradient w.r.t. q into `grad_q`; returns the loss. O(n K o).
template <class S>
double add_normalised_cross_info_nce(const Matrix<S>& q, const Matrix<S>& prototypes, const IndexVector& match, S tau,
                                     Matrix<S>& grad_q) {
  const Matrix<S> similarity = q * prototypes.transpose();
  Vector<S> norms;
  const Matrix<S> normalised = l2_normalize_rows(similarity, &norms);
  Vector<S> positive(q.rows());
  for (Index i = 0; i < q.rows(); ++i) positive(i) = similarity(i, match(i));
  InfoNceLogitGradients<S> g;
  const S loss = info_nce_logits(positive, normalised, tau, &match, &g);
  Matrix<S> grad_similarity = l2_normalize_rows_backward(normalised, norms, g.negatives);
  for (Index i = 0; i < q.rows(); ++i) grad_similarity(i, match(i)) += g.positive(i);
  grad_q += grad_similarity * prototypes;
  return double(loss);
}

/// Accumulates w * (gradient w.r.t. the queries) of one loss term into `grad_q`; returns w * loss.
template <class S>
double add_info_nce(const Matrix<S>& q, const Matrix<S>& positives, const Matrix<S>& negatives, S tau,
                    const IndexVector& excluded, double weight, Matrix<S>& grad_q) {
  if (weight == 0) return 0;
  InfoNceGradients<S> g;
  const S loss = info_nce(q, positives, negatives, tau, &excluded, &g);
  grad_q += S(weight) * g.queries;
  return weight * double(loss);
}

}  // namespace detail

/// Trains the ProtoOT head on features A (n_a x d) and B (n_b x d) and returns both domains
/// projected by the trained head, with one EpochLog per epoch (also passed to `on_epoch`, after
/// the verbose line).
/// Requires n_a, n_b >= max(num_prototypes, 2), finite inputs without all-zero rows, epochs >= 1,
/// batch_size >= 1, temperature, ot_epsilon > 0, 0 <= input_dropout < 1. Deterministic for a given seed.
/// Cost per epoch: O((n_a + n_b) (d h + h o)) for the head, O((n_a + n_b) (K + batch) o) for
/// the losses and OT per step batch, plus K-means.
template <class S>
TrainResult<S> train_protoot_head(const Matrix<S>& A, const Matrix<S>& B, const TrainConfig& config,
                                  std::function<void(const EpochLog&)> on_epoch = {}) {
  constexpr const char* where = "train_protoot_head";
  protoot::detail::require_nonempty(A, where, "A");
  protoot::detail::require_nonempty(B, where, "B");
  protoot::detail::require_size(B.cols(), A.cols(), where, "B columns (feature dimension of A)");
  protoot::detail::require_finite(A, where, "A");
  protoot::detail::require_finite(B, where, "B");
  // The head's biases start at zero, so an all-zero input maps to the zero vector, which has no
  // direction to L2-normalise: say so here rather than fail inside the first forward pass.
  const auto require_no_zero_row = [&](const Matrix<S>& X, const char* name) {
    Index row;
    if (X.rowwise().squaredNorm().minCoeff(&row) == S(0))
      protoot::detail::fail(where, std::string(name) + " row " + std::to_string(row) + " is all zeros");
  };
  require_no_zero_row(A, "A");
  require_no_zero_row(B, "B");
  const Index k = config.num_prototypes;
  protoot::detail::require(k >= 2 && A.rows() >= k && B.rows() >= k, where,
                           "need num_prototypes >= 2 and at least num_prototypes samples per domain (got " +
                               std::to_string(k) + " prototypes, " + std::to_string(A.rows()) + " and " +
                               std::to_string(B.rows()) + " samples)");
  protoot::detail::require(config.epochs >= 1 && config.batch_size >= 1, where, "epochs and batch_size must be >= 1");
  protoot::detail::require(config.hidden_dim >= 1 && config.output_dim >= 1, where, "layer sizes must be >= 1");
  protoot::detail::require(config.input_dropout >= 0 && config.input_dropout < 1 && config.noise_std >= 0, where,
                           "need 0 <= input_dropout < 1 and noise_std >= 0");
  protoot::detail::require(config.ema_momentum >= 0 && config.ema_momentum <= 1, where, "ema_momentum must be in [0, 1]");
  protoot::detail::require_positive(config.temperature, where, "temperature");
  protoot::detail::require_positive(config.ot_epsilon, where, "ot_epsilon");
  protoot::detail::require(config.ot_iterations >= 0, where, "ot_iterations must be >= 0");
  protoot::detail::require(config.cross_rho > 0, where, "cross_rho must be > 0");

  // Every product and OT/K-means call here is batch- or bank-sized: OpenMP teams (Eigen's GEMM
  // and protoot's kernels) spend more on synchronisation than they save (30x more on a loaded
  // 2-core machine), so training runs on one thread and restores the caller's settings on exit.
  struct SingleThreaded {
    int saved_eigen = Eigen::nbThreads();
#ifdef _OPENMP
    int saved_openmp = omp_get_max_threads();
    SingleThreaded() { Eigen::setNbThreads(1); omp_set_num_threads(1); }
    ~SingleThreaded() { Eigen::setNbThreads(saved_eigen); omp_set_num_threads(saved_openmp); }
#else
    SingleThreaded() { Eigen::setNbThreads(1); }
    ~SingleThreaded() { Eigen::setNbThreads(saved_eigen); }
#endif
  } single_threaded;

  std::mt19937 rng(config.seed);
  MlpHead<S> head(A.cols(), config.hidden_dim, config.output_dim, config.activation, config.seed);
  MlpHead<S> ema = head;
  Optimizer<S> optimizer(config.optimizer);
  const S tau = S(config.temperature);

  detail::DomainState<S> domains[2];
  const Matrix<S>* inputs[2] = {&A, &B};
  for (int t = 0; t < 2; ++t) {
    detail::DomainState<S>& d = domains[t];
    d.inputs = inputs[t];
    const Matrix<S> centred = d.inputs->rowwise() - d.inputs->colwise().mean();
    d.feature_std = (centred.colwise().squaredNorm() / S(d.inputs->rows())).cwiseSqrt().transpose();
    d.bank = ema.forward(*d.inputs);
    d.order.resize(static_cast<std::size_t>(d.inputs->rows()));
    std::iota(d.order.begin(), d.order.end(), Index(0));
    std::shuffle(d.order.begin(), d.order.end(), rng);
  }
  const Index batch = std::min<Index>(config.batch_size, std::min(A.rows(), B.rows()));
  const long steps_per_epoch = long((std::max(A.rows(), B.rows()) + batch - 1) / batch);
  const long total_steps = steps_per_epoch * config.epochs;
  const int cross_epoch = int(std::ceil(config.cross_start * config.epochs));

  TrainResult<S> result;
  long step = 0;
  for (int epoch = 0; epoch < config.epochs; ++epoch) {
    const auto start = std::chrono::steady_clock::now();
    for (auto& d : domains) detail::refresh_prototypes(d, config);
    EpochLog log;
    log.epoch = epoch;
    log.cross_weight = config.cross_domain && epoch >= cross_epoch ? config.cross_weight : 0.0;
    long plans = 0;
    for (long s = 0; s < steps_per_epoch; ++s, ++step) {
      Vector<S> grad = Vector<S>::Zero(head.parameters().size());
      double step_loss = 0;
      for (int t = 0; t < 2; ++t) {
        detail::DomainState<S>& d = domains[t];
        const detail::DomainState<S>& other = domains[1 - t];
        const IndexVector idx = detail::next_batch(d, batch, rng);
        const Matrix<S> x = (*d.inputs)(idx, Eigen::all);
        MlpCache<S> cache;
        const Matrix<S> q = head.forward(detail::augment(x, d.feature_std, config, rng), &cache);
        const Matrix<S> key = ema.forward(detail::augment(x, d.feature_std, config, rng));
        const Matrix<S> nn = d.bank(cosine_neighbours(q, d.bank, 1, &idx).col(0), Eigen::all);

        const Vector<S> own_marginal = config.kmeans_marginals ? d.proportions : Vector<S>::Constant(k, S(1) / S(k));
        const bool per_batch = config.prototype_update == PrototypeUpdate::ot_per_batch;
        PrototypeSinkhornResult<S> own_plan;
        if (config.intra_domain || per_batch) {
          own_plan = detail::solve_ot(d.bank, d.prototypes, own_marginal, std::numeric_limits<S>::infinity(), config);
          log.marginal_error += double(own_plan.marginal_error);
          ++plans;
        }
        IndexVector own_match;
        if (config.intra_domain) {
          own_match = own_plan.labels(idx);
        } else {
          own_match = detail::nearest_prototype(Matrix<S>(d.bank(idx, Eigen::all)), d.prototypes);
        }
        const Matrix<S> matched = d.prototypes(own_match, Eigen::all);

        Matrix<S> grad_q = Matrix<S>::Zero(q.rows(), q.cols());
        double intra = 0;
        if (config.loss_form == LossForm::separate_terms) {
          intra += detail::add_info_nce(q, key, d.prototypes, tau, own_match, config.weight_instance, grad_q);
          intra += detail::add_info_nce(q, nn, d.prototypes, tau, own_match, config.weight_neighbour, grad_q);
          if (config.intra_domain)
            intra += detail::add_info_nce(q, matched, d.prototypes, tau, own_match, config.weight_prototype, grad_q);
        } else {
          const S w_proto = config.intra_domain ? S(config.weight_prototype_folded) : S(0);
          const Matrix<S> positive = S(config.weight_instance) * key + S(config.weight_neighbour) * nn + w_proto * matched;
          intra += detail::add_info_nce(q, positive, d.prototypes, tau, own_match, 1.0, grad_q);
        }
        double cross = 0;
        if (config.cross_domain) {
          const Vector<S> other_marginal =
              config.kmeans_marginals ? other.proportions : Vector<S>::Constant(k, S(1) / S(k));
          const PrototypeSinkhornResult<S> plan =
              detail::solve_ot(d.bank, other.prototypes, other_marginal, S(config.cross_rho), config);
          log.marginal_error += double(plan.marginal_error);
          ++plans;
          const IndexVector cross_match = plan.labels(idx);
          Matrix<S> grad_cross = Matrix<S>::Zero(q.rows(), q.cols());
          cross = config.normalise_cross_similarities
                      ? detail::add_normalised_cross_info_nce(q, other.prototypes, cross_match, tau, grad_cross)
                      : detail::add_info_nce(q, Matrix<S>(other.prototypes(cross_match, Eigen::all)), other.prototypes,
                                             tau, cross_match, 1.0, grad_cross);
          grad_q += S(log.cross_weight) * grad_cross;
        }
        head.backward(cache, grad_q, grad);
        if (per_batch) detail::update_prototypes_from_plan(d, own_plan.plan);
        d.bank(idx, Eigen::all) = key;
        (t == 0 ? log.intra_a : log.intra_b) += intra;
        (t == 0 ? log.cross_a : log.cross_b) += cross;
        step_loss += intra + log.cross_weight * cross;
      }
      log.loss += step_loss;
      const double lr = config.cosine_schedule ? cosine_learning_rate(config.learning_rate, step, total_steps)
                                               : config.learning_rate;
      optimizer.step(head.parameters(), grad, lr);
      ema.parameters() = S(config.ema_momentum) * ema.parameters() + S(1 - config.ema_momentum) * head.parameters();
    }
    const double per_step = 1.0 / double(steps_per_epoch);
    for (double* v : {&log.loss, &log.intra_a, &log.intra_b, &log.cross_a, &log.cross_b}) *v *= per_step;
    if (plans) log.marginal_error /= double(plans);
    log.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    result.log.push_back(log);
    if (config.verbose) {
      std::printf("%s\n", format_epoch(log, config.epochs).c_str());
      std::fflush(stdout);
    }
    if (on_epoch) on_epoch(log);
  }
  result.features_a = head.forward(A);
  result.features_b = head.forward(B);
  return result;
}

}  // namespace protoot::examples
