"""convtop for PyTorch: `convtop.Monitor(model, optimizer, ...)` makes a training loop a convtop
run that `convtop attach`, `ls`, `replay`, `compare` and `export` read, and whose knobs (lr, λ,
momentum, pause, stop, save, roll back) turn from the dashboard, on every DDP rank."""

from ._core import __version__
from .monitor import Monitor

__all__ = ["Monitor", "__version__"]
