import sys

from oairef.cli import main

sys.exit(main())
