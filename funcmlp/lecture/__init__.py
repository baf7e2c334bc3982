"""The lecture's side topics: the perceptron, the collapse of stacked linear layers, backprop by the chain
rule written out by hand, and gradient diagnostics for vanishing and exploding gradients."""

from funcmlp.lecture import chain_rule, diagnostics, linear, perceptron

__all__ = ["chain_rule", "diagnostics", "linear", "perceptron"]
