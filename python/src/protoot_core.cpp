// protoot._core — nanobind bindings of the header-only library (the only implementation).
//
// Contract with the Python layer (protoot/__init__.py), which does every conversion:
// - arrays arrive C-contiguous, on the CPU, as float32 or float64 (labels as int64); array
//   arguments are .noconvert(), so an overload is picked by dtype and nothing is copied here:
//   each array is mapped as an Eigen::Map onto the caller's buffer;
// - every function exists for float and for double; options objects are double and are
//   narrowed to the solve's scalar;
// - solves run with the GIL released; std::invalid_argument from the library becomes
//   ValueError with the same message (nanobind's translation);
// - results are returned by move: their Eigen members become NumPy arrays without a copy.
#include <cstdint>
#include <limits>
#include <optional>
#include <tuple>
#include <vector>

#include <nanobind/eigen/dense.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/tuple.h>
#include <nanobind/stl/vector.h>

#include "protoot/contrastive.hpp"
#include "protoot/kmeans.hpp"
#include "protoot/prototype_sinkhorn.hpp"
#include "protoot/prototype_targets.hpp"
#include "protoot/retrieval.hpp"
#include "protoot/retrieval_metrics.hpp"
#include "protoot/sinkhorn.hpp"

namespace nb = nanobind;
using namespace nb::literals;

namespace {

using protoot::Index;
using protoot::IndexVector;
using protoot::Matrix;
using protoot::Vector;

template <class T>
using Array2 = nb::ndarray<const T, nb::ndim<2>, nb::c_contig, nb::device::cpu>;
template <class T>
using Array1 = nb::ndarray<const T, nb::ndim<1>, nb::c_contig, nb::device::cpu>;
using Labels = Array1<std::int64_t>;
using Release = nb::call_guard<nb::gil_scoped_release>;

template <class S>
Eigen::Map<const Matrix<S>> map(const Array2<S>& x) {
  return {x.data(), Index(x.shape(0)), Index(x.shape(1))};
}
template <class S>
Eigen::Map<const Vector<S>> map(const Array1<S>& x) {
  return {x.data(), Index(x.shape(0))};
}
// IndexVector is a column of Index (int64 on the platforms nanobind supports): copied, it is small.
IndexVector labels(const Labels& x) {
  static_assert(sizeof(Index) == sizeof(std::int64_t), "protoot labels are int64");
  return Eigen::Map<const Eigen::Matrix<std::int64_t, Eigen::Dynamic, 1>>(x.data(), Index(x.shape(0))).cast<Index>();
}

template <class S>
protoot::SinkhornOptions<S> narrow(const protoot::SinkhornOptions<double>& o) {
  protoot::SinkhornOptions<S> r;
  r.epsilon = S(o.epsilon);
  r.max_iterations = o.max_iterations;
  r.tolerance = S(o.tolerance);
  r.log_domain = o.log_domain;
  r.log_domain_fallback = o.log_domain_fallback;
  r.check_every = o.check_every;
  r.epsilon_start = S(o.epsilon_start);
  r.epsilon_decay = S(o.epsilon_decay);
  r.f_init = o.f_init.cast<S>();
  r.g_init = o.g_init.cast<S>();
  return r;
}

template <class S>
protoot::KMeansOptions<S> narrow(const protoot::KMeansOptions<double>& o) {
  protoot::KMeansOptions<S> r;
  r.n_init = o.n_init;
  r.max_iterations = o.max_iterations;
  r.tolerance = S(o.tolerance);
  r.seed = o.seed;
  r.spherical = o.spherical;
  r.init = o.init;
  r.local_trials = o.local_trials;
  r.initial_centroids = o.initial_centroids.cast<S>();
  r.weights = o.weights.cast<S>();
  return r;
}

template <class S>
protoot::PrototypeTargetsOptions<S> narrow(const protoot::PrototypeTargetsOptions<double>& o) {
  protoot::PrototypeTargetsOptions<S> r;
  r.k = o.k;
  r.kmeans = narrow<S>(o.kmeans);
  r.prototypes_a = o.prototypes_a.cast<S>();
  r.prototypes_b = o.prototypes_b.cast<S>();
  r.sinkhorn = narrow<S>(o.sinkhorn);
  r.rho = S(o.rho);
  r.released_recipe = o.released_recipe;
  r.uniform_marginals = o.uniform_marginals;
  r.cross_k = o.cross_k;
  r.cross_prototypes_a = o.cross_prototypes_a.cast<S>();
  r.cross_prototypes_b = o.cross_prototypes_b.cast<S>();
  return r;
}

template <class S>
void bind_results(nb::module_& m, const char* suffix) {
  using R = protoot::SinkhornResult<S>;
  const std::string s(suffix);
  nb::class_<R>(m, ("SinkhornResult" + s).c_str(),
                "A Sinkhorn solve: plan = exp((f_i + g_j - C_ij) / epsilon), potentials, status, errors.")
      .def_ro("plan", &R::plan)
      .def_ro("f", &R::f)
      .def_ro("g", &R::g)
      .def_ro("iterations", &R::iterations)
      .def_ro("status", &R::status)
      .def_ro("marginal_error", &R::marginal_error)
      .def_ro("marginal_error_a", &R::marginal_error_a)
      .def_ro("marginal_error_b", &R::marginal_error_b)
      .def_ro("transport_cost", &R::transport_cost)
      .def_ro("error_history", &R::error_history);
  using P = protoot::PrototypeSinkhornResult<S>;
  nb::class_<P, R>(m, ("PrototypeSinkhornResult" + s).c_str(),
                   "A prototype Sinkhorn solve plus row-normalised assignments and argmax labels.")
      .def_ro("assignments", &P::assignments)
      .def_ro("labels", &P::labels);
  using K = protoot::KMeansResult<S>;
  nb::class_<K>(m, ("KMeansResult" + s).c_str(), "K-means centroids, labels, sizes, proportions, inertia.")
      .def_ro("centroids", &K::centroids)
      .def_ro("labels", &K::labels)
      .def_ro("sizes", &K::sizes)
      .def_ro("proportions", &K::proportions)
      .def_ro("inertia", &K::inertia)
      .def_ro("iterations", &K::iterations)
      .def_ro("status", &K::status)
      .def_ro("restart", &K::restart)
      .def_ro("inertia_history", &K::inertia_history);
  using PT = protoot::PrototypeTargets<S>;
  nb::class_<PT>(m, ("PrototypeTargets" + s).c_str(),
                 "Both domains' K-means (and the cross-domain problems' finer ones when cross_k is set) and "
                 "the four prototype OT solves aa, bb, ab (A onto B's cross prototypes), ba.")
      .def_ro("clusters_a", &PT::clusters_a)
      .def_ro("clusters_b", &PT::clusters_b)
      .def_ro("cross_clusters_a", &PT::cross_clusters_a)
      .def_ro("cross_clusters_b", &PT::cross_clusters_b)
      .def_ro("aa", &PT::aa)
      .def_ro("bb", &PT::bb)
      .def_ro("ab", &PT::ab)
      .def_ro("ba", &PT::ba);
  using T = protoot::TopK<S>;
  nb::class_<T>(m, ("TopK" + s).c_str(), "Top-k gallery indices and scores per query, best first.")
      .def_ro("indices", &T::indices)
      .def_ro("scores", &T::scores);
}

template <class S>
void bind_functions(nb::module_& m) {
  using Opt = protoot::SinkhornOptions<double>;
  const S inf = std::numeric_limits<S>::infinity();

  m.def("sinkhorn", [](Array2<S> C, Array1<S> a, Array1<S> b, const Opt& o) {
        return protoot::sinkhorn(map(C), map(a), map(b), narrow<S>(o));
      }, "C"_a.noconvert(), "a"_a.noconvert(), "b"_a.noconvert(), "options"_a, Release());
  m.def("sinkhorn_unbalanced", [](Array2<S> C, Array1<S> a, Array1<S> b, S rho_a, S rho_b, const Opt& o) {
        return protoot::sinkhorn_unbalanced(map(C), map(a), map(b), rho_a, rho_b, narrow<S>(o));
      }, "C"_a.noconvert(), "a"_a.noconvert(), "b"_a.noconvert(), "rho_a"_a, "rho_b"_a, "options"_a, Release());

  m.def("prototype_cost", [](Array2<S> Z, Array2<S> P, bool normalise) {
        return protoot::prototype_cost(map(Z), map(P), normalise);
      }, "Z"_a.noconvert(), "P"_a.noconvert(), "normalise_similarity_rows"_a, Release());
  m.def("prototype_sinkhorn_on_cost", [](Array2<S> C, Array1<S> w, const Opt& o, S rho, Array1<S> sample_marginal) {
        return protoot::prototype_sinkhorn_on_cost(map(C), map(w), narrow<S>(o), rho, Vector<S>(map(sample_marginal)));
      }, "C"_a.noconvert(), "w"_a.noconvert(), "options"_a, "rho"_a, "sample_marginal"_a.noconvert(), Release());
  m.def("prototype_sinkhorn", [](Array2<S> Z, Array2<S> P, Array1<S> w, const Opt& o, S rho,
                                 Array1<S> sample_marginal) {
        return protoot::prototype_sinkhorn(map(Z), map(P), map(w), narrow<S>(o), rho, Vector<S>(map(sample_marginal)));
      }, "Z"_a.noconvert(), "P"_a.noconvert(), "w"_a.noconvert(), "options"_a, "rho"_a,
      "sample_marginal"_a.noconvert(), Release());
  m.def("prototype_sinkhorn_released", [](Array2<S> Z, Array2<S> P, Array1<S> w, S rho) {
        return protoot::prototype_sinkhorn_released(map(Z), map(P), map(w), rho);
      }, "Z"_a.noconvert(), "P"_a.noconvert(), "w"_a.noconvert(), "rho"_a = inf, Release());

  m.def("prototype_targets", [](Array2<S> ZA, Array2<S> ZB, const protoot::PrototypeTargetsOptions<double>& o) {
        return protoot::prototype_targets(map(ZA), map(ZB), narrow<S>(o));
      }, "ZA"_a.noconvert(), "ZB"_a.noconvert(), "options"_a, Release());

  m.def("kmeans", [](Array2<S> X, Index k, const protoot::KMeansOptions<double>& o) {
        return protoot::kmeans(map(X), k, narrow<S>(o));
      }, "X"_a.noconvert(), "k"_a, "options"_a, Release());

  m.def("cosine_topk", [](Array2<S> Q, Array2<S> G, Index k) { return protoot::cosine_topk(map(Q), map(G), k); },
        "queries"_a.noconvert(), "gallery"_a.noconvert(), "k"_a, Release());
  m.def("inner_product_topk",
        [](Array2<S> Q, Array2<S> G, Index k) { return protoot::inner_product_topk(map(Q), map(G), k); },
        "queries"_a.noconvert(), "gallery"_a.noconvert(), "k"_a, Release());
  m.def("evaluate_retrieval", [](Array2<S> Q, Labels ql, Array2<S> G, Labels gl, const std::vector<Index>& ks) {
        return protoot::evaluate_retrieval(map(Q), labels(ql), map(G), labels(gl), ks);
      }, "queries"_a.noconvert(), "query_labels"_a.noconvert(), "gallery"_a.noconvert(),
      "gallery_labels"_a.noconvert(), "ks"_a, Release());

  // Losses: (loss, gradients...) when grad is true, else (loss,) — the Python layer unpacks.
  m.def("info_nce", [](Array2<S> q, Array2<S> k, Array2<S> v, S tau, std::optional<Labels> excluded, bool grad) {
        const std::optional<IndexVector> ex = excluded ? std::optional(labels(*excluded)) : std::nullopt;
        protoot::InfoNceGradients<S> g;
        const S loss = protoot::info_nce(map(q), map(k), map(v), tau, ex ? &*ex : nullptr, grad ? &g : nullptr);
        return std::make_tuple(loss, std::move(g.queries), std::move(g.positives), std::move(g.negatives));
      }, "queries"_a.noconvert(), "positives"_a.noconvert(), "negatives"_a.noconvert(), "tau"_a,
      "excluded"_a.noconvert().none(), "grad"_a, Release());
  m.def("info_nce_logits", [](Array1<S> p, Array2<S> n, S tau, std::optional<Labels> excluded, bool grad) {
        const std::optional<IndexVector> ex = excluded ? std::optional(labels(*excluded)) : std::nullopt;
        protoot::InfoNceLogitGradients<S> g;
        const S loss = protoot::info_nce_logits(map(p), map(n), tau, ex ? &*ex : nullptr, grad ? &g : nullptr);
        return std::make_tuple(loss, std::move(g.positive), std::move(g.negatives));
      }, "positive"_a.noconvert(), "negatives"_a.noconvert(), "tau"_a, "excluded"_a.noconvert().none(), "grad"_a,
      Release());
  m.def("info_nce_two_views", [](Array2<S> a, Array2<S> b, S tau, bool grad) {
        protoot::TwoViewGradients<S> g;
        const S loss = protoot::info_nce_two_views(map(a), map(b), tau, grad ? &g : nullptr);
        return std::make_tuple(loss, std::move(g.a), std::move(g.b));
      }, "a"_a.noconvert(), "b"_a.noconvert(), "tau"_a, "grad"_a, Release());
  m.def("prototype_contrast", [](Array2<S> Z, Array2<S> C, Labels match, S tau, bool grad) {
        protoot::PrototypeGradients<S> g;
        const S loss = protoot::prototype_contrast(map(Z), map(C), labels(match), tau, grad ? &g : nullptr);
        return std::make_tuple(loss, std::move(g.features), std::move(g.prototypes));
      }, "features"_a.noconvert(), "prototypes"_a.noconvert(), "match"_a.noconvert(), "tau"_a, "grad"_a, Release());
  m.def("prototype_contrast_soft", [](Array2<S> Z, Array2<S> C, Array2<S> W, S tau, bool grad) {
        protoot::PrototypeGradients<S> g;
        const S loss = protoot::prototype_contrast_soft(map(Z), map(C), map(W), tau, grad ? &g : nullptr);
        return std::make_tuple(loss, std::move(g.features), std::move(g.prototypes));
      }, "features"_a.noconvert(), "prototypes"_a.noconvert(), "assignment"_a.noconvert(), "tau"_a, "grad"_a,
      Release());
  m.def("cosine_neighbours", [](Array2<S> q, Array2<S> bank, Index k, std::optional<Labels> excluded) {
        const std::optional<IndexVector> ex = excluded ? std::optional(labels(*excluded)) : std::nullopt;
        return protoot::cosine_neighbours(map(q), map(bank), k, ex ? &*ex : nullptr);
      }, "queries"_a.noconvert(), "bank"_a.noconvert(), "k"_a, "excluded"_a.noconvert().none(), Release());
  m.def("neighbour_contrast", [](Array2<S> q, Array2<S> bank, Index k, S tau, std::optional<Labels> excluded,
                                 bool grad) {
        const std::optional<IndexVector> ex = excluded ? std::optional(labels(*excluded)) : std::nullopt;
        protoot::PrototypeGradients<S> g;
        const S loss = protoot::neighbour_contrast(map(q), map(bank), k, tau, ex ? &*ex : nullptr, grad ? &g : nullptr);
        return std::make_tuple(loss, std::move(g.features), std::move(g.prototypes));
      }, "queries"_a.noconvert(), "bank"_a.noconvert(), "k"_a, "tau"_a, "excluded"_a.noconvert().none(), "grad"_a,
      Release());
  m.def("ot_target_loss", [](Array2<S> Z, Array2<S> C, Array2<S> Q, S tau, bool grad) {
        protoot::PrototypeGradients<S> g;
        const S loss = protoot::ot_target_loss(map(Z), map(C), map(Q), tau, grad ? &g : nullptr);
        return std::make_tuple(loss, std::move(g.features), std::move(g.prototypes));
      }, "features"_a.noconvert(), "prototypes"_a.noconvert(), "plan"_a.noconvert(), "tau"_a, "grad"_a, Release());
}

}  // namespace

NB_MODULE(_core, m) {
  m.doc() = "protoot C++ core (use the protoot package, which converts inputs)";

  nb::enum_<protoot::SolverStatus>(m, "SolverStatus")
      .value("converged", protoot::SolverStatus::converged)
      .value("max_iterations", protoot::SolverStatus::max_iterations)
      .value("numerical_error", protoot::SolverStatus::numerical_error)
      .value("interrupted", protoot::SolverStatus::interrupted);
  nb::enum_<protoot::KMeansInit>(m, "KMeansInit")
      .value("kmeans_plus_plus", protoot::KMeansInit::kmeans_plus_plus)
      .value("random", protoot::KMeansInit::random);

  using SO = protoot::SinkhornOptions<double>;
  nb::class_<SO>(m, "SinkhornOptions",
                 "Sinkhorn options (protoot::SinkhornOptions; callback not exposed). epsilon is required.")
      .def(nb::init<>())
      .def_rw("epsilon", &SO::epsilon)
      .def_rw("max_iterations", &SO::max_iterations)
      .def_rw("tolerance", &SO::tolerance)
      .def_rw("log_domain", &SO::log_domain)
      .def_rw("log_domain_fallback", &SO::log_domain_fallback)
      .def_rw("check_every", &SO::check_every)
      .def_rw("epsilon_start", &SO::epsilon_start)
      .def_rw("epsilon_decay", &SO::epsilon_decay)
      .def_rw("f_init", &SO::f_init)
      .def_rw("g_init", &SO::g_init);
  using KO = protoot::KMeansOptions<double>;
  nb::class_<KO>(m, "KMeansOptions", "K-means options (protoot::KMeansOptions; callback not exposed).")
      .def(nb::init<>())
      .def_rw("n_init", &KO::n_init)
      .def_rw("max_iterations", &KO::max_iterations)
      .def_rw("tolerance", &KO::tolerance)
      .def_rw("seed", &KO::seed)
      .def_rw("spherical", &KO::spherical)
      .def_rw("init", &KO::init)
      .def_rw("local_trials", &KO::local_trials)
      .def_rw("initial_centroids", &KO::initial_centroids)
      .def_rw("weights", &KO::weights);
  using PO = protoot::PrototypeTargetsOptions<double>;
  nb::class_<PO>(m, "PrototypeTargetsOptions",
                 "prototype_targets options (protoot::PrototypeTargetsOptions, same defaults).")
      .def(nb::init<>())
      .def_rw("k", &PO::k)
      .def_rw("kmeans", &PO::kmeans)
      .def_rw("prototypes_a", &PO::prototypes_a)
      .def_rw("prototypes_b", &PO::prototypes_b)
      .def_rw("sinkhorn", &PO::sinkhorn)
      .def_rw("rho", &PO::rho)
      .def_rw("released_recipe", &PO::released_recipe)
      .def_rw("uniform_marginals", &PO::uniform_marginals)
      .def_rw("cross_k", &PO::cross_k)
      .def_rw("cross_prototypes_a", &PO::cross_prototypes_a)
      .def_rw("cross_prototypes_b", &PO::cross_prototypes_b);
  nb::class_<protoot::RetrievalScores>(m, "RetrievalScores", "P@K for each K of ks and mAP, in percent.")
      .def_ro("ks", &protoot::RetrievalScores::ks)
      .def_ro("precision", &protoot::RetrievalScores::precision)
      .def_ro("mean_average_precision", &protoot::RetrievalScores::mean_average_precision);

  bind_results<double>(m, "");
  bind_results<float>(m, "32");
  bind_functions<double>(m);
  bind_functions<float>(m);
}
