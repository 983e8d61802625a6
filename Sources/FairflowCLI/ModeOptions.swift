import ArgumentParser
import FairflowCore
import FairflowTemplate

/// generate's mode flags, shared by deploy and diff so the same flags give the same template.
struct ModeOptions: ParsableArguments {
    @Flag(help: "Highly available: Multi-AZ MySQL, ElastiCache with a replica, 2 of each Airflow service.")
    var ha = false

    @Flag(help: "Scale the Celery workers (2..4 tasks) on the work waiting, CPU and memory; protect busy workers from scale-in.")
    var autoscaling = false

    @Flag(name: .customLong("no-bastion"), help: "Leave out the SSM bastion host.")
    var noBastion = false

    @Option(name: .customLong("airflow-version"), help: ArgumentHelp("Airflow release, or 2 / 3 for the newest of that major (\(TemplateGenerator.supportedAirflowVersions.joined(separator: ", "))).", valueName: "version"))
    var airflowVersion: String = TemplateGenerator.defaultAirflowVersion

    @Option(name: .customLong("certificate-arn"), help: ArgumentHelp("ACM certificate: serve HTTPS on 443 and 5555.", valueName: "arn"))
    var certificateArn: String?

    @Option(help: ArgumentHelp("Airflow image to run instead of apache/airflow:<version>.", valueName: "image"))
    var image: String?

    @Option(name: .customLong("ssh-ingress-cidr"), help: ArgumentHelp("Open SSH (tcp/22) on the bastion to this CIDR.", valueName: "cidr"))
    var sshIngressCidr: String?

    @Option(name: .customLong("worker-drain-timeout"), help: ArgumentHelp("Seconds a stopping worker may finish its tasks before it is killed (Fargate: 2 to 120).", valueName: "seconds"))
    var workerDrainTimeout: Int = TemplateOptions.defaultWorkerDrainTimeout

    @Option(name: .customLong("tasks-per-worker"), help: ArgumentHelp("With --autoscaling: the queued + running tasks one worker should carry.", valueName: "n"))
    var tasksPerWorker: Int = TemplateOptions.defaultTasksPerWorker

    var mode: StackMode {
        var m = StackMode()
        m.ha = ha
        m.autoscaling = autoscaling
        m.noBastion = noBastion
        m.airflowVersion = airflowVersion
        m.certificateArn = certificateArn
        m.image = image
        m.sshIngressCidr = sshIngressCidr
        m.workerDrainTimeout = workerDrainTimeout
        m.tasksPerWorker = tasksPerWorker
        return m
    }
}
