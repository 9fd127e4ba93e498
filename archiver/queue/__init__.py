"""The job queue: runs as Procrastinate jobs on the catalog's PostgreSQL, for many organisations and machines."""
