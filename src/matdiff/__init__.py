"""matdiff: matrix calculus and automatic differentiation."""
