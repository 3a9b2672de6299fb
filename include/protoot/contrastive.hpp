// protoot/contrastive.hpp — every contrastive / prototype loss kernel of protoot in one include.
#pragma once

#include "protoot/l2_normalise.hpp"
#include "protoot/losses/info_nce.hpp"
#include "protoot/losses/neighbour_contrast.hpp"
#include "protoot/losses/ot_target_loss.hpp"
#include "protoot/losses/prototype_contrast.hpp"
