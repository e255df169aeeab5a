"""Classical grouping: pixels as feature vectors, clustering (k-means, mean shift), graphs and their cuts
(minimum cut, normalized cut), adaptive thresholding, and scoring clusters against semantic labels."""

from cvlab.classical.cuts import Bipartition, min_cut, ncut_bipartition, ncut_eigenvectors, normalized_cut
from cvlab.classical.features import pixel_features, pixel_positions
from cvlab.classical.graph import affinity_matrix, assoc, cut_value, ncut_value
from cvlab.classical.kmeans import KMeansResult, kmeans, kmeans_assign, kmeans_update
from cvlab.classical.matching import clustering_miou, match_clusters
from cvlab.classical.mean_shift import MeanShiftResult, mean_shift, mean_shift_step
from cvlab.classical.threshold import (
    ThermalDemo,
    adaptive_threshold,
    local_threshold,
    uneven_illumination_demo,
)

__all__ = [
    "Bipartition",
    "KMeansResult",
    "MeanShiftResult",
    "ThermalDemo",
    "adaptive_threshold",
    "affinity_matrix",
    "assoc",
    "clustering_miou",
    "cut_value",
    "kmeans",
    "kmeans_assign",
    "kmeans_update",
    "local_threshold",
    "match_clusters",
    "mean_shift",
    "mean_shift_step",
    "min_cut",
    "ncut_bipartition",
    "ncut_eigenvectors",
    "ncut_value",
    "normalized_cut",
    "pixel_features",
    "pixel_positions",
    "uneven_illumination_demo",
]
