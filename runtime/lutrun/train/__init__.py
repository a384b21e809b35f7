"""Training LUT-networks (needs the ``train`` extra: PyTorch).

Importing this package is cheap; torch is imported when training starts.
"""
from lutrun.train.config import TrainConfig

__all__ = ["TrainConfig"]
