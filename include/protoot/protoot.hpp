// protoot/protoot.hpp — the whole CPU library in one include: ground costs, Sinkhorn (single and batched),
// prototype OT and targets, K-means, top-k retrieval and its metrics, the contrastive losses,
// domain-adaptation baselines, .npy I/O (read, write, memory-mapped), top-k and K-means over
// mapped files larger than memory, and the synthetic two-domain data set.
//
// Not included, because each needs more than Eigen and OpenMP: protoot/cuda/* (nvcc, CUDA
// runtime), protoot/mpi/* (an MPI library) and protoot/xtensor.hpp (xtensor).
#pragma once

#include "protoot/contrastive.hpp"
#include "protoot/costs.hpp"
#include "protoot/domain_adaptation.hpp"
#include "protoot/io/mapped_npy.hpp"
#include "protoot/io/npy.hpp"
#include "protoot/kmeans.hpp"
#include "protoot/l2_normalise.hpp"
#include "protoot/out_of_core.hpp"
#include "protoot/prototype_sinkhorn.hpp"
#include "protoot/prototype_targets.hpp"
#include "protoot/retrieval.hpp"
#include "protoot/retrieval_metrics.hpp"
#include "protoot/sinkhorn.hpp"
#include "protoot/sinkhorn_batch.hpp"
#include "protoot/synthetic.hpp"
#include "protoot/types.hpp"
