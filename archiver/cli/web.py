"""`archiver serve` and `archiver users add`: the web page and its accounts (being built)."""
