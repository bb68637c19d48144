"""Django's MySQL/MariaDB backend with one round trip less per transaction (see ``base``)."""
