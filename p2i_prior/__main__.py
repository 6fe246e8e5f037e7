import sys

from p2i_prior.cli import main

sys.exit(main())
