"""Archives a public body's social-media pages as exact, verifiable PDF/A bundles.

Data flows register → capture → bundle → store → catalog; `pipeline` runs those steps and the
CLI (and later the scheduler and web page) are thin fronts over it.
"""

__version__ = "0.1.0"
TOOL_NAME = "archiver"
