"""Loss landscapes and optimizer trajectories of the original notebook's MNIST network.

The library behind the course: it reproduces the notebook "Praktikum Deep
Learning - Optimierung Teil 2" exactly, and fast enough for live sliders.
"""

from .data import MNIST, BundledDataWarning, load_mnist
from .landscape import SEED_W_A, SEED_W_B, WATCHED, Landscape, loss_grid
from .network import SEED
from .optimizers import (
    OPTIMIZERS,
    SEED_METHODS,
    Exercise,
    Hyperparameter,
    Optimizer,
    Peer,
    Style,
    adagrad_eps_inside_step,
    adagrad_step,
    adam_epsilon_hat_step,
    adam_step,
    momentum_lr_in_velocity_step,
    momentum_step,
    nesterov_gradient_sum_step,
    nesterov_step,
    register,
    rmsprop_eps_inside_step,
    rmsprop_step,
    sgd_step,
    unregister,
)
from .reproduce import reproduce
from .rulecode import RuleCodeError
from .training import SEED_EPOCHS, SEED_LR, SEED_START, DivergenceError, Trajectory, train

__all__ = [
    "MNIST",
    "OPTIMIZERS",
    "SEED",
    "SEED_EPOCHS",
    "SEED_LR",
    "SEED_METHODS",
    "SEED_START",
    "SEED_W_A",
    "SEED_W_B",
    "WATCHED",
    "BundledDataWarning",
    "DivergenceError",
    "Exercise",
    "Hyperparameter",
    "Landscape",
    "Optimizer",
    "Peer",
    "RuleCodeError",
    "Style",
    "Trajectory",
    "adagrad_eps_inside_step",
    "adagrad_step",
    "adam_epsilon_hat_step",
    "adam_step",
    "load_mnist",
    "loss_grid",
    "momentum_lr_in_velocity_step",
    "momentum_step",
    "nesterov_gradient_sum_step",
    "nesterov_step",
    "register",
    "reproduce",
    "rmsprop_eps_inside_step",
    "rmsprop_step",
    "sgd_step",
    "train",
    "unregister",
]
