"""Plots and tables read back from run folders."""

from nograd.report.plots import plot_learning_curve

__all__ = ["plot_learning_curve"]
