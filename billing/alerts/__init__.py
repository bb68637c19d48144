"""Balance runway alerts (issue 20 part 2; docs/notifications.md "Balance and runway alerts")."""
