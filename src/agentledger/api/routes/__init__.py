"""HTTP routes, one module per area; none of them writes SQL."""
