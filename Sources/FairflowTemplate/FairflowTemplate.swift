// FairflowTemplate: see Package.swift for its place in the dependency order.
