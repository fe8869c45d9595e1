"""The example's verification script."""
