import sys

from flap.cli import main

sys.exit(main())
