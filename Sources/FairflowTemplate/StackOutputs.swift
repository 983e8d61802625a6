/// The long-running pieces of the stack. Their raw values name the ECS service, log group and
/// output keys (`<Component>ServiceName`, `<Component>LogGroup`).
public enum Component: String, CaseIterable, Sendable {
    case apiServer = "ApiServer"        // Airflow 3
    case webserver = "Webserver"        // Airflow 2
    case scheduler = "Scheduler"
    case dagProcessor = "DagProcessor"  // Airflow 3
    case triggerer = "Triggerer"
    case worker = "Worker"
    case flower = "Flower"
    case dagSync = "DagSync"
    case redis = "Redis"                // not HA

    /// The components a stack of this shape runs as ECS services, in template order.
    public static func services(airflowMajor: Int, ha: Bool) -> [Component] {
        var list: [Component] = airflowMajor >= 3 ? [.apiServer, .scheduler, .dagProcessor] : [.webserver, .scheduler]
        list += [.triggerer, .worker, .flower, .dagSync]
        if !ha { list.append(.redis) }
        return list
    }
}

/// Output names of the generated stack; the day-two commands read outputs by these names.
public enum StackOutputs {
    public static let airflowUrl = "AirflowUrl"
    public static let flowerUrl = "FlowerUrl"
    public static let albDnsName = "AlbDnsName"
    public static let airflowVersion = "AirflowVersion"
    public static let mySqlEndpoint = "MySqlEndpoint"
    public static let mySqlPort = "MySqlPort"
    public static let dbSecretArn = "DbSecretArn"
    public static let redisEndpoint = "RedisEndpoint"
    public static let efsFileSystemId = "EfsFileSystemId"
    public static let dagsAccessPointId = "DagsAccessPointId"
    public static let externalAccessPointId = "ExternalAccessPointId"
    public static let bastionInstanceId = "BastionInstanceId"
    public static let clusterName = "ClusterName"
    public static let logsBucketName = "LogsBucketName"
    public static let externalTaskLogGroup = "ExternalTaskLogGroup"
    public static let bigTaskDefinitionFamily = "BigTaskDefinitionFamily"
    public static let littleTaskDefinitionFamily = "LittleTaskDefinitionFamily"
    public static let privateSubnetIds = "PrivateSubnetIds"
    public static let tasksSecurityGroupId = "TasksSecurityGroupId"
    public static let externalTasksSecurityGroupId = "ExternalTasksSecurityGroupId"
    public static let vpcId = "VpcId"

    public static func serviceName(_ c: Component) -> String { "\(c.rawValue)ServiceName" }
    public static func logGroup(_ c: Component) -> String { "\(c.rawValue)LogGroup" }

    /// Every output a stack with these options has, in template order.
    public static func names(for o: TemplateOptions) -> [String] {
        var names = [airflowUrl, flowerUrl, albDnsName, airflowVersion, mySqlEndpoint, mySqlPort, dbSecretArn,
                     redisEndpoint, efsFileSystemId, dagsAccessPointId, externalAccessPointId]
        if o.bastion { names.append(bastionInstanceId) }
        names += [clusterName, logsBucketName, externalTaskLogGroup, bigTaskDefinitionFamily,
                  littleTaskDefinitionFamily, privateSubnetIds, tasksSecurityGroupId, externalTasksSecurityGroupId, vpcId]
        let components = Component.services(airflowMajor: o.airflowMajor, ha: o.ha)
        names += components.map(serviceName)
        names += components.map(logGroup)
        return names
    }
}
