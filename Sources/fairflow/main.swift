@main struct FairflowMain { static func main() async { } }
