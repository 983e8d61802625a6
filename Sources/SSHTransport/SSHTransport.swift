// SSHTransport: see Package.swift for its place in the dependency order.
import CSSH2
import CShims
