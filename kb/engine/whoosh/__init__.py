"""The Whoosh engine: schema, fast segment writer and reader glue."""
