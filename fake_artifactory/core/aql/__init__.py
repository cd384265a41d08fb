"""Artifactory Query Language for the ``items`` domain: :mod:`.parser` and :mod:`.evaluate`."""

from fake_artifactory.core.aql.evaluate import (
    AqlItem,
    ItemLike,
    aql_item,
    execute,
    format_timestamp,
    search,
)
from fake_artifactory.core.aql.parser import (
    DEFAULT_FIELDS,
    AqlError,
    AqlQuery,
    failure_message,
    parse,
)

__all__ = [
    "DEFAULT_FIELDS",
    "AqlError",
    "AqlItem",
    "AqlQuery",
    "ItemLike",
    "aql_item",
    "execute",
    "failure_message",
    "format_timestamp",
    "parse",
    "search",
]
