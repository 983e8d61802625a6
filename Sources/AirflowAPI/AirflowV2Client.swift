import Foundation
import HTTPTransport

/// Airflow 3: `/api/v2`, a bearer token from `POST /auth/token`, renewed before it expires and after a 401.
public final class AirflowV2Client: RESTDialect, @unchecked Sendable {
    public let apiVersion = AirflowAPIVersion.v2
    public let serverVersion: String
    let core: RESTCore
    let credentials: AirflowCredentials
    let prefix = "/api/v2"
    let canRefreshAuth = true
    let activeOnly = ("exclude_stale", "true")
    let runsOrder = "-run_after"
    // v2 refuses a trigger without the key (422); null means "no logical date".
    let triggerExtra: [String: JSONValue] = ["logical_date": .null]
    // v2 answers text/plain with 406; the JSON form is a list of structured events.
    let logAccept = "application/json"
    private let token = TokenBox()

    public init(baseURL: URL, credentials: AirflowCredentials, http: HTTPClient, serverVersion: String = "3",
                retry: AirflowRetryPolicy = .standard) {
        self.core = RESTCore(baseURL: baseURL, http: http, retry: retry)
        self.credentials = credentials
        self.serverVersion = serverVersion
    }

    /// How many times this client logged in (tests check that the token is reused and renewed).
    public var logins: Int { get async { await token.logins } }

    func authorize(_ request: inout HTTPRequest, fresh: Bool) async throws {
        let t = try await token.get(fresh: fresh) { try await self.login() }
        request.setHeader("Authorization", "Bearer \(t)")
    }

    private func login() async throws -> String {
        let action = "log in to Airflow"
        var req = HTTPRequest(method: "POST", url: try core.url("/auth/token"))
        req.setHeader("Content-Type", "application/json")
        req.setHeader("Accept", "application/json")
        req.body = RESTCore.jsonBody(["username": .string(credentials.user), "password": .string(credentials.password)])
        let r = try await core.send(req, action: action)
        switch r.status {
        case 200, 201:
            struct Token: Decodable { let access_token: String }
            return try RESTCore.decode(Token.self, r, action: action).access_token
        case 401, 403:
            throw AirflowError.authFailed(url: core.base, user: credentials.user, passwordSource: credentials.passwordSource,
                                          detail: RESTCore.detail(of: r))
        case 404:
            throw AirflowError.notAirflow(url: core.base, detail: "POST /auth/token answered 404 (no token endpoint)")
        default:
            throw AirflowError.rejected(action: action, status: r.status, detail: RESTCore.detail(of: r))
        }
    }

    func authError(_ response: HTTPResponse, action: String) async -> AirflowError {
        let detail = RESTCore.detail(of: response)
        if response.status == 403 && detail != "Invalid JWT token" {
            return .permissionDenied(url: core.base, user: credentials.user,
                                     action: action.prefix(1).uppercased() + action.dropFirst())
        }
        return .authFailed(url: core.base, user: credentials.user, passwordSource: credentials.passwordSource, detail: detail)
    }

    func logText(_ response: HTTPResponse, action: String) throws -> String {
        struct Log: Decodable { let content: [JSONValue] }
        let log = try RESTCore.decode(Log.self, response, action: action)
        return log.content.map { e -> String in
            let event = e["event"]?.stringValue ?? e.description
            guard let ts = e["timestamp"]?.stringValue else { return event }
            let level = (e["level"]?.stringValue ?? "info").uppercased()
            var line = "[\(ts)] \(level) - \(event)"
            if let err = e["error_detail"], err != .null { line += "\n" + err.description }
            return line
        }.joined(separator: "\n") + "\n"
    }
}

/// Holds the bearer token; logs in when there is none, when it is about to expire, or when asked to.
actor TokenBox {
    private var token: String?
    private var expiry: Date?
    private(set) var logins = 0

    func get(fresh: Bool, login: @Sendable () async throws -> String) async throws -> String {
        if !fresh, let t = token, (expiry.map { $0.timeIntervalSinceNow > 60 } ?? true) { return t }
        let t = try await login()
        logins += 1
        token = t
        expiry = Self.expiry(ofJWT: t)
        return t
    }

    /// The `exp` claim of a JWT, if it has one; the token stays opaque otherwise.
    static func expiry(ofJWT jwt: String) -> Date? {
        let parts = jwt.split(separator: ".")
        guard parts.count == 3 else { return nil }
        var b64 = parts[1].replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while b64.count % 4 != 0 { b64 += "=" }
        guard let data = Data(base64Encoded: b64),
              let claims = try? JSONDecoder().decode(JSONValue.self, from: data),
              case .number(let exp)? = claims["exp"] else { return nil }
        return Date(timeIntervalSince1970: exp)
    }
}
