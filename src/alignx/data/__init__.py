"""AlignX records: import of released files and benchmarks, and the record gates every record source passes."""
