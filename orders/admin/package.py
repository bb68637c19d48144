"""Admin for package orders."""
