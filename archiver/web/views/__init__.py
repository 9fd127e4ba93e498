"""The web page's views, one Flask blueprint per area; `archiver.web.app` registers them and guards them all."""
