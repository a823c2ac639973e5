import Hummingbird
import Logging
import SniffCore
import SniffStore

/// An error the API shows to clients: a status and a sentence, plus the parameter at
/// fault for 400s. Nothing else (no SQL, no paths, no stack) ever reaches a response.
public struct APIError: Error, Sendable {
    public var status: HTTPResponse.Status
    public var message: String
    public var parameter: String?

    public init(_ status: HTTPResponse.Status, _ message: String, parameter: String? = nil) {
        self.status = status; self.message = message; self.parameter = parameter
    }

    static func badParameter(_ name: String, _ message: String) -> APIError {
        APIError(.badRequest, "invalid \(name): \(message)", parameter: name)
    }

    var response: Response {
        var o = JSONObject()
        o.string("error", message)
        if let parameter { o.string("parameter", parameter) }
        return JSONResponse.make(o.finish(), status: status)
    }
}

enum JSONResponse {
    static func make(_ s: ByteSink, status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status,
                 headers: [.contentType: "application/json; charset=utf-8", .cacheControl: "no-store"],
                 body: .init(byteBuffer: ByteBuffer(bytes: s.bytes)))
    }
}

/// Turns every error into a JSON answer: parameters → 400, unknown routes → 404,
/// database trouble → 503 with a sentence, anything else → 500 "internal error"
/// (the detail goes to the log only).
struct ErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    let logger: Logger

    func handle(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let e as APIError {
            return e.response
        } catch let e as StoreError {
            switch e {
            case .badParameter(let name, let message):
                return APIError.badParameter(name, message).response
            case .unsupported(let message):
                return APIError(.notImplemented, message).response
            default:
                logger.error("store error on \(request.uri.path): \(e.logMessage)")
                return APIError(.serviceUnavailable, "the database did not answer; try again").response
            }
        } catch let e as HTTPError {
            switch e.status {
            case .notFound: return APIError(.notFound, "no such route").response
            case .methodNotAllowed: return APIError(.methodNotAllowed, "method not allowed").response
            default:
                if e.status.code < 500 { return APIError(e.status, e.status.reasonPhrase).response }
                logger.error("HTTP error on \(request.uri.path): \(e)")
                return APIError(.internalServerError, "internal error").response
            }
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            logger.error("unexpected error on \(request.uri.path): \(String(describing: error))")
            return APIError(.internalServerError, "internal error").response
        }
    }
}
