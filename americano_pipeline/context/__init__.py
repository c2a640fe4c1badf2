"""Wearable and self-report context imports into ``context_metadata``.

Every importer (an Apple Health export, the Oura and WHOOP APIs) turns its vendor's records into
``records.WearableDay`` values, one per user, source and calendar day of the user; ``store`` writes them
idempotently, keyed by (user, source, day), so a re-import or an overlapping sync changes nothing and a re-scored day
replaces its own row. docs/CONTEXT.md describes the rows, the day rules of each vendor and the checks.
"""
