// protoot/kmeans_result.hpp — what kmeans() returns.
#pragma once

#include <vector>

#include "protoot/solver_status.hpp"
#include "protoot/types.hpp"

namespace protoot {

template <class Scalar>
struct KMeansResult {
  Matrix<Scalar> centroids;          ///< k x d (unit rows in spherical mode)
  IndexVector labels;                ///< n, index of each point's nearest centroid
  IndexVector sizes;                 ///< k, points per cluster (0 only if X has < k distinct points)
  Vector<Scalar> proportions;        ///< k, weight share of each cluster (sizes / n unweighted); sums to 1
  Scalar inertia = Scalar(0);        ///< sum_i w_i d(x_i, c_label(i)) for the returned centroids
  int iterations = 0;                ///< Lloyd iterations of the winning restart
  SolverStatus status = SolverStatus::max_iterations;  ///< winning restart's: converged, max_iterations
                                                      ///< or interrupted (callback returned false)
  int restart = 0;                   ///< which restart won
  std::vector<Scalar> inertia_history;  ///< inertia at the start of each iteration (winning restart)
};

}  // namespace protoot
