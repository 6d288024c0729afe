"""The complexity atlas study (docs/protocols/atlas.md): its table, statistics, figures, words
and report."""
