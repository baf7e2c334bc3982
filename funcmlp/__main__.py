import sys

from funcmlp.cli import main

sys.exit(main())
