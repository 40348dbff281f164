"""``python -m router`` runs the ``thinkroute`` command line."""

from router.cli import main

main()
