// The defaults of each operation's flags, as JSON over the Input's field names: a runbook step's
// `with:` may leave these out and gets what the command would use. Required fields (a DAG id, a
// count) are not listed, so a step that leaves them out is still an error.
private let ssh = #""ssh":{"bastionPort":22,"sshUser":"ec2-user","acceptNewHostKey":false,"timeoutSeconds":15}"#
private let db = #""db":{"dbPort":3306,"dbName":"airflow","dbPasswordEnv":"FAIRFLOW_DB_PASSWORD","requireTLS":false}"#

extension SecretsInit: DefaultedInputs { public static let inputDefaults = #"{"flowerUser":"admin","rotate":[]}"# }
extension Scale: DefaultedInputs { public static let inputDefaults = #"{"wait":true,"timeoutSeconds":600}"# }
extension ScaleAuto: DefaultedInputs { public static let inputDefaults = #"{"component":"worker"}"# }
extension LogsTail: DefaultedInputs {
    public static let inputDefaults = #"{"components":[],"since":"10m","follow":false,"previous":false,"pollSeconds":1,"maxPollSeconds":10}"#
}
extension TasksRun: DefaultedInputs { public static let inputDefaults = #"{"wait":false,"timeoutSeconds":3600,"pollSeconds":3}"# }
extension DbCheck: DefaultedInputs {
    public static let inputDefaults = #"{\#(ssh),\#(db),"stuckQueuedAfter":1800,"stuckRunningAfter":43200,"schedulerHeartbeatMaxAge":300}"#
}
extension DbTunnel: DefaultedInputs { public static let inputDefaults = #"{\#(ssh),\#(db),"localPort":0,"showPassword":false}"# }
extension EfsLs: DefaultedInputs {
    public static let inputDefaults = #"{"path":"","accessPoint":"dags","recursive":false,"via":"ssm",\#(ssh),"timeoutSeconds":120}"#
}
extension FlowerWorkers: DefaultedInputs { public static let inputDefaults = #"{"flower":{}}"# }
extension FlowerTasks: DefaultedInputs { public static let inputDefaults = #"{"flower":{},"limit":50}"# }
extension DagsList: DefaultedInputs { public static let inputDefaults = #"{"airflow":{}}"# }
extension DagsErrors: DefaultedInputs { public static let inputDefaults = #"{"airflow":{}}"# }
extension DagsTrigger: DefaultedInputs {
    public static let inputDefaults = #"{"airflow":{},"conf":{},"unpause":false,"wait":false,"pollInterval":0.5}"#
}
extension DagsRuns: DefaultedInputs { public static let inputDefaults = #"{"airflow":{},"limit":10}"# }
extension DagsState: DefaultedInputs { public static let inputDefaults = #"{"airflow":{}}"# }
extension DagsLogs: DefaultedInputs { public static let inputDefaults = #"{"airflow":{}}"# }
extension DagsPause: DefaultedInputs { public static let inputDefaults = #"{"airflow":{}}"# }
extension DagsUnpause: DefaultedInputs { public static let inputDefaults = #"{"airflow":{}}"# }
extension DagsClear: DefaultedInputs { public static let inputDefaults = #"{"airflow":{},"failedOnly":false}"# }
extension Status: DefaultedInputs { public static let inputDefaults = #"{"watch":false,"timeoutSeconds":600,"intervalSeconds":10}"# }
extension Timeline: DefaultedInputs { public static let inputDefaults = #"{"since":"2h","directory":"."}"# }
