import Foundation
import HTTPTransport

/// Entry point: detects the API version once and returns the matching client.
public enum AirflowAPI {
    /// `GET /api/v2/version` (Airflow 3), else `GET /api/v1/version` (Airflow 2); neither needs credentials.
    public static func connect(baseURL: URL, user: String, password: String, passwordSource: String = "the password given",
                               http: HTTPClient, retry: AirflowRetryPolicy = .standard) async throws -> any AirflowClient {
        let creds = AirflowCredentials(user: user, password: password, passwordSource: passwordSource)
        let core = RESTCore(baseURL: baseURL, http: http, retry: retry)
        let (version, v2) = try await detect(core)
        if v2 {
            return AirflowV2Client(baseURL: baseURL, credentials: creds, http: http, serverVersion: version, retry: retry)
        }
        return AirflowV1Client(baseURL: baseURL, credentials: creds, http: http, serverVersion: version, retry: retry)
    }

    /// Returns (server version, true for API v2).
    static func detect(_ core: RESTCore) async throws -> (String, Bool) {
        var seen: [String] = []
        for (path, v2) in [("/api/v2/version", true), ("/api/v1/version", false)] {
            let r = try await core.send(HTTPRequest(method: "GET", url: try core.url(path), headers: [("Accept", "application/json")]),
                                        action: "detect the Airflow version")
            if r.status == 200, let v = try? JSONDecoder().decode(WireVersion.self, from: r.body) { return (v.version, v2) }
            seen.append("\(path) → HTTP \(r.status)")
        }
        throw AirflowError.notAirflow(url: core.base, detail: seen.joined(separator: ", "))
    }
}
