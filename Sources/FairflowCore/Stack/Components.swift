/// The user's word for a stack resource ("scheduler", "database", "network"), from its logical id.
public enum StackComponent {
    static let prefixes: [(String, String)] = [
        ("ApiServer", "api-server"), ("Webserver", "webserver"), ("UiTargetGroup", "api-server"), ("UiListener", "alb"),
        ("Scheduler", "scheduler"), ("DagProcessor", "dag-processor"), ("Triggerer", "triggerer"), ("Worker", "worker"),
        ("FlowerTargetGroup", "flower"), ("FlowerListener", "alb"), ("Flower", "flower"), ("DagSync", "dag-sync"),
        ("Migrat", "db-migrate"), ("Redis", "redis"), ("ServiceDiscovery", "redis"),
        ("Database", "database"), ("Db", "database"), ("FileSystem", "efs"), ("MountTarget", "efs"),
        ("DagsAccessPoint", "efs"), ("ExternalAccessPoint", "efs"), ("Efs", "efs"), ("Bastion", "bastion"),
        ("LoadBalancer", "alb"), ("Alb", "alb"), ("Vpc", "network"), ("PublicSubnet", "network"), ("PrivateSubnet", "network"),
        ("Nat", "network"), ("PublicRoute", "network"), ("PrivateRoute", "network"), ("PublicDefault", "network"),
        ("PrivateDefault", "network"), ("InternetGateway", "network"), ("LogsBucket", "logs"), ("Cluster", "cluster"),
        ("External", "external-tasks"), ("BigTask", "external-tasks"), ("LittleTask", "external-tasks"),
        ("ExecutionRole", "iam"), ("AirflowTaskRole", "iam"), ("AirflowSecretKey", "secrets"), ("Tasks", "network"),
        ("StackKey", "kms"), ("FairflowStack", "stack"),
    ]

    public static func of(_ logicalId: String) -> String {
        prefixes.first { logicalId.hasPrefix($0.0) }?.1 ?? "other"
    }
}
