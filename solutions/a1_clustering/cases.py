"""Reference cases of A1 "classical segmentation" -- built from the solution notebook with
``python -m cvlab.grading build a1_clustering`` (visible ones ship with cvlab, hidden ones stay here).

The hidden cases hold what the task text promises: non-square images, k larger than the number of distinct
colours, empty clusters, exact ties (integer coordinates, so every correct way of computing a distance ties
exactly), distances equal to the bandwidth or radius, float64 and several feature dimensions. The normalized-cut
graphs are chosen so that the answer is numerically robust (a clear gap between the second and third eigenvalue,
between the two sides of the chosen threshold, and between the best and the second-best Ncut) and so that the
tempting shortcuts (zero or median threshold, other eigenvectors, the unnormalised Laplacian, thresholding
D^1/2 y) give another partition.
"""

import torch

from cvlab.classical import pixel_features, pixel_positions
from cvlab.grading.build import case, function_test

g = torch.Generator().manual_seed(1)
later = torch.Generator().manual_seed(2)  # the cases added later draw from here, so the first ones stay as they were


def rand(*shape, dtype=torch.float32, gen=g):
    return torch.rand(*shape, generator=gen, dtype=dtype)


def image(h, w, regions=3, noise=0.05, channels=3):
    """A random (C, h, w) image in [0, 1]: a background and ``regions - 1`` rectangles of flat colour, plus noise."""
    img = rand(channels, 1, 1).expand(channels, h, w).clone()
    for _ in range(regions - 1):
        r, c = int(torch.randint(0, h - 1, (1,), generator=g)), int(torch.randint(0, w - 1, (1,), generator=g))
        dr, dc = int(torch.randint(1, h, (1,), generator=g)), int(torch.randint(1, w, (1,), generator=g))
        img[:, r:r + dr, c:c + dc] = rand(channels, 1, 1)
    return (img + noise * torch.randn(channels, h, w, generator=g)).clamp(0, 1)


def two_colours(h, w):
    """Pixel features (h*w, 3) of an image holding only two distinct colours."""
    which = torch.randint(0, 2, (h * w, 1), generator=g).float()
    return which * torch.tensor([0.9, 0.2, 0.1]) + (1 - which) * torch.tensor([0.1, 0.3, 0.8])


def grid(n):
    """The n*n integer points of [0, n)^2 as float32 (x, y) pairs: distances between them are exact."""
    return torch.cartesian_prod(torch.arange(n), torch.arange(n)).float()


def symmetric(n, dtype=torch.float32):
    """A random symmetric non-negative (n, n) matrix (with a non-zero diagonal)."""
    a = rand(n, n, dtype=dtype)
    return (a + a.T) / 2


def gaussian_affinity(features, sigma, radius=None, positions=None):
    """exp(-|f_i - f_j|^2 / 2 sigma^2) with a zero diagonal (and zero beyond ``radius``): the graph of a case."""
    d2 = (features[:, None] - features[None]).square().sum(-1)
    w = torch.exp(-d2 / (2 * sigma**2))
    if radius is not None:
        w = w * ((positions[:, None] - positions[None]).square().sum(-1) <= radius**2)
    return w.fill_diagonal_(0)


def blobs(seed, dtype=torch.float32):
    """The affinity graph of 2 or 3 Gaussian blobs of 2-D points of different sizes and spreads."""
    gen = torch.Generator().manual_seed(seed)
    sizes = torch.randint(3, 10, (int(torch.randint(2, 4, (1,), generator=gen)),), generator=gen).tolist()
    points = torch.cat([torch.randn(s, 2, generator=gen) * float(torch.rand(1, generator=gen) * 0.3 + 0.1)
                        + torch.rand(2, generator=gen) * 2 for s in sizes])
    sigma = float(torch.rand(1, generator=gen) * 0.5 + 0.2)
    return gaussian_affinity(points.to(dtype), sigma)


def picture_graph(seed, h=5, w=7):
    """The 8-neighbour affinity graph (sigma 0.3) of a noisy h x w picture of two rectangles on a background."""
    gen = torch.Generator().manual_seed(seed)
    img = torch.rand(3, 1, 1, generator=gen).expand(3, h, w).clone()
    for _ in range(2):
        r, c = torch.randint(0, h - 1, (2,), generator=gen).tolist()
        dr, dc = int(torch.randint(1, 4, (1,), generator=gen)), int(torch.randint(2, 5, (1,), generator=gen))
        img[:, r:r + dr, c:c + dc] = torch.rand(3, 1, 1, generator=gen)
    img = (img + 0.05 * torch.randn(3, h, w, generator=gen)).clamp(0, 1)
    return gaussian_affinity(pixel_features(img), 0.3, radius=1.5, positions=pixel_positions(h, w))


def loner_graph(n=7, weak=0.03, loner=4):
    """A dense cluster and one node (``loner``) with a self-loop, tied to it by one weak edge: the best split
    (Ncut 0.03 against 0.93 for the next best) cuts that node off alone -- an end of the sorted eigenvector."""
    a = rand(n, n, gen=later) * 0.5 + 0.5
    w = ((a + a.T) / 2).fill_diagonal_(0)
    w[loner], w[:, loner] = 0.0, 0.0
    w[loner, loner] = 1.0
    w[loner, (loner + 1) % n] = w[(loner + 1) % n, loner] = weak
    return w


def split(n, size):
    """A bool mask of n nodes with ``size`` random ones True."""
    mask = torch.zeros(n, dtype=torch.bool)
    mask[torch.randperm(n, generator=g)[:size]] = True
    return mask


# ---- k-means ------------------------------------------------------------------------------------------------
KMEANS_FORBID = ["sklearn.cluster.KMeans.fit", "sklearn.cluster.KMeans.predict", "sklearn.cluster.k_means",
                 "sklearn.metrics.pairwise_distances_argmin", "sklearn.metrics.pairwise_distances_argmin_min",
                 "scipy.cluster.vq.vq", "scipy.cluster.vq.kmeans", "scipy.cluster.vq.kmeans2",
                 "cvlab.classical.kmeans.kmeans", "cvlab.classical.kmeans.kmeans_assign",
                 "cvlab.classical.kmeans.kmeans_update"]

pixels_45 = pixel_features(image(4, 5))
pixels_69 = pixel_features(image(6, 9), "rgbxy")
pixels_37 = pixel_features(image(3, 7, channels=1))
ties_centres = torch.tensor([[2.0, 2.0], [4.0, 0.0], [0.0, 0.0], [2.0, 2.0], [0.0, 4.0]])
colours_3 = torch.tensor([[0.9, 0.1, 0.1], [0.1, 0.8, 0.2], [0.2, 0.2, 0.9]])
labels_57 = torch.randint(0, 4, (35,), generator=g)
labels_57[:4] = torch.arange(4)  # every cluster used
three_colours = torch.randint(0, 3, (24,), generator=g)
with_empty = torch.randint(0, 3, (10,), generator=g) * 2  # clusters 0, 2, 4 of 5 ...
with_empty[with_empty == 0] = 2  # ... cluster 0 empty too: 2 and 4 used, 0, 1, 3 empty
labels_10 = torch.randint(0, 3, (10,), generator=g)
labels_10[:3] = torch.arange(3)
labels_12 = torch.randint(0, 2, (12,), generator=g) * 2  # clusters 0 and 2 of 3: cluster 1 is empty
labels_12[:2] = torch.tensor([0, 2])
labels_30 = torch.randint(0, 4, (30,), generator=g)
labels_30[labels_30 == 3] = 1  # float64 case: clusters 0, 1, 2 used, 3 empty (the last one)
labels_30[:3] = torch.arange(3)

# ---- mean shift ---------------------------------------------------------------------------------------------
MEAN_SHIFT_FORBID = ["sklearn.cluster.MeanShift.fit", "sklearn.cluster.mean_shift",
                     "cvlab.classical.mean_shift.mean_shift", "cvlab.classical.mean_shift.mean_shift_step",
                     "cvlab.classical.mean_shift._shift"]
pixels_58 = pixel_features(image(5, 8))
pixels_46xy = pixel_features(image(4, 6), "rgbxy", 0.5)

# ---- graphs -------------------------------------------------------------------------------------------------
GRAPH_FORBID = ["sklearn.metrics.pairwise.rbf_kernel", "sklearn.metrics.pairwise.pairwise_kernels",
                "cvlab.classical.graph.affinity_matrix", "cvlab.classical.graph.ncut_value",
                "cvlab.classical.graph.cut_value", "cvlab.classical.graph.assoc", "cvlab.classical.graph._assoc",
                "skimage.graph._ncut.ncut_cost", "skimage.graph._ncut.DW_matrices"]
NCUT_FORBID = GRAPH_FORBID + ["cvlab.classical.cuts.ncut_bipartition", "cvlab.classical.cuts.normalized_cut",
                              "cvlab.classical.cuts.ncut_eigenvectors", "cvlab.classical.cuts._bipartition",
                              "cvlab.classical.cuts._second_eigenvector", "cvlab.classical.cuts._ncut_of_prefixes",
                              "skimage.graph.cut_normalized", "sklearn.cluster.SpectralClustering.fit",
                              "sklearn.manifold.spectral_embedding"]
two_pairs = torch.tensor([[0.0, 1.0, 0.1, 0.0], [1.0, 0.0, 0.0, 0.1], [0.1, 0.0, 0.0, 1.0], [0.0, 0.1, 1.0, 0.0]])
points_8 = gaussian_affinity(rand(8, 2), 0.5)
image_46 = gaussian_affinity(pixel_features(image(4, 6)), 0.3, radius=1.0, positions=pixel_positions(4, 6))
left_half = (pixel_positions(4, 6)[:, 1] < 3)
blocks = torch.block_diag(symmetric(4), symmetric(5)).fill_diagonal_(0)
two_clusters = gaussian_affinity(torch.tensor([[0.0], [0.1], [0.25], [1.0], [1.1], [1.3]]), 0.3)
image_45 = image(4, 5, regions=2)
image_45[:, :, :2] = torch.tensor([0.2, 0.3, 0.4]).view(3, 1, 1) + 0.05 * torch.randn(3, 4, 2, generator=g)

TESTS = {
    "kmeans_assign": function_test(
        forbid=KMEANS_FORBID,
        visible=[
            case(rand(12, 2), rand(3, 2), description="12 points in 2-D, 3 centres"),
            case(pixels_45, pixels_45[[0, 7, 19]], description="the pixels of a 4x5 RGB image, 3 centres"),
        ],
        hidden=[
            case(pixels_69, rand(4, 5), description="a non-square 6x9 image, RGB+xy features (F = 5), 4 centres"),
            case(grid(5), ties_centres,
                 description="integer points, many at equal distance from several centres (and a centre listed "
                             "twice): ties go to the lowest index"),
            case(two_colours(4, 5), rand(6, 3),
                 description="6 centres for an image with only 2 distinct colours"),
            case(rand(30, 4, dtype=torch.float64), rand(5, 4, dtype=torch.float64),
                 description="float64 points with 4 features, 5 centres"),
            case(pixels_37, pixels_37[[3, 10, 20]], description="a grey 3x7 image (F = 1), 3 centres"),
            case(rand(7, 3), rand(1, 3), description="a single centre (k = 1)"),
        ],
    ),
    "kmeans_update": function_test(
        forbid=KMEANS_FORBID,
        visible=[
            case(rand(10, 2), labels_10, 3, rand(3, 2), description="10 points in 2-D, 3 clusters"),
            case(rand(12, 2), labels_12, 3, rand(3, 2),
                 description="cluster 1 is empty: it keeps its old centre"),
        ],
        hidden=[
            case(pixel_features(image(5, 7)), labels_57, 4, rand(4, 3),
                 description="the pixels of a non-square 5x7 image, 4 clusters"),
            case(colours_3[three_colours], three_colours, 6, rand(6, 3),
                 description="k = 6 for an image of 3 distinct colours: clusters 3, 4, 5 are empty"),
            case(rand(10, 2), with_empty, 5, rand(5, 2),
                 description="clusters 0, 1 and 3 of 5 are empty"),
            case(rand(30, 5, dtype=torch.float64), labels_30, 4, rand(4, 5, dtype=torch.float64),
                 description="float64 points with 5 features, the last of 4 clusters empty"),
            case(rand(6, 3), torch.full((6,), 2), 3, rand(3, 3),
                 description="all points in cluster 2 of 3"),
            case(rand(1, 3), torch.tensor([1]), 2, rand(2, 3), description="a single point"),
        ],
    ),
    "mean_shift_step": function_test(
        forbid=MEAN_SHIFT_FORBID,
        visible=[
            case(rand(4, 2), rand(15, 2), 0.4, description="4 points, 15 features in 2-D, the flat kernel"),
            case(rand(4, 2), rand(15, 2), 0.3, kernel="gaussian",
                 description="4 points, 15 features in 2-D, the Gaussian kernel"),
        ],
        hidden=[
            case(torch.tensor([[0.0, 0.0], [1.0, 3.0], [4.0, 1.0], [2.0, 2.0]]), grid(5), 2.0, kernel="flat",
                 description="integer points: features at distance exactly 2 = bandwidth are inside the window"),
            case(torch.tensor([[0.5, 0.5], [9.0, 9.0]]), grid(3), 1.0, kernel="flat",
                 description="the second point has no feature within the bandwidth: it stays where it is"),
            case(rand(6, 5, dtype=torch.float64), rand(40, 5, dtype=torch.float64), 0.5, kernel="gaussian",
                 description="float64, 5 features, the Gaussian kernel"),
            case(pixels_58[[0, 5, 11, 17, 22, 30, 39]], pixels_58, 0.2, kernel="gaussian",
                 description="7 pixels of a non-square 5x8 image shifted towards the colour density (Gaussian)"),
            case(pixels_46xy, pixels_46xy, 0.3, description="every pixel of a 4x6 image, RGB+xy, flat (default)"),
            case(rand(9, 3), rand(4, 3), 0.8, kernel="flat", description="more points (9) than features (4)"),
            case(rand(5, 3, dtype=torch.float64, gen=later), rand(20, 3, dtype=torch.float64, gen=later), 0.5,
                 kernel="flat", description="float64, the flat kernel"),
        ],
    ),
    "affinity_matrix": function_test(
        forbid=GRAPH_FORBID,
        visible=[
            case(rand(5, 2), 0.5, description="5 points in 2-D, sigma = 0.5"),
            case(pixel_features(image(3, 4)), 0.3, radius=1.0, positions=pixel_positions(3, 4),
                 description="a 3x4 image, sigma = 0.3, radius 1 (4-neighbours)"),
        ],
        hidden=[
            case(pixel_features(image(4, 6)), 0.25, description="a non-square 4x6 image, dense"),
            case(pixel_features(image(4, 6)), 0.3, radius=1.5, positions=pixel_positions(4, 6),
                 description="a non-square 4x6 image, radius 1.5 (8-neighbours)"),
            case(pixel_features(image(5, 3)), 0.4, radius=2.0, positions=pixel_positions(5, 3),
                 description="a 5x3 image, radius 2: pixels exactly 2 apart are linked"),
            case(rand(9, 5, dtype=torch.float64), 1, description="float64, 5 features, sigma = 1 (an int)"),
            case(two_colours(3, 4), 0.1, description="only 2 distinct colours: many affinities are exactly 1"),
            case(rand(12, 3, dtype=torch.float64, gen=later), 0.3, radius=1.5,
                 positions=pixel_positions(3, 4).double(), description="float64 features and positions, radius 1.5"),
        ],
    ),
    "ncut_value": function_test(
        forbid=GRAPH_FORBID,
        visible=[
            case(two_pairs, torch.tensor([True, True, False, False]),
                 description="two strongly linked pairs, split between them"),
            case(points_8, split(8, 3), description="8 points in 2-D, 3 of them in A"),
        ],
        hidden=[
            case(image_46, left_half, description="a non-square 4x6 image graph, A = the left half"),
            case(blobs(7, torch.float64), split(blobs(7).shape[0], 1), description="float64, A = a single node"),
            case(blocks, torch.arange(9) < 4, description="two disconnected components, split between them"),
            case(symmetric(7), split(7, 4), description="a graph with self-loops (non-zero diagonal)"),
            case(points_8, split(8, 5), description="8 points in 2-D, 5 of them in A"),
        ],
    ),
    "ncut_bipartition": function_test(
        forbid=NCUT_FORBID,
        visible=[
            case(two_clusters, description="two clusters of 1-D points"),
            case(gaussian_affinity(pixel_features(image_45), 0.2, radius=1.5, positions=pixel_positions(4, 5)),
                 description="the 8-neighbour graph of a 4x5 picture with three regions"),
        ],
        hidden=[
            case(blobs(124), description="2-D blobs where neither the zero nor the median threshold is the best"),
            case(blobs(69), description="2-D blobs of different sizes"),
            case(blobs(98, torch.float64), description="float64 2-D blobs"),
            case(picture_graph(58), description="the 8-neighbour graph of a non-square 5x7 picture"),
            case(picture_graph(20), description="the graph of another 5x7 picture"),
            case(loner_graph(), description="the best split cuts one node off alone (the last of the sorted "
                                            "eigenvector: every threshold must be tried)"),
        ],
    ),
}
