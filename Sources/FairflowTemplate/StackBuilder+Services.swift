import Foundation

extension StackBuilder {
    // MARK: ECS cluster and logs

    func cluster() {
        add("Cluster", "AWS::ECS::Cluster", [
            ("ClusterSettings", [["Name": "containerInsights", "Value": "enabled"]]),
            ("Tags", tags()),
        ])
    }

    func logGroups() {
        for c in components { logGroup(logGroupId(c)) }
        logGroup("ExternalTaskLogGroup")
    }

    func logGroup(_ id: String) {
        add(id, "AWS::Logs::LogGroup", [
            ("RetentionInDays", .int(Sizing.logRetentionDays)),
            ("KmsKeyId", CFN.getAtt("StackKey", "Arn")),
            ("Tags", tags()),
        ], deletion: "Retain")
    }

    // MARK: IAM

    func trust(_ service: String) -> Node {
        ["Version": "2012-10-17", "Statement": [[
            "Effect": "Allow", "Principal": ["Service": .string(service)], "Action": "sts:AssumeRole",
        ]]]
    }

    func ecsTrust() -> Node {
        ["Version": "2012-10-17", "Statement": [[
            "Effect": "Allow", "Principal": ["Service": "ecs-tasks.amazonaws.com"], "Action": "sts:AssumeRole",
            "Condition": ["ArnLike": ["aws:SourceArn": arn("ecs", "*")], "StringEquals": ["aws:SourceAccount": CFN.ref("AWS::AccountId")]],
        ]]]
    }

    func policy(_ name: String, _ statements: [Node]) -> Node {
        ["PolicyName": .string(name), "PolicyDocument": ["Version": "2012-10-17", "Statement": .array(statements)]]
    }

    var userSecretArns: [Node] {
        var arns: [Node] = [.string(o.fernetKeySecretArn), .string(o.adminPasswordSecretArn), .string(o.flowerCredentialsSecretArn)]
        if let git = o.gitReadOnlySecretArn { arns.append(.string(git)) }
        return arns
    }

    func efsStatement(_ accessPoint: String) -> Node {
        [
            "Sid": "MountThroughAccessPoint", "Effect": "Allow",
            "Action": ["elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite"],
            "Resource": efsArn,
            "Condition": ["StringEquals": ["elasticfilesystem:AccessPointArn": accessPointArn(accessPoint)]],
        ]
    }

    func roles() {
        // Used by the ECS agent only: pull images, write the component log groups, read the injected secrets.
        add("ExecutionRole", "AWS::IAM::Role", [
            ("AssumeRolePolicyDocument", ecsTrust()),
            ("Policies", [policy("execution", [
                ["Sid": "Logs", "Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                 "Resource": .array(components.map { CFN.sub("${\(logGroupId($0)).Arn}:*") })],
                ["Sid": "InjectedSecrets", "Effect": "Allow", "Action": "secretsmanager:GetSecretValue",
                 "Resource": .array(userSecretArns + [CFN.ref("DbSecret"), CFN.ref("AirflowSecretKey")])],
                ["Sid": "DecryptGeneratedSecrets", "Effect": "Allow", "Action": "kms:Decrypt",
                 "Resource": CFN.getAtt("StackKey", "Arn"),
                 "Condition": ["StringEquals": ["kms:ViaService": CFN.sub("secretsmanager.${AWS::Region}.amazonaws.com")]]],
            ])]),
            ("Tags", tags()),
        ])
        // What Airflow itself does: S3 task logs, EFS through its access point, and the ECS operator.
        add("AirflowTaskRole", "AWS::IAM::Role", [
            ("AssumeRolePolicyDocument", ecsTrust()),
            ("Policies", [policy("airflow", [
                efsStatement("DagsAccessPoint"),
                ["Sid": "TaskLogsObjects", "Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
                 "Resource": CFN.sub("${LogsBucket.Arn}/*")],
                ["Sid": "TaskLogsList", "Effect": "Allow", "Action": "s3:ListBucket", "Resource": CFN.getAtt("LogsBucket", "Arn")],
                ["Sid": "RunExternalTasks", "Effect": "Allow", "Action": "ecs:RunTask",
                 "Resource": [arn("ecs", "task-definition/BigGuys-${AWS::StackName}:*"), arn("ecs", "task-definition/LittleGuys-${AWS::StackName}:*")],
                 "Condition": ["ArnEquals": ["ecs:cluster": CFN.getAtt("Cluster", "Arn")]]],
                ["Sid": "WatchExternalTasks", "Effect": "Allow", "Action": ["ecs:DescribeTasks", "ecs:StopTask"],
                 "Resource": arn("ecs", "task/${Cluster}/*")],
                ["Sid": "DescribeTaskDefinitions", "Effect": "Allow", "Action": "ecs:DescribeTaskDefinition", "Resource": "*"],
                ["Sid": "PassExternalTaskRoles", "Effect": "Allow", "Action": "iam:PassRole",
                 "Resource": [CFN.getAtt("ExternalExecutionRole", "Arn"), CFN.getAtt("ExternalTaskRole", "Arn")],
                 "Condition": ["StringEquals": ["iam:PassedToService": "ecs-tasks.amazonaws.com"]]],
                ["Sid": "ReadExternalTaskLogs", "Effect": "Allow", "Action": ["logs:GetLogEvents", "logs:FilterLogEvents", "logs:DescribeLogStreams"],
                 "Resource": CFN.sub("${ExternalTaskLogGroup.Arn}:*")],
            ] + workerScalingStatements)]),
            ("Tags", tags()),
        ])
        add("DagSyncTaskRole", "AWS::IAM::Role", [
            ("AssumeRolePolicyDocument", ecsTrust()),
            ("Policies", [policy("dag-sync", [efsStatement("DagsAccessPoint")])]),
            ("Tags", tags()),
        ])
        add("ExternalExecutionRole", "AWS::IAM::Role", [
            ("AssumeRolePolicyDocument", ecsTrust()),
            ("Policies", [policy("external-execution", [
                ["Sid": "Logs", "Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                 "Resource": CFN.sub("${ExternalTaskLogGroup.Arn}:*")],
                ["Sid": "PullPrivateImages", "Effect": "Allow",
                 "Action": ["ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage"],
                 "Resource": arn("ecr", "repository/*")],
                ["Sid": "EcrToken", "Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": "*"],
            ])]),
            ("Tags", tags()),
        ])
        add("ExternalTaskRole", "AWS::IAM::Role", [
            ("AssumeRolePolicyDocument", ecsTrust()),
            ("Policies", [policy("external", [efsStatement("ExternalAccessPoint")])]),
            ("Tags", tags()),
        ])
    }

    /// --autoscaling: the scheduler's queue-metrics sidecar publishes the backlog (PutMetricData, reading the
    /// worker service's running count), the workers' task-protection sidecar protects a busy worker (the agent
    /// acts with the task role). Resources by pattern: naming WorkerService here would be a cycle (its task
    /// definition uses this role).
    var workerScalingStatements: [Node] {
        guard o.autoscaling else { return [] }
        return [
            ["Sid": "PublishQueueMetrics", "Effect": "Allow", "Action": "cloudwatch:PutMetricData", "Resource": "*",
             "Condition": ["StringEquals": ["cloudwatch:namespace": .string(Self.metricsNamespace)]]],
            ["Sid": "CountWorkers", "Effect": "Allow", "Action": "ecs:DescribeServices", "Resource": arn("ecs", "service/${Cluster}/*")],
            ["Sid": "ProtectBusyWorkers", "Effect": "Allow", "Action": ["ecs:UpdateTaskProtection", "ecs:GetTaskProtection"],
             "Resource": arn("ecs", "task/${Cluster}/*")],
        ]
    }

    // MARK: task definitions and services

    func logConfig(_ group: String, prefix: String) -> Node {
        ["LogDriver": "awslogs", "Options": [
            "awslogs-group": CFN.ref(group), "awslogs-region": CFN.ref("AWS::Region"), "awslogs-stream-prefix": .string(prefix),
        ]]
    }

    func keyValues(_ pairs: [(String, Node)]) -> Node {
        .array(pairs.map { ["Name": .string($0.0), "Value": $0.1] })
    }

    /// The seed's environment, under the names current Airflow reads.
    var airflowEnvironment: [(String, Node)] {
        var env: [(String, Node)] = [
            ("AIRFLOW__CORE__EXECUTOR", "CeleryExecutor"),
            ("AIRFLOW__DATABASE__SQL_ENGINE_COLLATION_FOR_IDS", "utf8mb3_bin"),
            ("AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION", "true"),
            ("AIRFLOW__CORE__PARALLELISM", "16"),
            ("AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG", "4"),
            ("AIRFLOW__CORE__MAX_ACTIVE_RUNS_PER_DAG", "1"),
            ("AIRFLOW__DATABASE__LOAD_DEFAULT_CONNECTIONS", "false"),
            ("AIRFLOW__CORE__DAGS_FOLDER", .string(Sizing.dagsFolder)),
            ("AIRFLOW__CORE__LOAD_EXAMPLES", "true"),
            ("AIRFLOW__CELERY__BROKER_URL", brokerUrl),
            ("AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__VISIBILITY_TIMEOUT", "1800"),
            ("AIRFLOW__CELERY__WORKER_CONCURRENCY", "4"),
            ("AIRFLOW__LOGGING__REMOTE_LOGGING", "true"),
            ("AIRFLOW__LOGGING__REMOTE_BASE_LOG_FOLDER", CFN.sub("s3://${LogsBucket}/logs")),
            ("AIRFLOW__LOGGING__REMOTE_LOG_CONN_ID", "aws_default"),
            ("AIRFLOW__LOGGING__ENCRYPT_S3_LOGS", "false"),
            ("AIRFLOW__SCHEDULER__CATCHUP_BY_DEFAULT", "false"),
        ]
        if a3 {
            env += [
                ("AIRFLOW__CORE__AUTH_MANAGER", "airflow.providers.fab.auth_manager.fab_auth_manager.FabAuthManager"),
                ("AIRFLOW__CORE__EXECUTION_API_SERVER_URL", CFN.sub("http://api-server.${AWS::StackName}.fairflow.internal:8080/execution/")),
            ]
        } else {
            env += [
                ("AIRFLOW__API__AUTH_BACKENDS", "airflow.api.auth.backend.basic_auth,airflow.api.auth.backend.session"),
                ("AIRFLOW__WEBSERVER__DAG_DEFAULT_VIEW", "graph"),
            ]
        }
        env += [
            ("AIRFLOW_CONN_AWS_DEFAULT", "aws://"),
            ("AWS_DEFAULT_REGION", CFN.ref("AWS::Region")),
            ("DAG_REPOSITORY", .string(o.dagRepository)),
            ("RDS_SECRET_ARN", CFN.ref("DbSecret")),
            // Not DB_HOST/DB_PORT: the official image's entrypoint reads those as the host and port of its
            // broker check, so every Celery component would probe the database instead of Redis.
            ("METADATA_DB_HOST", CFN.getAtt("Database", "Endpoint.Address")),
            ("METADATA_DB_PORT", CFN.getAtt("Database", "Endpoint.Port")),
            ("DB_NAME", "airflow"),
            ("REDIS_HOST", redisHost),
            ("CLUSTER", CFN.ref("Cluster")),
            ("SECURITY_GROUP", CFN.getAtt("ExternalTasksSecurityGroup", "GroupId")),
            ("SUBNETS", CFN.join(",", [CFN.ref("PrivateSubnet1"), CFN.ref("PrivateSubnet2")])),
            // What a DAG needs to run the external tasks (EcsRunTaskOperator): their families and log group.
            ("BIG_TASK_FAMILY", CFN.sub("BigGuys-${AWS::StackName}")),
            ("LITTLE_TASK_FAMILY", CFN.sub("LittleGuys-${AWS::StackName}")),
            ("EXTERNAL_TASK_LOG_GROUP", CFN.ref("ExternalTaskLogGroup")),
        ]
        return env
    }

    var airflowSecrets: [(String, Node)] {
        var s: [(String, Node)] = [
            ("AIRFLOW__CORE__FERNET_KEY", .string(o.fernetKeySecretArn)),
            ("DB_USER", CFN.sub("${DbSecret}:username::")),
            ("DB_PASSWORD", CFN.sub("${DbSecret}:password::")),
        ]
        if a3 {
            s += [("AIRFLOW__API__SECRET_KEY", CFN.ref("AirflowSecretKey")), ("AIRFLOW__API_AUTH__JWT_SECRET", CFN.ref("AirflowSecretKey"))]
        } else {
            s += [("AIRFLOW__WEBSERVER__SECRET_KEY", CFN.ref("AirflowSecretKey"))]
        }
        return s
    }

    /// Builds the DB URIs from the injected credentials (the password stays out of the template).
    static let databaseExports = """
        export AIRFLOW__DATABASE__SQL_ALCHEMY_CONN="mysql+mysqldb://${DB_USER}:${DB_PASSWORD}@${METADATA_DB_HOST}:${METADATA_DB_PORT}/${DB_NAME}"; \
        export AIRFLOW__CELERY__RESULT_BACKEND="db+${AIRFLOW__DATABASE__SQL_ALCHEMY_CONN}";
        """
    /// Then hands over to the official image's entrypoint.
    static let entrypointScript = databaseExports + "\nexec /entrypoint \"$@\""

    /// Health checks run outside the entrypoint, so commands that read Airflow's config get the same exports.
    static func withDatabase(_ command: String) -> String { databaseExports + " " + command }

    func airflowContainer(_ name: String, command: [String], logGroup: String, port: Int? = nil,
                          health: String? = nil, essential: Bool = true, waitFor: String? = nil,
                          extraEnv: [(String, Node)] = [], extraSecrets: [(String, Node)] = [],
                          databaseOnly: Bool = false, stopTimeout: Int? = nil) -> Node {
        var c: [(String, Node)] = [
            ("Name", .string(name)),
            ("Image", .string(o.airflowImage)),
            ("Essential", .bool(essential)),
            ("EntryPoint", .array(["/usr/bin/dumb-init", "--", "/bin/bash", "-c", .string(Self.entrypointScript), "fairflow-entrypoint"])),
            ("Command", .array(command.map { .string($0) })),
        ]
        if let port { c.append(("PortMappings", [["ContainerPort": .int(port), "Protocol": "tcp"]])) }
        // A container that only talks to the database gets only the database's settings and credentials.
        let dbKeys: Set<String> = ["AIRFLOW__DATABASE__SQL_ENGINE_COLLATION_FOR_IDS", "METADATA_DB_HOST", "METADATA_DB_PORT", "DB_NAME", "DB_USER", "DB_PASSWORD"]
        let env = databaseOnly ? airflowEnvironment.filter { dbKeys.contains($0.0) } : airflowEnvironment
        let secrets = databaseOnly ? airflowSecrets.filter { dbKeys.contains($0.0) } : airflowSecrets
        c.append(("Environment", keyValues(env + extraEnv)))
        c.append(("Secrets", .array((secrets + extraSecrets).map { ["Name": .string($0.0), "ValueFrom": $0.1] })))
        if !databaseOnly {
            c.append(("MountPoints", [["SourceVolume": "dags", "ContainerPath": .string(Sizing.dagsPath), "ReadOnly": false]]))
        }
        if let health {
            c.append(("HealthCheck", [
                "Command": ["CMD-SHELL", .string(health)], "Interval": 30, "Timeout": 20, "Retries": 5, "StartPeriod": 180,
            ]))
        }
        if let waitFor { c.append(("DependsOn", [["ContainerName": .string(waitFor), "Condition": "SUCCESS"]])) }
        if let stopTimeout { c.append(("StopTimeout", .int(stopTimeout))) }
        c.append(("LogConfiguration", logConfig(logGroup, prefix: name)))
        return .object(c)
    }

    /// A small Python loop in the Airflow image (it has boto3, celery, redis and MySQLdb), outside the
    /// image's entrypoint: not essential, so its failure never stops the task it watches.
    func sidecar(_ name: String, script: String, logGroup: String, env: [(String, Node)], secrets: [(String, Node)] = []) -> Node {
        var c: [(String, Node)] = [
            ("Name", .string(name)), ("Image", .string(o.airflowImage)), ("Essential", false),
            ("EntryPoint", ["/usr/bin/dumb-init", "--", "python", "-c", .string(script)]),
            ("Environment", keyValues(env + [("AWS_DEFAULT_REGION", CFN.ref("AWS::Region"))])),
        ]
        if !secrets.isEmpty { c.append(("Secrets", .array(secrets.map { ["Name": .string($0.0), "ValueFrom": $0.1] }))) }
        c += [("StopTimeout", 5), ("LogConfiguration", logConfig(logGroup, prefix: name))]
        return .object(c)
    }

    static let metricsNamespace = WorkerQueueMetric.namespace
    static let backlogPerWorkerMetric = WorkerQueueMetric.backlogPerWorker

    /// The metric's dimensions, as the sidecar publishes them and the queue policy reads them.
    var workerMetricDimensions: [(String, Node)] {
        [("ClusterName", CFN.ref("Cluster")), ("ServiceName", CFN.getAtt("WorkerService", "Name"))]
    }

    /// The work waiting for the workers: task instances queued (sent to Celery, in Redis or prefetched by a
    /// worker) plus running, from the metadata DB (Redis alone misses what a worker prefetched, and
    /// counting both would count a task twice). Per worker = backlog / max(1, running workers): AWS's
    /// "backlog per instance"; at 0 workers it is the whole backlog, so a DAG triggered then gets a worker.
    static let queueMetricsScript = #"""
    import os, time
    import boto3, MySQLdb
    cluster, service = os.environ["CLUSTER"], os.environ["WORKER_SERVICE"]
    period = int(os.environ.get("METRICS_PERIOD", "30"))
    dims = [{"Name": "ClusterName", "Value": cluster}, {"Name": "ServiceName", "Value": service}]
    ecs, cw = boto3.client("ecs"), boto3.client("cloudwatch")
    while True:
        try:
            db = MySQLdb.connect(host=os.environ["METADATA_DB_HOST"], port=int(os.environ["METADATA_DB_PORT"]),
                                 user=os.environ["DB_USER"], passwd=os.environ["DB_PASSWORD"], db=os.environ["DB_NAME"])
            try:
                cur = db.cursor()
                cur.execute("SELECT state, COUNT(*) FROM task_instance WHERE state IN ('queued', 'running') GROUP BY state")
                counts = {state: int(n) for state, n in cur.fetchall()}
            finally:
                db.close()
            queued, running = counts.get("queued", 0), counts.get("running", 0)
            workers = ecs.describe_services(cluster=cluster, services=[service])["services"][0]["runningCount"]
            backlog = queued + running
            cw.put_metric_data(Namespace=os.environ["METRICS_NAMESPACE"], MetricData=[
                {"MetricName": "CeleryBacklog", "Dimensions": dims, "Value": backlog, "Unit": "Count"},
                {"MetricName": "CeleryBacklogPerWorker", "Dimensions": dims, "Value": backlog / max(1, workers), "Unit": "Count"},
            ])
            print(f"backlog {backlog} (queued {queued}, running {running}), workers {workers}", flush=True)
        except Exception as e:
            print(f"queue-metrics: {type(e).__name__}: {e}", flush=True)
        time.sleep(period)
    """#

    /// Protects this worker from scale-in while Celery says it has tasks (active or prefetched), renewing
    /// before the protection expires, and releases it when idle. If the worker cannot be asked, nothing
    /// changes: a stale protection expires by itself (PROTECTION_MINUTES).
    static let taskProtectionScript = #"""
    import json, os, socket, time, urllib.request
    from celery import Celery
    app = Celery(broker=os.environ["AIRFLOW__CELERY__BROKER_URL"])
    node = "celery@" + socket.gethostname()
    url = os.environ["ECS_AGENT_URI"] + "/task-protection/v1/state"
    minutes, period = int(os.environ.get("PROTECTION_MINUTES", "5")), int(os.environ.get("PROTECTION_PERIOD", "30"))
    protected, renewed = False, 0.0
    def protect(on):
        body = {"ProtectionEnabled": on, **({"ExpiresInMinutes": minutes} if on else {})}
        req = urllib.request.Request(url, data=json.dumps(body).encode(), method="PUT", headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as r:
            answer = json.load(r)
        if "failure" in answer:
            raise RuntimeError(answer["failure"])
    while True:
        try:
            ask = app.control.inspect(destination=[node], timeout=5)
            active, reserved = ask.active(), ask.reserved()
            if active is None or reserved is None:
                raise RuntimeError(f"{node} did not answer")
            busy = [t.get("id") for t in active.get(node, []) + reserved.get(node, [])]
            if busy and (not protected or time.time() - renewed > 30 * minutes):
                protect(True)
                protected, renewed = True, time.time()
                print(f"protected for {minutes} min: {len(busy)} tasks {busy}", flush=True)
            elif not busy and protected:
                protect(False)
                protected = False
                print("idle: protection released", flush=True)
        except Exception as e:
            print(f"task-protection: {type(e).__name__}: {e}", flush=True)
        time.sleep(period)
    """#

    func efsVolume(_ name: String, accessPoint: String) -> Node {
        ["Name": .string(name), "EFSVolumeConfiguration": [
            "FilesystemId": CFN.ref("FileSystem"), "TransitEncryption": "ENABLED",
            "AuthorizationConfig": ["AccessPointId": CFN.ref(accessPoint), "IAM": "ENABLED"],
        ]]
    }

    func taskDefinition(_ id: String, family: Node? = nil, cpu: Int, memory: Int, taskRole: String?, executionRole: String,
                        containers: [Node], volumes: [Node]) {
        var p: [(String, Node)] = []
        if let family { p.append(("Family", family)) }
        p += [
            ("RequiresCompatibilities", ["FARGATE"]), ("NetworkMode", "awsvpc"),
            ("Cpu", .string(String(cpu))), ("Memory", .string(String(memory))),
            ("RuntimePlatform", ["OperatingSystemFamily": "LINUX", "CpuArchitecture": "X86_64"]),
            ("ExecutionRoleArn", CFN.getAtt(executionRole, "Arn")),
        ]
        if let taskRole { p.append(("TaskRoleArn", CFN.getAtt(taskRole, "Arn"))) }
        p.append(("ContainerDefinitions", .array(containers)))
        if !volumes.isEmpty { p.append(("Volumes", .array(volumes))) }
        p.append(("Tags", tags()))
        add(id, "AWS::ECS::TaskDefinition", p)
    }

    func desiredCount(_ c: Component) -> Int {
        switch c {
        case .flower, .dagSync, .redis: return 1
        default: return o.ha ? 2 : 1
        }
    }

    func service(_ c: Component, taskDefinition: String, loadBalancer: (String, String, Int)? = nil,
                 registry: String? = nil, dependsOn: [String]) {
        var p: [(String, Node)] = [
            ("Cluster", CFN.ref("Cluster")),
            ("TaskDefinition", CFN.ref(taskDefinition)),
            ("LaunchType", "FARGATE"), ("PlatformVersion", "LATEST"),
            ("DesiredCount", .int(desiredCount(c))),
            // The breaker's failure threshold is not settable: ECS's API (botocore 1.43: DeploymentCircuitBreaker
            // has only enable and rollback) and so CloudFormation take none; `deploy`'s stall detector fails faster.
            ("DeploymentConfiguration", [
                "DeploymentCircuitBreaker": ["Enable": true, "Rollback": true],
                "MaximumPercent": 200, "MinimumHealthyPercent": c == .redis || c == .dagSync ? 0 : 100,
            ]),
            ("NetworkConfiguration", ["AwsvpcConfiguration": [
                "AssignPublicIp": "DISABLED",
                "SecurityGroups": [CFN.getAtt(c == .redis ? "RedisSecurityGroup" : "TasksSecurityGroup", "GroupId")],
                "Subnets": privateSubnets,
            ]]),
        ]
        if let (tg, container, port) = loadBalancer {
            p.append(("LoadBalancers", [["TargetGroupArn": CFN.ref(tg), "ContainerName": .string(container), "ContainerPort": .int(port)]]))
            // Covers the container's 180 s start period plus the ALB's 2 × 10 s to call it healthy.
            p.append(("HealthCheckGracePeriodSeconds", 300))
        }
        if let registry { p.append(("ServiceRegistries", [["RegistryArn": CFN.getAtt(registry, "Arn")]])) }
        p += [("EnableECSManagedTags", true), ("PropagateTags", "SERVICE"), ("Tags", tags(c.rawValue.lowercased()))]
        add("\(c.rawValue)Service", "AWS::ECS::Service", p, dependsOn: dependsOn)
    }

    func taskDefinitionsAndServices() {
        let dagsVolume = efsVolume("dags", accessPoint: "DagsAccessPoint")
        let network = ["PrivateDefaultRoute1", "PrivateDefaultRoute2"]
        let mounts = ["MountTarget1", "MountTarget2"]
        let wait = "wait-for-migrations"
        func waitContainer(_ c: Component) -> Node {
            airflowContainer(wait, command: ["db", "check-migrations", "--migration-wait-timeout", .init(Sizing.migrationWaitSeconds)],
                             logGroup: logGroupId(c), essential: false, databaseOnly: true)
        }
        for c in components {
            let td = "\(c.rawValue)TaskDefinition"
            let lg = logGroupId(c)
            switch c {
            case .apiServer, .webserver:
                // The migration gates the rollout: the UI container starts only if the schema is at the
                // release's head afterwards (the entrypoint runs `airflow db migrate || true`, so its own exit
                // status says nothing), and a failed task trips the circuit breaker, which rolls back.
                let migrate = airflowContainer("db-migrate", command: ["db", "check-migrations", "--migration-wait-timeout", "60"],
                    logGroup: lg, essential: false,
                    extraEnv: [("_AIRFLOW_DB_MIGRATE", "true"), ("_AIRFLOW_WWW_USER_CREATE", "true"),
                               ("_AIRFLOW_WWW_USER_USERNAME", "admin"), ("_AIRFLOW_WWW_USER_FIRSTNAME", "Airflow"),
                               ("_AIRFLOW_WWW_USER_LASTNAME", "Admin"), ("_AIRFLOW_WWW_USER_EMAIL", "admin@example.com"),
                               ("_AIRFLOW_WWW_USER_ROLE", "Admin")],
                    extraSecrets: [("_AIRFLOW_WWW_USER_PASSWORD", .string(o.adminPasswordSecretArn))])
                let name = a3 ? "api-server" : "webserver"
                let health = a3 ? "curl --fail --silent http://localhost:8080/api/v2/monitor/health" : "curl --fail --silent http://localhost:8080/health"
                let main = airflowContainer(name, command: [name], logGroup: lg, port: 8080, health: health, waitFor: "db-migrate")
                taskDefinition(td, cpu: 1024, memory: 2048, taskRole: "AirflowTaskRole", executionRole: "ExecutionRole",
                               containers: [migrate, main], volumes: [dagsVolume])
                service(c, taskDefinition: td, loadBalancer: ("UiTargetGroup", name, 8080),
                        registry: a3 ? "ApiServerDiscoveryService" : nil, dependsOn: ["UiListener"] + mounts + network)
            case .scheduler, .triggerer, .dagProcessor:
                let (name, job): (String, String) = c == .scheduler ? ("scheduler", "SchedulerJob")
                    : c == .triggerer ? ("triggerer", "TriggererJob") : ("dag-processor", "DagProcessorJob")
                let main = airflowContainer(name, command: [name], logGroup: lg,
                    health: Self.withDatabase("airflow jobs check --job-type \(job) --local"), waitFor: wait)
                // The publisher runs beside the scheduler, which always runs: the metric exists at 0 workers.
                let metrics = c == .scheduler && o.autoscaling ? [sidecar("queue-metrics", script: Self.queueMetricsScript, logGroup: lg,
                    env: [("CLUSTER", CFN.ref("Cluster")), ("WORKER_SERVICE", CFN.getAtt("WorkerService", "Name")),
                          ("METRICS_NAMESPACE", .string(Self.metricsNamespace)),
                          ("METADATA_DB_HOST", CFN.getAtt("Database", "Endpoint.Address")),
                          ("METADATA_DB_PORT", CFN.getAtt("Database", "Endpoint.Port")), ("DB_NAME", "airflow")],
                    secrets: [("DB_USER", CFN.sub("${DbSecret}:username::")), ("DB_PASSWORD", CFN.sub("${DbSecret}:password::"))])] : []
                taskDefinition(td, cpu: c == .scheduler ? 1024 : 512, memory: c == .scheduler ? 2048 : 1024,
                               taskRole: "AirflowTaskRole", executionRole: "ExecutionRole",
                               containers: [waitContainer(c)] + metrics + [main], volumes: [dagsVolume])
                service(c, taskDefinition: td, dependsOn: mounts + network)
            case .worker:
                let main = airflowContainer("worker", command: ["celery", "worker"], logGroup: lg, port: 8793,
                    health: Self.withDatabase("celery --app airflow.providers.celery.executors.celery_executor.app inspect ping -d \"celery@$(hostname)\""),
                    waitFor: wait, stopTimeout: o.workerDrainTimeout)
                // SIGTERM reaches Celery (dumb-init forwards it, bash and /entrypoint exec) as a warm shutdown:
                // it stops consuming and finishes its tasks within the stop timeout.
                let protection = o.autoscaling ? [sidecar("task-protection", script: Self.taskProtectionScript, logGroup: lg,
                    env: [("AIRFLOW__CELERY__BROKER_URL", brokerUrl)])] : []
                taskDefinition(td, cpu: 1024, memory: 8192, taskRole: "AirflowTaskRole", executionRole: "ExecutionRole",
                               containers: [waitContainer(c)] + protection + [main], volumes: [dagsVolume])
                service(c, taskDefinition: td, dependsOn: mounts + network)
            case .flower:
                let main = airflowContainer("flower", command: ["celery", "flower"], logGroup: lg, port: 5555,
                    health: "curl --fail --silent http://localhost:5555/healthcheck",
                    extraSecrets: [("AIRFLOW__CELERY__FLOWER_BASIC_AUTH", .string(o.flowerCredentialsSecretArn))])
                taskDefinition(td, cpu: 512, memory: 1024, taskRole: "AirflowTaskRole", executionRole: "ExecutionRole",
                               containers: [main], volumes: [dagsVolume])
                service(c, taskDefinition: td, loadBalancer: ("FlowerTargetGroup", "flower", 5555), dependsOn: ["FlowerListener"] + mounts + network)
            case .dagSync:
                taskDefinition(td, cpu: 256, memory: 512, taskRole: "DagSyncTaskRole", executionRole: "ExecutionRole",
                               containers: [gitSyncContainer(lg)], volumes: [dagsVolume])
                service(c, taskDefinition: td, dependsOn: mounts + network)
            case .redis:
                let main: Node = [
                    "Name": "redis", "Image": .string(Images.redis), "Essential": true,
                    "Command": ["redis-server", "--save", "", "--appendonly", "no"],
                    "PortMappings": [["ContainerPort": 6379, "Protocol": "tcp"]],
                    "ReadonlyRootFilesystem": true,
                    "HealthCheck": ["Command": ["CMD", "redis-cli", "ping"], "Interval": 10, "Timeout": 5, "Retries": 5, "StartPeriod": 30],
                    "LogConfiguration": logConfig(lg, prefix: "redis"),
                ]
                taskDefinition(td, cpu: 256, memory: 512, taskRole: nil, executionRole: "ExecutionRole", containers: [main], volumes: [])
                service(c, taskDefinition: td, registry: "RedisDiscoveryService", dependsOn: network)
            }
        }
        externalTasks()
    }

    func gitSyncContainer(_ logGroup: String) -> Node {
        var env: [(String, Node)] = [
            ("GITSYNC_REPO", .string(o.dagRepository)), ("GITSYNC_REF", "HEAD"), ("GITSYNC_ROOT", .string(Sizing.dagsPath)),
            ("GITSYNC_LINK", "repo"), ("GITSYNC_PERIOD", "60s"), ("GITSYNC_DEPTH", "1"),
        ]
        var c: [(String, Node)] = [("Name", "git-sync"), ("Image", .string(Images.gitSync)), ("Essential", true)]
        var secrets: [Node] = []
        if let key = o.gitReadOnlySecretArn {
            // git-sync reads the deploy key from a file; Fargate injects it as an env var, so write it first.
            env += [("GITSYNC_SSH_KEY_FILE", "/tmp/git-ssh-key"), ("GITSYNC_SSH_KNOWN_HOSTS", "false")]
            c.append(("EntryPoint", ["/bin/sh", "-c", "umask 077 && printf '%s\\n' \"$GIT_SSH_PRIVATE_KEY\" > /tmp/git-ssh-key && unset GIT_SSH_PRIVATE_KEY && exec /git-sync"]))
            secrets.append(["Name": "GIT_SSH_PRIVATE_KEY", "ValueFrom": .string(key)])
        }
        c.append(("Environment", keyValues(env)))
        if !secrets.isEmpty { c.append(("Secrets", .array(secrets))) }
        c += [
            ("MountPoints", [["SourceVolume": "dags", "ContainerPath": .string(Sizing.dagsPath), "ReadOnly": false]]),
            ("LogConfiguration", logConfig(logGroup, prefix: "git-sync")),
        ]
        return .object(c)
    }

    func externalTasks() {
        let volume = efsVolume("fairflow-external", accessPoint: "ExternalAccessPoint")
        for (id, family, container, cpu, mem) in [("BigTaskDefinition", "BigGuys", "BigTaskContainer", 1024, 2048),
                                                  ("LittleTaskDefinition", "LittleGuys", "LittleTaskContainer", 256, 512)] {
            let c: Node = [
                "Name": .string(container), "Image": .string(Images.externalTask), "Essential": true,
                "MountPoints": [["SourceVolume": "fairflow-external", "ContainerPath": .string(Sizing.externalPath), "ReadOnly": false]],
                "LogConfiguration": logConfig("ExternalTaskLogGroup", prefix: "FairflowExternalTask"),
            ]
            taskDefinition(id, family: CFN.sub("\(family)-${AWS::StackName}"), cpu: cpu, memory: mem, taskRole: "ExternalTaskRole",
                           executionRole: "ExternalExecutionRole", containers: [c], volumes: [volume])
        }
    }
}
