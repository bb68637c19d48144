"""Admin for vehicle orders."""
