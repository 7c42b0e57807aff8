"""`python -m flows.migrate`: the schema command where users have always found it (it lives in store.migrate)."""

import sys

from store.migrate import main

if __name__ == "__main__":
    sys.exit(main())
