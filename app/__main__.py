"""`python -m app` runs the `longwrite` command line."""

from app.cli import main

main()
