"""Admin for purchase orders."""
