import AWSCore

public let version = FairflowVersion.current
