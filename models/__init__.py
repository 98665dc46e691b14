"""PyTorch models, checkpoints, training and evaluation loops."""
