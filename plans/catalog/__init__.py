"""The catalog document (docs/plans.md "Import is all-or-nothing"): validate, import, export.

An import is all-or-nothing: the whole document is validated first (shape, then against the
database) and every problem is reported with its JSON path (``plans[2].prices[0].price``); only a
valid document is applied, in one transaction. Export produces the same format, so exporting and
importing again changes nothing.

Modules, in the order an import runs: ``fields`` (one field's shape) and ``parse`` (the whole
document, no database), ``checks`` (against the database), ``apply`` (the writes), ``importer``
(the transaction and its retry); ``export`` writes the format back; ``document`` is the parsed data.
"""

from plans.catalog.document import CatalogDocument, ImportReport
from plans.catalog.export import catalog_export
from plans.catalog.importer import catalog_import
from plans.catalog.parse import parse_document

__all__ = ["CatalogDocument", "ImportReport", "catalog_export", "catalog_import", "parse_document"]
