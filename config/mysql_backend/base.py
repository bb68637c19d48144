"""Django's MySQL/MariaDB backend, starting each ``atomic()`` block with ``START TRANSACTION``.

Stock Django opens an outermost ``atomic()`` on MySQL by turning the session's autocommit off
(``SET autocommit=0``), commits, then turns it on again (``SET autocommit=1``): three round trips
of transaction control around every write. With ``START TRANSACTION`` the session's autocommit
stays on, the transaction ends at ``COMMIT``/``ROLLBACK``, and the driver's autocommit switch is
already where Django puts it back (mysqlclient skips the statement when the server reports the
mode unchanged): two round trips. Django starts SQLite's transactions the same way, through the
same hook (``_start_transaction_under_autocommit``), so the savepoints, ``on_commit`` hooks and
``durable`` checks of ``atomic()`` behave exactly as before.

The one difference: a statement that commits implicitly (DDL, ``LOCK TABLES``) inside a block
ends the transaction, and what follows it autocommits where it used to open a new transaction.
MySQL cannot roll DDL back either way; migrations on MySQL run their DDL outside ``atomic()``
(``can_rollback_ddl`` is False), and no code of Tally's runs DDL inside one (the B2 benchmark in
docs/benchmarks.md has the statements per call before and after).
"""

from __future__ import annotations

from django.db.backends.mysql import base


class DatabaseWrapper(base.DatabaseWrapper):
    def _start_transaction_under_autocommit(self) -> None:
        with self.wrap_database_errors, self.connection.cursor() as cursor:
            cursor.execute("START TRANSACTION")
