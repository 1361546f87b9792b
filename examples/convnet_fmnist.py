"""The paper's ConvNet and Fashion-MNIST for the examples and the Python tests.

ConvNet: 3 x [conv 3x3 -> width, GroupNorm(width, width), ReLU, AvgPool 2] + Linear, as
``lmgc collect -a convnet`` builds it (the first conv pads by 3, so 28x28 becomes 32x32);
width 128 is the paper's, the tests use a smaller one.

Fashion-MNIST: Debian's dataset-fashion-mnist, IDX files under
/usr/share/datasets/fashion-mnist (override with LMGC_FASHION_MNIST=DIR).
"""

import gzip
import os

import numpy as np
import torch
from torch import nn

FASHION_MNIST_DIR = os.environ.get("LMGC_FASHION_MNIST", "/usr/share/datasets/fashion-mnist")


class ConvNet(nn.Module):
    def __init__(self, width=128, channels=1, classes=10, size=28):
        super().__init__()
        layers, c, h = [], channels, size
        for d in range(3):
            pad = 3 if channels == 1 and d == 0 else 1
            layers += [nn.Conv2d(c, width, 3, padding=pad), nn.GroupNorm(width, width),
                       nn.ReLU(), nn.AvgPool2d(2, 2)]
            c, h = width, (h + 2 * pad - 2) // 2
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Linear(width * h * h, classes)

    def forward(self, x):
        return self.classifier(self.features(x).flatten(1))


def _read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load_fashion_mnist(split="train", n=None, directory=FASHION_MNIST_DIR):
    """(images float32 [N, 1, 28, 28] normalized, labels int64 [N]); the first n if given."""
    prefix = "train" if split == "train" else "t10k"
    images = _read_idx(os.path.join(directory, f"{prefix}-images-idx3-ubyte.gz"))
    labels = _read_idx(os.path.join(directory, f"{prefix}-labels-idx1-ubyte.gz"))
    if n is not None:
        images, labels = images[:n], labels[:n]
    x = torch.from_numpy(images.astype(np.float32) / 255.0).unsqueeze(1)
    x = (x - 0.2860) / 0.3530
    return x, torch.from_numpy(labels.astype(np.int64))
