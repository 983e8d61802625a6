"""moto's server in-process, with the project's patches applied first."""
import sys

import authfix
from moto import server

authfix.apply()
server.main(sys.argv[1:])
