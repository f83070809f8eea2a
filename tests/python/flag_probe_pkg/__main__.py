import sys

from flag_probe import main

sys.exit(main())
