import Foundation
import HTTPTransport

/// Airflow 2: `/api/v1`, HTTP basic auth on every request.
public final class AirflowV1Client: RESTDialect, @unchecked Sendable {
    public let apiVersion = AirflowAPIVersion.v1
    public let serverVersion: String
    let core: RESTCore
    let credentials: AirflowCredentials
    let prefix = "/api/v1"
    let canRefreshAuth = false
    let activeOnly = ("only_active", "true")
    let runsOrder = "-execution_date"
    let triggerExtra: [String: JSONValue] = [:]
    // v1's JSON log is a Python repr string; the text form is the log itself.
    let logAccept = "text/plain"

    public init(baseURL: URL, credentials: AirflowCredentials, http: HTTPClient, serverVersion: String = "2",
                retry: AirflowRetryPolicy = .standard) {
        self.core = RESTCore(baseURL: baseURL, http: http, retry: retry)
        self.credentials = credentials
        self.serverVersion = serverVersion
    }

    func authorize(_ request: inout HTTPRequest, fresh: Bool) async throws {
        let token = Data("\(credentials.user):\(credentials.password)".utf8).base64EncodedString()
        request.setHeader("Authorization", "Basic \(token)")
    }

    /// Airflow 2 answers bad credentials and missing permissions alike (403, or 401 without a public role).
    /// A read every user may do tells the two apart.
    func authError(_ response: HTTPResponse, action: String) async -> AirflowError {
        var probe = HTTPRequest(method: "GET", url: (try? core.url(prefix + "/dags", [("limit", "1")])) ?? URL(string: core.base)!)
        try? await authorize(&probe, fresh: false)
        if let r = try? await core.send(probe, action: action), r.status == 200 {
            return .permissionDenied(url: core.base, user: credentials.user, action: action.prefix(1).uppercased() + action.dropFirst())
        }
        return .authFailed(url: core.base, user: credentials.user, passwordSource: credentials.passwordSource,
                           detail: "HTTP \(response.status) to basic auth")
    }

    func logText(_ response: HTTPResponse, action: String) throws -> String { response.text }
}
