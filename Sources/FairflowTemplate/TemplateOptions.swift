import Foundation

/// Everything `fairflow generate` needs: the mode flags and the env-file inputs (seed key names).
public struct TemplateOptions: Equatable, Sendable {
    public enum Format: String, CaseIterable, Sendable { case json, yaml }

    public var stackName: String
    public var ha: Bool
    public var autoscaling: Bool
    public var bastion: Bool
    public var airflowVersion: String
    /// Replaces `apache/airflow:<version>` for every Airflow container.
    public var image: String?
    /// ACM certificate: the ALB then serves HTTPS on 443 (UI) and 5555 (Flower).
    public var certificateArn: String?
    /// Opens tcp/22 on the bastion to this CIDR; none means SSM Session Manager only.
    public var sshIngressCidr: String?
    public var format: Format
    /// The worker container's stop timeout: how long a SIGTERMed worker may finish what it runs (Celery's
    /// warm shutdown) before SIGKILL. Fargate allows 2...120 s; set it from the longest expected task.
    public var workerDrainTimeout: Int
    /// --autoscaling: the queued + running Celery tasks one worker should carry (the queue policy's target).
    public var tasksPerWorker: Int

    // Env-file inputs, named as in the seed's envs/<region>.env.
    public var fernetKeySecretArn: String
    public var adminPasswordSecretArn: String
    public var flowerCredentialsSecretArn: String
    public var dagRepository: String
    public var gitReadOnlySecretArn: String?
    public var ipWhitelist: [String]

    public init(
        stackName: String = "FairflowStack", ha: Bool = false, autoscaling: Bool = false, bastion: Bool = true,
        airflowVersion: String = AirflowVersions.default, image: String? = nil, certificateArn: String? = nil,
        sshIngressCidr: String? = nil, format: Format = .json,
        workerDrainTimeout: Int = TemplateOptions.defaultWorkerDrainTimeout, tasksPerWorker: Int = TemplateOptions.defaultTasksPerWorker,
        fernetKeySecretArn: String, adminPasswordSecretArn: String, flowerCredentialsSecretArn: String,
        dagRepository: String = TemplateOptions.defaultDagRepository, gitReadOnlySecretArn: String? = nil,
        ipWhitelist: [String] = []
    ) {
        self.stackName = stackName; self.ha = ha; self.autoscaling = autoscaling; self.bastion = bastion
        self.airflowVersion = airflowVersion; self.image = image; self.certificateArn = certificateArn
        self.sshIngressCidr = sshIngressCidr; self.format = format
        self.workerDrainTimeout = workerDrainTimeout; self.tasksPerWorker = tasksPerWorker
        self.fernetKeySecretArn = fernetKeySecretArn; self.adminPasswordSecretArn = adminPasswordSecretArn
        self.flowerCredentialsSecretArn = flowerCredentialsSecretArn; self.dagRepository = dagRepository
        self.gitReadOnlySecretArn = gitReadOnlySecretArn; self.ipWhitelist = ipWhitelist
    }

    /// Fargate's most: a worker that is idle stops at once anyway, a busy one gets all the time there is.
    public static let defaultWorkerDrainTimeout = 120
    /// The worker's Celery concurrency (AIRFLOW__CELERY__WORKER_CONCURRENCY): one more worker per full worker.
    public static let defaultTasksPerWorker = 4
    public static let drainTimeoutRange = 2...120

    public static let defaultDagRepository = "https://github.com/bshinnebarger/airflow-example-dags.git"

    /// The env-file keys, exactly as the seed names them.
    public enum EnvKey {
        public static let fernetKeySecretArn = "AIRFLOW_FERNET_KEY_SECRET_ARN"
        public static let adminPasswordSecretArn = "AIRFLOW_ADMIN_PASSWORD_SECRET_ARN"
        public static let flowerCredentialsSecretArn = "AIRFLOW_FLOWER_CREDENTIALS_SECRET_ARN"
        public static let gitReadOnlySecretArn = "GIT_READ_ONLY_SECRET_ARN"
        public static let dagRepository = "DAG_REPOSITORY"
        public static let ipWhitelist = "IP_WHITELIST"
        public static let all = [fernetKeySecretArn, adminPasswordSecretArn, flowerCredentialsSecretArn,
                                 gitReadOnlySecretArn, dagRepository, ipWhitelist]
    }

    /// Fills the env inputs from already-parsed env-file values (the caller reads the file).
    /// Missing required keys become empty strings, which `validate()` then reports by key.
    public static func fromEnv(_ env: [String: String], stackName: String = "FairflowStack") -> TemplateOptions {
        func value(_ k: String) -> String? {
            guard let v = env[k]?.trimmingCharacters(in: .whitespaces), !v.isEmpty else { return nil }
            return v
        }
        let whitelist = (value(EnvKey.ipWhitelist) ?? "").split(separator: ",")
            .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        return TemplateOptions(
            stackName: stackName,
            fernetKeySecretArn: value(EnvKey.fernetKeySecretArn) ?? "",
            adminPasswordSecretArn: value(EnvKey.adminPasswordSecretArn) ?? "",
            flowerCredentialsSecretArn: value(EnvKey.flowerCredentialsSecretArn) ?? "",
            dagRepository: value(EnvKey.dagRepository) ?? defaultDagRepository,
            gitReadOnlySecretArn: value(EnvKey.gitReadOnlySecretArn),
            ipWhitelist: whitelist)
    }

    /// The resolved Airflow release (e.g. "3" → "3.3.2").
    public var resolvedAirflowVersion: String { AirflowVersions.resolve(airflowVersion) ?? airflowVersion }
    public var airflowMajor: Int { Int(resolvedAirflowVersion.prefix(1)) ?? 3 }
    public var airflowImage: String { image ?? "apache/airflow:\(resolvedAirflowVersion)" }

    /// Checks every input; throws the first problem, naming the key and the fix.
    public func validate() throws {
        guard stackName.range(of: "^[A-Za-z][A-Za-z0-9-]{0,127}$", options: .regularExpression) != nil else {
            throw TemplateInputError(key: "--stack", value: stackName,
                problem: "not a CloudFormation stack name",
                fix: "use a letter followed by letters, digits or hyphens (at most 128 characters)")
        }
        try Self.checkSecretArn(fernetKeySecretArn, key: EnvKey.fernetKeySecretArn, secret: "airflow-fernet-key")
        try Self.checkSecretArn(adminPasswordSecretArn, key: EnvKey.adminPasswordSecretArn, secret: "airflow-admin-password")
        try Self.checkSecretArn(flowerCredentialsSecretArn, key: EnvKey.flowerCredentialsSecretArn, secret: "airflow-flower-credentials")
        if let git = gitReadOnlySecretArn {
            try Self.checkSecretArn(git, key: EnvKey.gitReadOnlySecretArn, secret: "airflow-dag-repo-ro-privatekey")
        }
        // file:///path is git's own local transport: a repository the git-sync container can read at that
        // path (the local AWS's demo uses one; on AWS it would have to be on a volume the task mounts).
        guard dagRepository.range(of: #"^(https://|ssh://|git@|file:///)[^\s"'\\]+$"#, options: .regularExpression) != nil else {
            throw TemplateInputError(key: EnvKey.dagRepository, value: dagRepository,
                problem: "not a git URL",
                fix: "use an https://, ssh:// or git@host:path URL (or file:///path for a repository on a mounted volume)")
        }
        if dagRepository.hasPrefix("https://") == false, dagRepository.hasPrefix("file:///") == false, gitReadOnlySecretArn == nil {
            throw TemplateInputError(key: EnvKey.gitReadOnlySecretArn, value: "",
                problem: "an SSH DAG_REPOSITORY needs a deploy key",
                fix: "set GIT_READ_ONLY_SECRET_ARN to the ARN of the secret holding the private key, or use an https:// URL")
        }
        for entry in ipWhitelist where IPv4.cidr(entry) == nil {
            throw TemplateInputError(key: EnvKey.ipWhitelist, value: entry,
                problem: "not an IPv4 address or CIDR",
                fix: "write each entry as 203.0.113.10 or 203.0.113.0/24, comma-separated")
        }
        guard AirflowVersions.resolve(airflowVersion) != nil else {
            throw TemplateInputError(key: "--airflow-version", value: airflowVersion,
                problem: "not a supported Airflow release",
                fix: "use one of \(AirflowVersions.supported.joined(separator: ", ")) (or 2 / 3 for the newest of that major)")
        }
        if let cert = certificateArn,
           cert.range(of: #"^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate/[A-Za-z0-9-]+$"#, options: .regularExpression) == nil {
            throw TemplateInputError(key: "--certificate-arn", value: cert,
                problem: "not an ACM certificate ARN",
                fix: "use arn:aws:acm:<region>:<account>:certificate/<id> from `aws acm list-certificates`")
        }
        if let ssh = sshIngressCidr {
            guard IPv4.cidr(ssh) != nil else {
                throw TemplateInputError(key: "--ssh-ingress-cidr", value: ssh,
                    problem: "not an IPv4 address or CIDR",
                    fix: "write it as 203.0.113.10 or 203.0.113.0/24")
            }
            guard bastion else {
                throw TemplateInputError(key: "--ssh-ingress-cidr", value: ssh,
                    problem: "there is no bastion to open SSH on (--no-bastion)",
                    fix: "drop --no-bastion or drop --ssh-ingress-cidr")
            }
        }
        guard Self.drainTimeoutRange.contains(workerDrainTimeout) else {
            throw TemplateInputError(key: "--worker-drain-timeout", value: String(workerDrainTimeout),
                problem: "Fargate allows a container stop timeout of 2 to 120 seconds",
                fix: "use at most 120 (a task longer than that is killed on scale-in unless its worker is protected: keep --autoscaling's task protection on)")
        }
        guard (1...1000).contains(tasksPerWorker) else {
            throw TemplateInputError(key: "--tasks-per-worker", value: String(tasksPerWorker),
                problem: "the tasks one worker should carry is 1 to 1000",
                fix: "use the worker's concurrency (\(Self.defaultTasksPerWorker)) or a little more")
        }
        if let image, image.isEmpty || image.contains(where: { $0.isWhitespace }) {
            throw TemplateInputError(key: "--image", value: image,
                problem: "not a container image reference",
                fix: "use REPOSITORY[:TAG], e.g. 123456789012.dkr.ecr.us-east-1.amazonaws.com/airflow:3.3.2")
        }
    }

    static func checkSecretArn(_ arn: String, key: String, secret: String) throws {
        if arn.isEmpty {
            throw TemplateInputError(key: key, value: "",
                problem: "missing from the env file",
                fix: "create the secret (e.g. `aws secretsmanager create-secret --name \(secret) ...`) and put \(key)=<its ARN> in the env file")
        }
        // Full ARN: the name ends in the 6-character suffix Secrets Manager adds; IAM grants need it.
        let pattern = #"^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@-]+-[A-Za-z0-9]{6}$"#
        if arn.range(of: pattern, options: .regularExpression) == nil {
            throw TemplateInputError(key: key, value: arn,
                problem: "not a full Secrets Manager secret ARN",
                fix: "use the ARN printed by `aws secretsmanager describe-secret --secret-id \(secret) --query ARN` (it ends in -XXXXXX)")
        }
    }
}

/// The CloudWatch metric the scheduler's queue-metrics sidecar publishes and the workers' queue policy tracks.
public enum WorkerQueueMetric {
    public static let namespace = "Fairflow"
    /// Queued + running Celery task instances.
    public static let backlog = "CeleryBacklog"
    /// The backlog / max(1, running workers).
    public static let backlogPerWorker = "CeleryBacklogPerWorker"
    public static func dimensions(cluster: String, service: String) -> [(String, String)] {
        [("ClusterName", cluster), ("ServiceName", service)]
    }
}

/// One bad input: which key, what is wrong, and how to fix it. The CLI maps it to exit 64.
public struct TemplateInputError: Error, Equatable, CustomStringConvertible, LocalizedError {
    public let key: String
    public let value: String
    public let problem: String
    public let fix: String

    public var description: String {
        let shown = value.isEmpty ? "" : " (\"\(value)\")"
        return "invalid \(key)\(shown): \(problem) — \(fix)"
    }
    public var errorDescription: String? { description }
}

/// The Airflow releases the template knows how to configure (2.10+ have `db migrate`, the
/// `[database]` section and the celery provider's app path; 3.x is the api-server layout).
public enum AirflowVersions {
    public static let supported = [
        "3.3.2", "3.3.1", "3.3.0", "3.2.2", "3.2.1", "3.2.0", "3.1.8", "3.1.7",
        "2.11.2", "2.11.1", "2.11.0", "2.10.5",
    ]
    /// The newest Airflow 3 release.
    public static let `default` = "3.3.2"
    /// The newest Airflow 2 release.
    public static let latestAirflow2 = "2.11.2"

    /// "3" → newest 3.x, "2" → newest 2.x, an exact supported release → itself, else nil.
    public static func resolve(_ v: String) -> String? {
        switch v {
        case "3": return `default`
        case "2": return latestAirflow2
        default: return supported.contains(v) ? v : nil
        }
    }
}

enum IPv4 {
    /// "a.b.c.d" → "a.b.c.d/32", "a.b.c.d/n" → itself; nil when malformed.
    static func cidr(_ s: String) -> String? {
        let parts = s.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 1 || parts.count == 2 else { return nil }
        let octets = parts[0].split(separator: ".", omittingEmptySubsequences: false)
        guard octets.count == 4, octets.allSatisfy({ o in
            !o.isEmpty && o.count <= 3 && o.allSatisfy(\.isASCII) && o.allSatisfy(\.isNumber) && Int(o)! <= 255
        }) else { return nil }
        if parts.count == 1 { return s + "/32" }
        guard let n = Int(parts[1]), parts[1].allSatisfy(\.isNumber), (0...32).contains(n) else { return nil }
        // Clear host bits so EC2 gets the network address (203.0.113.10/24 → 203.0.113.0/24).
        let value = octets.reduce(UInt32(0)) { $0 << 8 | UInt32($1)! }
        let mask: UInt32 = n == 0 ? 0 : ~UInt32(0) << (32 - UInt32(n))
        let net = value & mask
        return "\(net >> 24).\(net >> 16 & 255).\(net >> 8 & 255).\(net & 255)/\(n)"
    }
}
