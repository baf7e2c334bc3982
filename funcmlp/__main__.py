import sys

from funcmlp.cli.app import main

sys.exit(main())
