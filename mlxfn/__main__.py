import sys

from mlxfn.cli import main

sys.exit(main())
